import { randomBytes } from "node:crypto";
import { mkdir, rmdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labLayout } from "../../lab/netns/layout.js";
import { downFromState, NetnsLab } from "../../lab/netns/netns-lab.js";
import { cgroupRoots, listLinks, netnsNames, tryRun } from "../../lab/netns/sys.js";
import { seedLabSpec } from "../../lab/seed-spec.js";
import { labOk, labTitle } from "./lab-helpers.js";

const LAB = "t-coexist";
const r = randomBytes(2).toString("hex");
const USER_NS = `usertest-${r}`;
const USER_BR = `usrbr${r}`;
const USER_VETH = `usrv${r}`;
const USER_RULE = ["FORWARD", "-i", USER_BR, "-o", USER_BR, "-j", "ACCEPT"];
// why: another lab's cgroup under the shared /crosshost parent must survive this lab's teardown
const OTHER_CGROUP = `/crosshost/other-${r}`;

async function must(argv: string[]): Promise<void> {
  const res = await tryRun(argv);
  if (res.code !== 0) throw new Error(`${argv.join(" ")}: ${res.stderr}`);
}

describe.runIf(labOk).sequential(labTitle("netns lab: leaves the user's own netns, bridges, docker0 and rules alone"), () => {
  const netnsLab = new NetnsLab();
  let createdDocker0 = false;
  const cgroupDirs: string[] = [];

  beforeAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB));
    await must(["ip", "netns", "add", USER_NS]);
    await must(["ip", "link", "add", USER_BR, "type", "bridge"]);
    await must(["ip", "link", "add", USER_VETH, "type", "veth", "peer", "name", `${USER_VETH}p`]);
    await must(["ip", "link", "set", USER_VETH, "master", USER_BR]);
    await must(["iptables", "-w", "-I", ...USER_RULE]);
    // why: a dockerd started with --bridge=none deletes an existing docker0 (lab-notes 4b); ours must not
    if (!(await listLinks()).some((l) => l.ifname === "docker0")) {
      await must(["ip", "link", "add", "docker0", "type", "bridge"]);
      createdDocker0 = true;
    }
    for (const root of await cgroupRoots()) {
      const dir = `${root}${OTHER_CGROUP}`;
      if (await mkdir(dir, { recursive: true }).then(() => true, () => false)) cgroupDirs.push(dir);
    }
  }, 60_000);

  afterAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB));
    await tryRun(["iptables", "-w", "-D", ...USER_RULE]);
    await tryRun(["ip", "link", "del", USER_VETH]);
    await tryRun(["ip", "link", "del", USER_BR]);
    await tryRun(["ip", "netns", "del", USER_NS]);
    if (createdDocker0) await tryRun(["ip", "link", "del", "docker0"]);
    for (const dir of cgroupDirs) await rmdir(dir).catch(() => undefined);
    for (const root of await cgroupRoots()) await rmdir(`${root}/crosshost`).catch(() => undefined);
  }, 60_000);

  it("up then down: every pre-existing user resource is still there, unchanged", async () => {
    const before = new Map((await listLinks()).map((l) => [l.ifname, l]));
    const lab = await netnsLab.up(seedLabSpec(LAB));
    expect((await lab.status()).hosts.every((h) => h.engine.running)).toBe(true);
    await lab.down();

    const after = new Map((await listLinks()).map((l) => [l.ifname, l]));
    for (const name of [USER_BR, USER_VETH, `${USER_VETH}p`, "docker0", "eth0"]) {
      expect(after.get(name), name).toBeDefined();
      expect(after.get(name)?.flags, name).toEqual(before.get(name)?.flags);
      expect(after.get(name)?.master, name).toEqual(before.get(name)?.master);
    }
    expect(await netnsNames()).toContain(USER_NS);
    expect((await tryRun(["iptables", "-w", "-C", ...USER_RULE])).code).toBe(0);
    for (const dir of cgroupDirs) expect((await tryRun(["test", "-d", dir])).code, dir).toBe(0);
  }, 90_000);

  it("refuses to adopt a name that is already taken, and removes nothing of it", async () => {
    const layoutBridge = labLayout(seedLabSpec(LAB), netnsLab.root).segments[0]?.bridge ?? "";
    await must(["ip", "link", "add", layoutBridge, "type", "bridge"]);
    try {
      await expect(netnsLab.up(seedLabSpec(LAB))).rejects.toThrow(/already exist/);
      expect((await listLinks()).some((l) => l.ifname === layoutBridge)).toBe(true);
      expect((await netnsLab.status(LAB)).exists).toBe(false);
    } finally {
      await tryRun(["ip", "link", "del", layoutBridge]);
    }
  }, 90_000);
});
