// Prediction against reality: each scenario, and faults driven for real, applied to a real namespace lab
// (real dockerd, Swarm, VXLAN, macvlan, Consul 1.8.7) and compared with the simulator observation by
// observation. Zero disagreements is the bar.
import { describe, expect, it } from "vitest";
import { parseFault } from "../../src/model/faults.js";
import type { Fault, Plan } from "../../src/model/plan.js";
import { runInLab, type LabRunReport } from "../../lab/session.js";
import { planFrom } from "../helpers/sim.js";
import { labOk, labTitle } from "./lab-helpers.js";
import { dindOk, dindTitle } from "./dind/dind-helpers.js";
import type { LabBackend } from "../../lab/lab.js";

const faults = (plan: Plan, texts: string[]): Fault[] =>
  texts.flatMap((t) => parseFault(t, [], plan.segments.map((s) => s.name)).map((r) => {
    if (!r.ok) throw new Error(r.message);
    return r.fault;
  }));

function explain(r: LabRunReport): string {
  return [
    r.error ? `error: ${r.error}` : "",
    ...r.results.filter((x) => x.status === "failed").map((x) => `failed step ${x.id}: ${x.message}`),
    ...r.differences.map((d) => `${d.what}: predicted ${d.predicted}, observed ${d.actual}`),
  ].filter(Boolean).join("\n");
}

async function agree(backend: LabBackend, scenario: string, faultTexts: string[] = []): Promise<LabRunReport> {
  const plan = planFrom(scenario);
  const r = await runInLab(plan, { backend, faults: faults(plan, faultTexts), name: `t-${plan.name}`.slice(0, 20).replace(/-+$/, "") });
  expect(r.backend).toBe(backend);
  expect(r.error, explain(r)).toBeUndefined();
  expect(r.results.filter((x) => x.status === "failed").map((x) => `${x.id}: ${x.message}`)).toEqual([]);
  expect(r.differences, explain(r)).toEqual([]);
  return r;
}

const backends: { backend: LabBackend; ok: boolean; title: string }[] = [
  { backend: "netns", ok: labOk, title: labTitle("prediction against reality in the namespace lab") },
  { backend: "dind", ok: dindOk, title: dindTitle("prediction against reality in the docker-in-docker lab") },
];

for (const { backend, ok, title } of backends) describe.runIf(ok).sequential(title, () => {
  it("seed-macvlan: cross-host pings work, no host reaches its own container, nothing beyond the segment", async () => {
    const r = await agree(backend, "seed-macvlan");
    const own = r.reality!.probes.find((p) => p.from === "host:docker-71" && p.to === "box1" && p.size === 56)!;
    expect(own.ok).toBe(false);
  }, 180_000);

  it("macvlan: with a shim each host reaches its own container", async () => {
    const r = await agree(backend, "macvlan");
    expect(r.reality!.probes.find((p) => p.from === "host:docker-71" && p.to === "box1" && p.size === 56)!.ok).toBe(true);
  }, 180_000);

  it("seed-swarm-consul: leader .71, peers .71/.72, three members, the three checks critical", async () => {
    const r = await agree(backend, "seed-swarm-consul");
    expect(r.reality!.consul!["consul-client-1"]!.leader).toBe("192.168.1.71:8300");
    expect(Object.values(r.reality!.services).map((s) => s.health)).toEqual(["critical", "critical", "critical"]);
  }, 300_000);

  it("swarm-consul: every check passes", async () => {
    const r = await agree(backend, "swarm-consul");
    expect(Object.values(r.reality!.services).map((s) => s.health)).toEqual(["passing", "passing", "passing"]);
  }, 300_000);

  it("swarm-consul-worker: the worker lists the overlay (a container there is attached)", async () => {
    const r = await agree(backend, "swarm-consul-worker");
    expect(r.reality!.hosts["consul-server-3"]!.networks).toContain("consul-overlay-net");
  }, 300_000);

  it("fault: a worker's container stops, and the worker no longer lists the overlay", async () => {
    const r = await agree(backend, "swarm-consul-worker", ["stop-container:api-service-1"]);
    expect(r.reality!.hosts["consul-server-3"]!.networks).not.toContain("consul-overlay-net");
  }, 400_000);

  it("fault: a host's engine stops (its containers and agent go with it)", async () => {
    await agree(backend, "swarm-consul", ["stop-engine:consul-server-3"]);
  }, 400_000);

  it("fault: a Consul server stops (autopilot removes it; the leader stays or moves)", async () => {
    await agree(backend, "swarm-consul", ["stop-agent:consul-server-1"]);
  }, 400_000);

  it("fault: two Consul servers, one stopped: no leader", async () => {
    const r = await agree(backend, "seed-swarm-consul", ["stop-agent:consul-server-2"]);
    expect(r.reality!.consul!["consul-server-1"]!.leader).toBe("");
  }, 400_000);

  it("fault: a host cut off the switch", async () => {
    await agree(backend, "swarm-consul", ["cut:consul-server-2"]);
  }, 400_000);

  it("fault: the switch MTU at 1400: small pings pass, 1450-byte ones fail", async () => {
    const r = await agree(backend, "swarm-consul", ["mtu:lan=1400"]);
    const big = r.reality!.probes.find((p) => p.from === "web-service-1" && p.to === "api-service-1" && p.by === "address" && p.size === 1422)!;
    const small = r.reality!.probes.find((p) => p.from === "web-service-1" && p.to === "api-service-1" && p.by === "address" && p.size === 56)!;
    expect(small.ok).toBe(true);
    expect(big.ok).toBe(false);
  }, 400_000);
});

