import { mkdir, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConsulImage, CONSUL_IMAGE, importImageEverywhere } from "../../lab/images.js";
import { downFromState, NetnsLab, type StartedNetnsLab } from "../../lab/netns/netns-lab.js";
import { seedLabSpec } from "../../lab/seed-spec.js";
import { detection, eventually, labOk, labTitle, ok } from "./lab-helpers.js";

const LAB = "t-consul";
const ports = { dns: 8600, http: 8500, serf_lan: 8301, serf_wan: 8302, server: 8300 };
// The seed's three agent configs; only data_dir differs (the seed's /opt/consul/data is not its volume).
const CONFIGS: Record<string, Record<string, unknown>> = {
  "consul-server-1": {
    datacenter: "dc1", data_dir: "/consul/data", log_level: "INFO", node_name: "consul-server-1", server: true,
    bootstrap_expect: 2, bind_addr: "0.0.0.0", client_addr: "0.0.0.0", advertise_addr: "192.168.1.71", ui: true, enable_syslog: false, ports,
  },
  "consul-server-2": {
    datacenter: "dc1", data_dir: "/consul/data", log_level: "INFO", node_name: "consul-server-2", server: true,
    bind_addr: "0.0.0.0", client_addr: "0.0.0.0", advertise_addr: "192.168.1.72", ui: true, retry_join: ["192.168.1.71"], ports,
  },
  "consul-client-1": {
    datacenter: "dc1", data_dir: "/consul/data", log_level: "INFO", node_name: "consul-client-1", server: false,
    bind_addr: "0.0.0.0", client_addr: "0.0.0.0", advertise_addr: "192.168.1.73", ui: false, retry_join: ["192.168.1.71", "192.168.1.72"],
    ports: { dns: 8600, http: 8500, serf_lan: 8301, server: 8300 },
  },
};

const consulCap = detection?.caps.consul;

describe.runIf(labOk && consulCap?.ok === true).sequential(labTitle("netns lab: real Consul 1.8.7, the seed's three agents", { name: "consul", cap: consulCap }), () => {
  const netnsLab = new NetnsLab();
  let lab: StartedNetnsLab;

  beforeAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB));
    const [started, image] = await Promise.all([netnsLab.up(seedLabSpec(LAB)), buildConsulImage()]);
    lab = started;
    await importImageEverywhere(lab, image);
  }, 300_000);

  afterAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB));
  }, 60_000);

  const http = async (from: string, url: string): Promise<string> => {
    const r = await lab.transport(from).exec(["busybox", "wget", "-q", "-O", "-", url], { timeoutMs: 3_000 });
    return r.code === 0 ? r.stdout.trim() : "";
  };
  const aliveMembers = async (): Promise<number> => {
    const body = await http("consul-client-1", "http://127.0.0.1:8500/v1/agent/members");
    return body ? (JSON.parse(body) as { Status: number }[]).filter((m) => m.Status === 1).length : 0;
  };

  it("elects consul-server-1 as leader with 3 members alive, asked from inside a lab host", async () => {
    const run = async (host: string): Promise<void> => {
      const dir = `${lab.layout.hosts.find((h) => h.name === host)?.dir ?? ""}/consul-config`;
      await mkdir(dir, { recursive: true });
      await writeFile(`${dir}/agent.json`, JSON.stringify(CONFIGS[host], null, 2));
      await ok(lab.transport(host), ["docker", "run", "-d", "--net=host", "--name", host, "-v", `${dir}:/consul/config`, CONSUL_IMAGE, "consul", "agent", "-config-dir=/consul/config"]);
    };
    const t0 = Date.now();
    // the seed's order: server-1 first; the others' first retry_join then finds it listening
    await run("consul-server-1");
    expect(await eventually(async () => (await http("consul-server-1", "http://127.0.0.1:8500/v1/status/leader")) !== "", 15_000)).toBe(true);
    await Promise.all([run("consul-server-2"), run("consul-client-1")]);

    const leaderUp = await eventually(async () => (await http("consul-client-1", "http://192.168.1.71:8500/v1/status/leader")) === '"192.168.1.71:8300"', 20_000);
    const leaderMs = Date.now() - t0;
    if (!(await eventually(async () => (await aliveMembers()) === 3, 5_000))) {
      // why: retry_join waits 30 s between attempts; a driver joins explicitly instead (lab-notes 6)
      for (const h of ["consul-server-2", "consul-client-1"]) await lab.transport(h).exec(["docker", "exec", h, "consul", "join", "192.168.1.71"]);
    }
    expect(leaderUp).toBe(true);
    expect(await eventually(async () => (await aliveMembers()) === 3, 10_000)).toBe(true);
    const peers = JSON.parse(await http("consul-server-2", "http://192.168.1.71:8500/v1/status/peers")) as string[];
    expect(peers.sort()).toEqual(["192.168.1.71:8300", "192.168.1.72:8300"]);
    console.log(`consul leader after ${leaderMs} ms, all members alive after ${Date.now() - t0} ms`);
  }, 60_000);

  it("the agents run the imported 1.8.7 image, labelled as ours", async () => {
    const t = lab.transport("consul-client-1");
    expect(await ok(t, ["docker", "exec", "consul-client-1", "consul", "version"])).toMatch(/^Consul v1\.8\.7/);
    expect(await ok(t, ["docker", "image", "inspect", CONSUL_IMAGE, "--format", '{{index .Config.Labels "crosshost.image"}}'])).toBe("true");
  });
});
