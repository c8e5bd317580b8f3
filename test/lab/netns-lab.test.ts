import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBusyboxImage, importImage, importImageEverywhere, BUSYBOX_IMAGE } from "../../lab/images.js";
import { downFromState, NetnsLab, type StartedNetnsLab } from "../../lab/netns/netns-lab.js";
import { readLabState, type LabState } from "../../lab/netns/state.js";
import { listLinks, tryRun } from "../../lab/netns/sys.js";
import { seedLabSpec } from "../../lab/seed-spec.js";
import { detection, eventually, labOk, labTitle, leftovers, ok, ping } from "./lab-helpers.js";

const LAB = "t-main";
const ADDR: Record<string, string> = { "consul-server-1": "192.168.1.71", "consul-server-2": "192.168.1.72", "consul-client-1": "192.168.1.73" };

const pingCap = detection?.caps.ping;

// why: the DF-ping checks need iputils ping (`-M do`); busybox ping has no such option
describe.runIf(labOk && pingCap?.ok === true).sequential(labTitle("netns lab: seed topology, engines, faults", { name: "ping", cap: pingCap }), () => {
  const netnsLab = new NetnsLab();
  let lab: StartedNetnsLab;
  let state: LabState;

  beforeAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB)); // why: a previous run that died must not block this one
    lab = await netnsLab.up(seedLabSpec(LAB));
    state = await readLabState(lab.stateFile);
  }, 120_000);

  afterAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB));
  }, 60_000);

  it("gives each host its own hostname, in the shell and in its engine", async () => {
    for (const host of lab.hosts) {
      const t = lab.transport(host);
      expect(await ok(t, ["hostname"])).toBe(host);
      expect(await ok(t, ["docker", "info", "--format", "{{.Name}}"])).toBe(host);
    }
  });

  it("lays out NICs as specified, with no default route, and a switch without an address", async () => {
    for (const host of lab.hosts) {
      const t = lab.transport(host);
      const [nic] = JSON.parse(await ok(t, ["ip", "-j", "addr", "show", "dev", "ens34"])) as {
        mtu: number;
        addr_info: { family: string; local: string; prefixlen: number }[];
      }[];
      expect(nic?.mtu).toBe(1500);
      expect(nic?.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${ADDR[host]}/24`]);
      expect(await ok(t, ["ip", "route", "show", "default"])).toBe("");
    }
    const bridge = lab.layout.segments[0]?.bridge ?? "";
    const [br] = JSON.parse((await tryRun(["ip", "-j", "addr", "show", "dev", bridge])).stdout) as { mtu: number; addr_info: unknown[] }[];
    expect(br?.mtu).toBe(1500);
    expect(br?.addr_info).toEqual([]);
    const ports = (await listLinks()).filter((l) => l.master === bridge).map((l) => l.ifname).sort();
    expect(ports).toEqual(lab.layout.hosts.map((h) => h.nics[0]?.rootVeth).sort());
  });

  it("pings across ens34 from every host to every other", async () => {
    for (const from of lab.hosts) {
      for (const to of lab.hosts) {
        if (from !== to) expect(await ping(lab.transport(from), ADDR[to] ?? ""), `${from} -> ${to}`).toBe(true);
      }
    }
  });

  it("reaches each host's own dockerd through its NetnsTransport (three distinct engines)", async () => {
    const ids = new Set<string>();
    for (const host of lab.hosts) {
      const t = lab.transport(host);
      expect(await ok(t, ["docker", "version", "--format", "{{.Server.Version}}"])).toMatch(/^\d+\.\d+/);
      ids.add(await ok(t, ["docker", "info", "--format", "{{.ID}}"]));
    }
    expect(ids.size).toBe(3);
  });

  it("imports the busybox image everywhere and serves httpd across hosts", async () => {
    const image = await buildBusyboxImage();
    await importImageEverywhere(lab, image);
    expect(await importImage(lab, "consul-server-1", image)).toBe(false); // same content hash: skipped
    expect(await importImage(lab, "consul-server-1", image.tar, "crosshost/busybox:from-tar")).toBe(true);
    expect(await ok(lab.transport("consul-server-1"), ["docker", "run", "--rm", "crosshost/busybox:from-tar", "cat", "/var/www/index.html"])).toContain("crosshost");
    for (const host of lab.hosts) {
      const t = lab.transport(host);
      expect(await ok(t, ["docker", "image", "inspect", BUSYBOX_IMAGE, "--format", '{{index .Config.Labels "crosshost.image"}}'])).toBe("true");
      await ok(t, ["docker", "run", "-d", "--name", "web", "-p", "8080:80", BUSYBOX_IMAGE, "httpd", "-f", "-p", "80", "-h", "/var/www"]);
    }
    // why: fetched from another host over the lab switch, through the engine's port publishing;
    // polled because `docker run -d` returns before httpd listens
    const fetchPage = (): Promise<string> =>
      lab.transport("consul-client-1").exec(["busybox", "wget", "-q", "-O", "-", "http://192.168.1.71:8080/"], { timeoutMs: 3_000 }).then((r) => r.stdout);
    expect(await eventually(async () => (await fetchPage()).includes("crosshost busybox httpd"), 10_000)).toBe(true);
  }, 60_000);

  it("setSegmentMtu(1400): a 1450-byte DF ping is dropped, a small one passes; 1500 restores it", async () => {
    const t = lab.transport("consul-server-1");
    expect(await ping(t, "192.168.1.72", { df: true, size: 1450 })).toBe(true);
    await lab.setSegmentMtu("lan", 1400);
    const status = await lab.status();
    expect(status.segments[0]?.mtu).toBe(1400);
    expect(await ping(t, "192.168.1.72", { df: true, size: 1450 })).toBe(false);
    expect(await ping(t, "192.168.1.72", { df: true, size: 1300 })).toBe(true);
    await lab.setSegmentMtu("lan", 1500);
    expect(await ping(t, "192.168.1.72", { df: true, size: 1450 })).toBe(true);
  });

  it("cutHost takes a host off the switch; restoreHost plugs it back", async () => {
    const t = lab.transport("consul-server-1");
    await lab.cutHost("consul-server-2");
    expect((await lab.status()).hosts.find((h) => h.name === "consul-server-2")?.cut).toBe(true);
    expect(await ping(t, "192.168.1.72")).toBe(false);
    expect(await ping(t, "192.168.1.73")).toBe(true);
    await lab.restoreHost("consul-server-2");
    expect(await ping(t, "192.168.1.72", { count: 3 })).toBe(true);
  });

  it("blockPort drops one host's traffic to a port on another; unblockPort lifts it", async () => {
    const url = "http://192.168.1.71:8080/";
    // why: no `wget -T`: Debian 12's busybox 1.35 wget segfaults with it; the transport timeout (124) bounds it
    const get = (host: string): Promise<number> =>
      lab.transport(host).exec(["busybox", "wget", "-q", "-O", "/dev/null", url], { timeoutMs: 3_000 }).then((r) => r.code);
    await lab.blockPort("consul-server-2", "consul-server-1", "tcp", 8080);
    expect(await get("consul-server-2")).not.toBe(0);
    expect(await get("consul-client-1")).toBe(0);
    await lab.unblockPort("consul-server-2", "consul-server-1", "tcp", 8080);
    expect(await get("consul-server-2")).toBe(0);
    expect((await readLabState(lab.stateFile)).rules.filter((r) => r.netns !== undefined)).toEqual([]);
  }, 30_000);

  it("stopEngine crashes a host's engine and its containers; startEngine brings it back with its data", async () => {
    const t = lab.transport("consul-server-2");
    await lab.stopEngine("consul-server-2", { signal: "SIGKILL" });
    expect((await t.exec(["docker", "version"], { timeoutMs: 10_000 })).code).not.toBe(0);
    expect((await lab.status()).hosts.find((h) => h.name === "consul-server-2")?.engine.running).toBe(false);
    await lab.startEngine("consul-server-2");
    expect(await ok(t, ["docker", "ps", "-a", "--format", "{{.Names}}"])).toBe("web");
    expect((await lab.status()).hosts.find((h) => h.name === "consul-server-2")?.engine.running).toBe(true);
  }, 60_000);

  it("down removes everything it recorded, fast, and is idempotent", async () => {
    const before = await readLabState(lab.stateFile);
    expect(before.enginePids["consul-server-2"]?.length).toBe(2);
    const t0 = Date.now();
    const report = await lab.down();
    const ms = Date.now() - t0;
    expect(report.found).toBe(true);
    expect(ms).toBeLessThan(5_000);
    expect(await leftovers(before)).toEqual([]);
    expect(await leftovers(state)).toEqual([]);
    expect((await netnsLab.status(LAB)).exists).toBe(false);
    expect((await lab.down()).found).toBe(false);
  }, 30_000);
});