// Mixed NIC MTUs on one switch (found by trying a jumbo-frame host next to a 1500-byte one): the small
// NIC drops the big frames, on the underlay and inside VXLAN; frames that fit pass.
const MIXED_MTU = `
name: mixed-mtu
hosts:
  - { name: h1, nics: [{ name: eth0, address: 10.77.0.1/24, mtu: 1500 }] }
  - { name: h2, nics: [{ name: eth0, address: 10.77.0.2/24, mtu: 9000 }] }
  - { name: h3, nics: [{ name: eth0, address: 10.77.0.3/24, mtu: 9000 }] }
swarm: { managers: [h1, h2, h3], ingress: { subnet: 10.78.0.0/24 } }
networks: [{ name: ov, driver: overlay, attachable: true, subnet: 10.79.0.0/24, mtu: 9000 }]
containers: [{ name: c1, host: h1, networks: [ov] }, { name: c2, host: h2, networks: [ov] }, { name: c3, host: h3, networks: [ov] }]
expect:
  - reach: { from: host:h2, to: host:h1, size: 5000 }
  - reach: { from: c2, to: c1, size: 5000 }
  - reach: { from: c2, to: c3, size: 8000 }
`;

describe.runIf(labOk).sequential(labTitle("prediction against reality: mixed NIC MTUs on one switch (namespace lab)"), () => {
  it("jumbo frames die at the 1500-byte NIC, fit between the jumbo hosts, and the lab agrees", async () => {
    const r = await agree("netns", MIXED_MTU);
    const probe = (from: string, to: string, size: number) => r.reality!.probes.find((p) => p.from === from && p.to === to && p.size === size && p.by === "address");
    expect(probe("host:h2", "host:h1", 5000)?.ok).toBe(false);
    expect(probe("c2", "c1", 5000)?.ok).toBe(false);
    expect(probe("c2", "c3", 8000)?.ok).toBe(true);
  }, 300_000);
});

// Consul agents on Docker networks (found by a QA run with bad plans): on the default bridge an agent
// advertises its container address, which other hosts cannot reach, and a second container publishing
// the same port is refused; on an overlay an agent with neither bind nor advertise sees two private
// addresses (overlay, docker_gwbridge) and exits, restarting under --restart=always.
const CONSUL_BRIDGE = `
name: consul-bridge
hosts:
  - { name: h1, nics: [{ name: eth0, address: 10.61.0.11/24 }] }
  - { name: h2, nics: [{ name: eth0, address: 10.61.0.12/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, client_addr: 0.0.0.0, bind_addr: 0.0.0.0, network: { network: bridge, publish: ["8300:8300", "8301:8301", "8301:8301/udp"] } }
    - { name: c2, host: h2, bind_addr: 10.61.0.12, retry_join: [10.61.0.11] }
containers:
  - { name: w1, host: h1, image: busybox, publish: ["8080:80"] }
  - { name: w2, host: h1, image: busybox, publish: ["8080:80"] }
`;
const CONSUL_OVERLAY = `
name: consul-overlay
hosts:
  - { name: h1, nics: [{ name: eth0, address: 10.62.0.11/24 }] }
  - { name: h2, nics: [{ name: eth0, address: 10.62.0.12/24 }] }
  - { name: h3, nics: [{ name: eth0, address: 10.62.0.13/24 }] }
swarm: { managers: [h1, h2, h3], ingress: { subnet: 10.63.0.0/24 } }
networks:
  - { name: cons, driver: overlay, attachable: true, subnet: 10.64.0.0/24 }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 2, bind_addr: 10.64.0.11, client_addr: 0.0.0.0, retry_join: [10.64.0.12], network: { network: cons, ip: 10.64.0.11 } }
    - { name: s2, host: h2, server: true, bootstrap_expect: 2, bind_addr: 10.64.0.12, client_addr: 0.0.0.0, retry_join: [10.64.0.11], network: { network: cons, ip: 10.64.0.12 } }
    - { name: s3, host: h3, server: true, bootstrap_expect: 2, client_addr: 0.0.0.0, retry_join: [10.64.0.11], network: { network: cons, ip: 10.64.0.13 } }
`;

describe.runIf(labOk).sequential(labTitle("prediction against reality: Consul agents on Docker networks (namespace lab)"), () => {
  it("bridge: the server's container address is unreachable from h2 (c2 sees it failed); the second 8080 is refused", async () => {
    const plan = planFrom(CONSUL_BRIDGE);
    const r = await runInLab(plan, { backend: "netns", faults: [], name: "t-cbridge" });
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.differences, explain(r)).toEqual([]);
    expect(r.results.filter((x) => x.status === "failed").map((x) => x.id)).toEqual(["container_run:w2"]);
    expect(r.reality!.consul!["c2"]!.members["s1"]).toBe("failed");
    expect(r.reality!.consul!["s1"]!.members["c2"]).toBe("alive");
  }, 300_000);

  it("overlay: the agent with neither bind nor advertise keeps exiting (two private addresses), the others elect", async () => {
    const plan = planFrom(CONSUL_OVERLAY);
    const r = await runInLab(plan, { backend: "netns", faults: [], name: "t-coverlay" });
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.differences, explain(r)).toEqual([]);
    expect(r.reality!.consul!["s3"]!.running).toBe(false);
    expect(r.reality!.consul!["s1"]!.leader).toMatch(/^10\.64\.0\.1[12]:8300$/);
  }, 300_000);
});

// An HTTP check's path (found by a new-user run): a stock web server serves its default page only, so a
// /health check on nginx:alpine as it comes is critical (404); the lab's busybox httpd serves the same.
const CHECK_PATH = `
name: check-path
hosts:
  - { name: h1, nics: [{ name: eth0, address: 10.65.0.11/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, bind_addr: 10.65.0.11, client_addr: 0.0.0.0 }
containers:
  - { name: web, host: h1, image: nginx:alpine, publish: ["8080:80"] }
services:
  - { id: root, name: web, agent: s1, address: 10.65.0.11, port: 8080, provider: web, check: { type: http } }
  - { id: health, name: web, agent: s1, address: 10.65.0.11, port: 8080, provider: web, check: { type: http, path: /health } }
expect:
  - service_passing: root
  - service_critical: health
`;

// Fault sequences and verbs found by a QA run: stopping the engine sends SIGTERM with the network up, so a
// client (leave_on_terminate) leaves; a server cut off and plugged back in is a member and a voter again.
describe.runIf(labOk).sequential(labTitle("prediction against reality: more Consul faults (namespace lab)"), () => {
  it("stop-engine on the seed's client host: the client leaves gracefully", async () => {
    const r = await agree("netns", "seed-swarm-consul", ["stop-engine:consul-client-1"]);
    expect(r.reality!.consul!["consul-server-1"]!.members["consul-client-1"]).toBe("left");
  }, 400_000);
  it("partition then heal: one cluster again (either leader may lead: the split's length decides)", async () => {
    await agree("netns", "swarm-consul", ["partition:consul-server-1|consul-server-2,consul-server-3", "heal"]);
  }, 400_000);
  it("cut then restore a server: all three alive and voters again", async () => {
    const r = await agree("netns", "swarm-consul", ["cut:consul-server-2", "restore:consul-server-2"]);
    expect(r.reality!.consul!["consul-server-1"]!.members["consul-server-2"]).toBe("alive");
  }, 400_000);
});

describe.runIf(labOk).sequential(labTitle("prediction against reality: an HTTP check's path (namespace lab)"), () => {
  it("/ passes, /health is a 404 and critical, as predicted", async () => {
    const r = await agree("netns", CHECK_PATH);
    expect(r.reality!.services["health"]!.health).toBe("critical");
    expect(r.reality!.services["root"]!.health).toBe("passing");
  }, 300_000);
});

// The same address on two hosts' default bridges (found by a QA run): each host's docker0 hands out
// 172.17.0.2, so a ping from h2 or its container to ca's address is answered on h2 and never reaches ca.
const SAME_IP = `
name: same-ip
hosts:
  - { name: h1, nics: [{ name: eth0, address: 10.66.0.11/24 }] }
  - { name: h2, nics: [{ name: eth0, address: 10.66.0.12/24 }] }
containers:
  - { name: ca, host: h1, image: nginx:alpine }
  - { name: cb, host: h2, image: nginx:alpine }
expect:
  - no_reach: { from: host:h2, to: ca }
  - no_reach: { from: cb, to: ca, proto: tcp, port: 80 }
`;

describe.runIf(labOk).sequential(labTitle("prediction against reality: one address on two hosts' docker0 (namespace lab)"), () => {
  it("the answer comes from the sender's own host, and both crosshost sides say ca is not reached", async () => {
    const r = await agree("netns", SAME_IP);
    expect(r.reality!.probes.find((p) => p.from === "cb" && p.to === "ca" && p.proto === "icmp")?.ok).toBe(false);
  }, 300_000);
});
