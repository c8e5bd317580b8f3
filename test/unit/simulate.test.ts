// What the simulator must predict for the built-in scenarios and under faults (issue 3).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseIp } from "../../src/model/ip.js";
import { trace } from "../../src/model/net/trace.js";
import { simulate } from "../helpers/sim.js";
import { validateText } from "../../src/model/validate.js";
import { parseFault } from "../../src/model/faults.js";

const leaderOf = (obs: ReturnType<typeof simulate>["obs"]) => new Set(Object.values(obs.consul ?? {}).filter((a) => a.running).map((a) => a.leader));

describe("seed-macvlan", () => {
  const s = simulate("seed-macvlan");
  it("box1 and box2 reach each other across hosts", () => {
    expect(s.probe({ from: "box1", to: "box2" }).ok).toBe(true);
    expect(s.probe({ from: "box2", to: "box1" }).ok).toBe(true);
    expect(s.probe({ from: "box1", to: "172.29.0.72" }).ok).toBe(true);
  });
  it("neither host reaches its own container", () => {
    const a = s.probe({ from: "host:docker-71", to: "box1" });
    const b = s.probe({ from: "host:docker-72", to: "box2" });
    expect(a.ok).toBe(false);
    expect(b.ok).toBe(false);
    expect(a.reason).toMatch(/no route|isolation/);
  });
  it("no container reaches anything off the segment: the gateway 172.29.0.254 is absent", () => {
    const r = s.probe({ from: "box1", to: "host:docker-72" });
    expect(r.ok).toBe(false);
    expect(r.reason).toContain("172.29.0.254");
    expect(s.probe({ from: "box1", to: "10.99.0.1" }).reason).toContain("172.29.0.254");
  });
  it("with a shim (the corrected scenario) a host reaches its own container", () => {
    const m = simulate("macvlan");
    expect(m.probe({ from: "host:docker-71", to: "box1" }).ok).toBe(true);
    expect(m.expectations.every((e) => e.ok)).toBe(true);
  });
});

describe("seed-swarm-consul", () => {
  const s = simulate("seed-swarm-consul");
  it("elects consul-server-1 with peers .71 and .72 and three members", () => {
    for (const a of Object.values(s.obs.consul!)) {
      expect(a.leader).toBe("192.168.1.71:8300");
      expect(a.peers).toEqual(["192.168.1.71:8300", "192.168.1.72:8300"]);
      expect(Object.values(a.members).filter((m) => m === "alive")).toHaveLength(3);
    }
  });
  it("the containers ping each other by name across hosts", () => {
    expect(s.probe({ from: "web-service-1", to: "api-service-1", by: "name" }).ok).toBe(true);
    expect(s.probe({ from: "api-service-1", to: "web-service-1", by: "name" }).ok).toBe(true);
  });
  it("all three health checks are critical, each with its reason", () => {
    expect(s.obs.services["web-service-1"]).toMatchObject({ health: "critical" });
    expect(s.obs.services["web-service-1"]!.reason).toMatch(/192\.168\.1\.71:80.*connection refused/);
    for (const id of ["web-service-2", "api-service-1"]) {
      expect(s.obs.services[id]!.health).toBe("critical");
      expect(s.obs.services[id]!.reason).toMatch(/overlay consul-overlay-net.*no route/);
    }
  });
  it("every host is a manager and lists the overlay", () => {
    for (const h of Object.values(s.obs.hosts)) expect(h.networks).toContain("consul-overlay-net");
  });
  it("in swarm-consul, every check passes and every expectation holds", () => {
    const c = simulate("swarm-consul");
    for (const v of Object.values(c.obs.services)) expect(v.health).toBe("passing");
    expect(c.expectations.filter((e) => !e.ok)).toEqual([]);
  });
});

describe("a worker lists an overlay only while a container there is attached (moby/moby#25004)", () => {
  it("lists it with api-service-1 running, not after it stops; managers always do", () => {
    const w = simulate("swarm-consul-worker");
    expect(w.obs.hosts["consul-server-3"]!.networks).toContain("consul-overlay-net");
    const stopped = simulate("swarm-consul-worker", ["stop-container:api-service-1"]);
    expect(stopped.obs.hosts["consul-server-3"]!.networks).not.toContain("consul-overlay-net");
    expect(stopped.obs.hosts["consul-server-2"]!.networks).toContain("consul-overlay-net");
  });
  it("does not list it before anything attaches", () => {
    const w = simulate(`
hosts:
  - { name: m, nics: [{ name: eth0, address: 10.1.0.1/24 }] }
  - { name: w, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
swarm: { managers: [m], workers: [w] }
networks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]
`);
    expect(w.obs.hosts["w"]!.networks).not.toContain("o");
    expect(w.obs.hosts["m"]!.networks).toContain("o");
  });
});

const fiveNodes = `
hosts:
  - { name: m1, nics: [{ name: eth0, address: 10.1.0.1/24 }] }
  - { name: m2, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
  - { name: m3, nics: [{ name: eth0, address: 10.1.0.3/24 }] }
  - { name: w1, nics: [{ name: eth0, address: 10.1.0.4/24 }] }
  - { name: w2, nics: [{ name: eth0, address: 10.1.0.5/24 }] }
swarm: { managers: [m1, m2, m3], workers: [w1, w2] }
networks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]
containers:
  - { name: c1, host: w1, networks: [o] }
  - { name: c2, host: w2, networks: [o] }
`;

describe("swarm faults", () => {
  it("three managers, one stopped: the leader stays", () => {
    const s = simulate(fiveNodes, ["stop:m2"]);
    expect(s.obs.swarm!.leader).toBe("m1");
    expect(s.obs.swarm!.nodes.find((n) => n.host === "m2")).toMatchObject({ status: "down", manager: "unreachable" });
  });
  it("the leader stopped: another manager takes over", () => {
    const s = simulate(fiveNodes, ["stop:m1"]);
    expect(s.obs.swarm!.leader).toBe("m2");
  });
  it("two of three stopped: no leader, but running containers still ping, by address and by name", () => {
    const s = simulate(fiveNodes, ["stop:m2", "stop:m3"]);
    expect(s.obs.swarm!.leader).toBeNull();
    expect(s.probe({ from: "c1", to: "c2" }).ok).toBe(true);
    expect(s.probe({ from: "c2", to: "c1", by: "name" }).ok).toBe(true);
  });
  it("with quorum lost no cluster change works: a new container cannot attach to the overlay", () => {
    const plan = fiveNodes.replace("  - { name: c2, host: w2, networks: [o] }\n", "  - { name: c2, host: w2, networks: [o] }\nfaults: [\"stop:m2\", \"stop:m3\"]\n");
    const s = simulate(plan, ["stop-container:c2", "start-container:c2"]);
    expect(s.obs.swarm!.leader).toBeNull();
    expect(s.obs.containers["c1"]!.state).toBe("running");
  });
  it("B07: a worker whose 2377 to the manager is blocked cannot join", () => {
    const s = simulate(`
hosts:
  - { name: m, nics: [{ name: eth0, address: 10.1.0.1/24 }], firewall: { inbound: deny, allow: [{ proto: tcp, port: 2377, from: [10.1.0.1/32] }, { proto: udp }, { proto: tcp, port: 7946 }] } }
  - { name: w, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
swarm: { managers: [m], workers: [w] }
`);
    const join = s.results.find((r) => r.id === "swarm_join@w")!;
    expect(join.status).toBe("failed");
    expect(join.message).toMatch(/Timeout was reached before node joined.*firewall drops tcp\/2377/);
  });
  it("B22: two managers, one stopped: no leader", () => {
    const s = simulate(fiveNodes.replace("managers: [m1, m2, m3], workers: [w1, w2]", "managers: [m1, m2], workers: [m3, w1, w2]"), ["stop:m2"]);
    expect(s.obs.swarm!.leader).toBeNull();
  });
});

describe("Consul faults", () => {
  it("two servers, one stopped: no leader anywhere (B23)", () => {
    const s = simulate("seed-swarm-consul", ["stop-agent:consul-server-2"]);
    expect(leaderOf(s.obs)).toEqual(new Set([""]));
    expect(s.obs.consul!["consul-server-1"]!.members["consul-server-2"]).toBe("failed");
  });
  it("three servers, one stopped: a leader remains", () => {
    const s = simulate("swarm-consul", ["stop-agent:consul-server-1"]);
    const leaders = leaderOf(s.obs);
    expect(leaders.size).toBe(1);
    expect([...leaders][0]).toMatch(/^192\.168\.1\.7[23]:8300$/);
  });
  it("a graceful leave shrinks the peers (leave_on_terminate)", () => {
    const plan = (txt: string) => txt.replace(/(name: consul-server-3, host: consul-server-3, server: true,)/, "$1 leave_on_terminate: true,");
    const s = simulate(plan(readFileSync("src/scenarios/swarm-consul.yaml", "utf8")), ["stop-agent:consul-server-3"]);
    expect(s.obs.consul!["consul-server-1"]!.peers).toEqual(["192.168.1.71:8300", "192.168.1.72:8300"]);
    expect(s.obs.consul!["consul-server-1"]!.members["consul-server-3"]).toBe("left");
  });
  it("B24: a server with stale Raft data keeps its old address as a voter", () => {
    const s = simulate(`
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.100.55/24 }] }
consul:
  agents:
    - { name: s1, host: a, server: true, bind_addr: 192.168.100.55, advertise_addr: 192.168.100.55, previous_advertise_addr: 192.168.1.2 }
`);
    expect(s.obs.consul!["s1"]!.peers).toEqual(["192.168.1.2:8300", "192.168.100.55:8300"]);
    expect(s.obs.consul!["s1"]!.leader).toBe("");
  });
  it("B31: gossip published for TCP only: agents see each other failed", () => {
    const s = simulate(`
hosts:
  - { name: a, nics: [{ name: eth0, address: 10.1.0.1/24 }] }
  - { name: b, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
networks: [{ name: n, hosts: [a, b] }]
consul:
  agents:
    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 0.0.0.0, advertise_addr: 10.1.0.1, network: { network: n, publish: ["8300:8300", "8301:8301", "8500:8500"] } }
    - { name: c1, host: b, server: false, bind_addr: 0.0.0.0, advertise_addr: 10.1.0.2, retry_join: [10.1.0.1], network: { network: n, publish: ["8301:8301"] } }
`);
    expect(Object.keys(s.obs.consul!["c1"]!.members)).toEqual(["c1"]);
  });
  it("retry_join keeps trying; a start_join that fails is final on Consul before 1.15", () => {
    const plan = `
hosts:
  - { name: a, nics: [{ name: eth0, address: 10.1.0.1/24 }] }
  - { name: b, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
consul:
  agents:
    - { name: c1, host: b, server: false, bind_addr: 10.1.0.2, advertise_addr: 10.1.0.2, JOIN: [10.1.0.1] }
    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 10.1.0.1, advertise_addr: 10.1.0.1 }
`;
    const retry = simulate(plan.replace("JOIN", "retry_join"), [], { consulVersion: "1.8.7" });
    expect(retry.obs.consul!["c1"]!.leader).toBe("10.1.0.1:8300");
    const once = simulate(plan.replace("JOIN", "start_join"), [], { consulVersion: "1.8.7" });
    expect(once.obs.consul!["c1"]!.running).toBe(false);
    expect(once.results.find((r) => r.id === "consul_agent:c1")!.message).toMatch(/Error joining/);
    const modern = simulate(plan.replace("JOIN", "start_join"), [], { consulVersion: "1.15.4" });
    expect(modern.obs.consul!["c1"]!.leader).toBe("10.1.0.1:8300");
  });
  it("conflicting bootstrap_expect values: no bootstrap, no leader (B25 kind)", () => {
    const s = simulate(`
hosts:
  - { name: a, nics: [{ name: eth0, address: 10.1.0.1/24 }] }
  - { name: b, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
  - { name: c, nics: [{ name: eth0, address: 10.1.0.3/24 }] }
consul:
  agents:
    - { name: s1, host: a, server: true, bootstrap_expect: 3, bind_addr: 10.1.0.1, retry_join: [10.1.0.2, 10.1.0.3] }
    - { name: s2, host: b, server: true, bootstrap_expect: 2, bind_addr: 10.1.0.2, retry_join: [10.1.0.1] }
    - { name: s3, host: c, server: true, bootstrap_expect: 3, bind_addr: 10.1.0.3, retry_join: [10.1.0.1] }
`);
    expect(leaderOf(s.obs)).toEqual(new Set([""]));
  });
});

describe("MTU and VXLAN", () => {
  it("underlay 1400 with a default overlay: small pings pass, 1450-byte pings fail", () => {
    const s = simulate("swarm-consul", ["mtu:lan=1400"]);
    expect(s.probe({ from: "web-service-1", to: "api-service-1" }).ok).toBe(true);
    const big = s.probe({ from: "web-service-1", to: "api-service-1", size: 1422 });
    expect(big.ok).toBe(false);
    expect(big.reason).toMatch(/MTU 1400/);
    expect(s.probe({ from: "web-service-1", to: "web-service-2", size: 1000 }).ok).toBe(true);
  });
  it("B11: NIC MTU 1450 and a default overlay: non-DF pings are fragmented and pass, DF ones fail", () => {
    const text = `
hosts:
  - { name: a, nics: [{ name: eth0, address: 10.1.0.1/24, mtu: 1450 }] }
  - { name: b, nics: [{ name: eth0, address: 10.1.0.2/24, mtu: 1450 }] }
swarm: { managers: [a], workers: [b] }
networks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]
containers: [{ name: cx, host: a, networks: [o] }, { name: cy, host: b, networks: [o] }]
`;
    const s = simulate(text);
    expect(s.probe({ from: "cx", to: "cy", size: 1422 }).ok).toBe(true);
    const ip = s.obs.containers["cy"]!.addresses["o"]!;
    const df = s.world.traceProbe({ from: "cx", to: ip, by: "address", size: 1422, proto: "icmp" });
    expect(df.result.ok).toBe(true);
    const r = trace(s.world.topo, s.world, "ctr:cx", parseIp(ip)!, { proto: "icmp", ipSize: 1450, df: true });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/fragmentation needed/);
  });
  it("a jumbo-frame host and a 1500-byte host on one switch: big frames die at the small NIC, on the underlay and in VXLAN", () => {
    const s = simulate(`
hosts:
  - { name: a, nics: [{ name: eth0, address: 10.1.0.1/24, mtu: 1500 }] }
  - { name: b, nics: [{ name: eth0, address: 10.1.0.2/24, mtu: 9000 }] }
  - { name: c, nics: [{ name: eth0, address: 10.1.0.3/24, mtu: 9000 }] }
swarm: { managers: [a, b, c] }
networks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16, mtu: 9000 }]
containers: [{ name: cx, host: a, networks: [o] }, { name: cy, host: b, networks: [o] }, { name: cz, host: c, networks: [o] }]
`);
    const big = s.probe({ from: "host:b", to: "host:a", size: 5000 });
    expect(big.ok).toBe(false);
    expect(big.reason).toMatch(/a's eth0 \(MTU 1500\) drops/);
    // The other way the small host fragments to its own MTU and the fragments arrive, but the echo reply
    // comes back as one jumbo frame, which a's NIC drops: the ping fails both ways.
    const back = s.probe({ from: "host:a", to: "host:b", size: 5000 });
    expect(back.ok).toBe(false);
    expect(back.reason).toMatch(/a's eth0 \(MTU 1500\) drops/);
    expect(s.probe({ from: "host:b", to: "host:a", size: 1000 }).ok).toBe(true);
    const tunnel = s.probe({ from: "cy", to: "cx", size: 5000 });
    expect(tunnel.ok).toBe(false);
    expect(tunnel.reason).toMatch(/VXLAN .* a's eth0 \(MTU 1500\) drops/);
    expect(s.probe({ from: "cy", to: "cz", size: 8000 }).ok).toBe(true);
  });
  it("B08: encrypted overlay with ESP blocked: same-host pings pass, cross-host pings fail", () => {
    const fw = "firewall: { inbound: deny, allow: [{ proto: tcp, port: 2377 }, { proto: tcp, port: 7946 }, { proto: udp, port: 7946 }, { proto: udp, port: 4789 }] }";
    const s = simulate(`
hosts:
  - { name: a, nics: [{ name: eth0, address: 10.1.0.1/24 }], ${fw} }
  - { name: b, nics: [{ name: eth0, address: 10.1.0.2/24 }], ${fw} }
swarm: { managers: [a], workers: [b] }
networks: [{ name: o, driver: overlay, attachable: true, encrypted: true, subnet: 10.20.0.0/16 }]
containers: [{ name: cx, host: a, networks: [o] }, { name: x2, host: a, networks: [o] }, { name: cy, host: b, networks: [o] }]
`);
    expect(s.probe({ from: "cx", to: "x2" }).ok).toBe(true);
    const cross = s.probe({ from: "cx", to: "cy" });
    expect(cross.ok).toBe(false);
    expect(cross.reason).toMatch(/ESP/);
  });
  it("B20: an overlay on the LAN's subnet swallows the LAN for its containers", () => {
    const s = simulate(`
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.99.7/24 }] }
  - { name: b, nics: [{ name: eth0, address: 192.168.99.8/24 }] }
swarm: { managers: [a], workers: [b] }
networks: [{ name: o, driver: overlay, attachable: true, subnet: 192.168.99.0/24 }]
containers: [{ name: cx, host: a, networks: [{ network: o, ip: 192.168.99.5 }] }]
`);
    const r = s.probe({ from: "cx", to: "192.168.99.8" });
    expect(r.ok).toBe(false);
    expect(r.hops!.some((h) => /overlay o/.test(h.note))).toBe(true);
  });
});

describe("macvlan underlays", () => {
  const base = (platform: string) => `
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24, gateway: 192.168.1.1 }], platform: ${platform} }
  - { name: b, nics: [{ name: eth0, address: 192.168.1.12/24, gateway: 192.168.1.1 }], platform: ${platform} }
networks:
  - { name: mv, driver: macvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }] }
containers:
  - { name: cx, host: a, networks: [mv] }
  - { name: x2, host: a, networks: [mv] }
  - { name: cy, host: b, networks: [mv] }
`;
  it("B33: other hosts reach the container; its own host does not", () => {
    const s = simulate(base("{ kind: bare-metal }"));
    expect(s.probe({ from: "host:b", to: "cx" }).ok).toBe(true);
    const own = s.probe({ from: "host:a", to: "cx" });
    expect(own.ok).toBe(false);
    expect(own.reason).toMatch(/parent isolation/);
  });
  it("B34: a vSphere port group without promiscuous mode: only same-host macvlan peers", () => {
    const s = simulate(base("{ kind: vsphere, promiscuous: reject }"));
    expect(s.probe({ from: "cx", to: "x2" }).ok).toBe(true);
    expect(s.probe({ from: "cx", to: "cy" }).reason).toMatch(/promiscuous/);
  });
  it("B35: a public cloud NIC: no L2 beyond the host", () => {
    const s = simulate(base("{ kind: aws }"));
    expect(s.probe({ from: "cx", to: "cy" }).ok).toBe(false);
    expect(s.probe({ from: "cx", to: "x2" }).ok).toBe(true);
  });
  it("B36: overlapping per-host ranges hand out the same address; delivery breaks", () => {
    const s = simulate(base("{ kind: bare-metal }").replace("hosts: [{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }]", "hosts: [{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.128/27 }]"));
    expect(s.obs.containers["cx"]!.addresses["mv"]).toBe(s.obs.containers["cy"]!.addresses["mv"]);
    expect(s.probe({ from: "x2", to: "cy" }).reason).toMatch(/claimed by/);
  });
});

describe("determinism", () => {
  it("the same plan and faults give the same observation", () => {
    const a = simulate("swarm-consul", ["stop:consul-server-2", "mtu:lan=1400"]);
    const b = simulate("swarm-consul", ["stop:consul-server-2", "mtu:lan=1400"]);
    expect(JSON.stringify(a.obs)).toBe(JSON.stringify(b.obs));
  });
});

describe("an internal overlay gives no way out and publishes no port (libnetwork needDefaultGW skips internal endpoints)", () => {
  const text = readFileSync(new URL("../../src/scenarios/swarm-consul.yaml", import.meta.url), "utf8");
  const internal = text.replace("    attachable: true\n    subnet: 10.20.0.0/16", "    attachable: true\n    internal: true\n    subnet: 10.20.0.0/16");
  it("the mutation took", () => expect(internal).not.toBe(text));
  const s = simulate(internal);
  const open = simulate("swarm-consul");
  it("a container only on the internal overlay has no docker_gwbridge leg and no route to the LAN's router", () => {
    const shut = s.probe({ from: "web-service-1", to: "192.168.1.1" });
    const out = open.probe({ from: "web-service-1", to: "192.168.1.1" });
    expect(out.ok).toBe(true);
    expect(JSON.stringify(out)).toContain("docker_gwbridge");
    expect(shut.ok).toBe(false);
    expect(JSON.stringify(shut)).not.toContain("docker_gwbridge");
  });
  it("containers on it still reach each other across hosts", () => {
    expect(s.probe({ from: "web-service-1", to: "api-service-1", by: "name" }).ok).toBe(true);
  });
  it("the checks on the published port 8080 are critical: nothing is published", () => {
    for (const id of ["web-service-1", "web-service-2", "api-service-1"]) {
      expect(s.obs.services[id]!.health).toBe("critical");
      expect(s.obs.services[id]!.reason).toMatch(/only on internal networks.*publishes no port/);
      expect(open.obs.services[id]!.health).toBe("passing");
    }
  });
});

describe("a Consul agent on the default bridge (the implicit network exists with the engine)", () => {
  const plan = `
crosshost: 1
name: agent-bridge
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
consul:
  datacenter: dc1
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, client_addr: 0.0.0.0, network: { network: bridge, publish: ["8500:8500"] } }
`;
  it("starts, takes a default-bridge address and elects itself", () => {
    const s = simulate(plan);
    expect(s.results.find((r) => r.id === "consul_agent:s1")!.status).not.toBe("failed");
    expect(s.obs.consul!["s1"]!.leader).toMatch(/^172\.17\.0\.\d+:8300$/);
  });
  it("binding the host's LAN address from inside the container is fatal at start, as in Consul", () => {
    const s = simulate(plan.replace("client_addr: 0.0.0.0,", "client_addr: 0.0.0.0, bind_addr: 192.168.1.71,"));
    const r = s.results.find((x) => x.id === "consul_agent:s1")!;
    expect(r.status).toBe("failed");
    expect(r.message).toMatch(/listen tcp 192\.168\.1\.71:8301: bind: cannot assign requested address/);
  });
});

describe("a manager joins only if the leader reaches its advertised address (swarmkit health-checks it first)", () => {
  const plan = (adv: string) => `
crosshost: 1
name: t-adv
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24 }] }
  - { name: b, nics: [{ name: eth0, address: 192.168.1.12/24 }] }
  - { name: c, nics: [{ name: eth0, address: 192.168.1.13/24 }] }
swarm:
  nodes:
    - { host: a, role: manager, advertise_addr: 192.168.1.11 }
    - { host: b, role: manager, advertise_addr: ${adv} }
    - { host: c, role: manager, advertise_addr: 192.168.1.13 }
`;
  it("a typo is refused at join, and the swarm keeps its quorum with the others", () => {
    const s = simulate(plan("192.168.1.112"));
    const join = s.results.find((r) => r.id === "swarm_join@b")!;
    expect(join.status).toBe("failed");
    expect(join.message).toMatch(/could not connect to prospective new cluster member using its advertised address 192\.168\.1\.112:2377/);
    expect(s.results.find((r) => r.id === "swarm_join@c")!.status).not.toBe("failed");
    expect(s.obs.swarm!.leader).toBe("a");
  });
  it("the right address joins", () => {
    expect(simulate(plan("192.168.1.12")).results.filter((r) => r.status === "failed")).toEqual([]);
  });
});

describe("a shim that exists but does not route to the container is named, not asked for", () => {
  it("says which address to add to the shim's routes", () => {
    const text = readFileSync(new URL("../../src/scenarios/macvlan.yaml", import.meta.url), "utf8").replace("routes: [192.168.1.128/27]", "routes: []");
    const r = simulate(text).probe({ from: "host:docker-71", to: "box1" });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/its shim mvshim has no route to 192\.168\.1\.128: add it to the shim's routes/);
  });
});

describe("an answer from someone else with the same address is not an answer from the target", () => {
  const plan = `
crosshost: 1
name: t-same-ip
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24 }] }
containers:
  - { name: ca, host: h1, image: busybox }
  - { name: cb, host: h2, image: busybox }
`;
  it("b pinging a's 172.17.0.2 reaches only itself (each host's docker0 hands out .2)", () => {
    const r = simulate(plan).probe({ from: "cb", to: "ca" });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/172\.17\.0\.2 is also the address of cb on h2: cb's packet ends there and never reaches ca/);
  });
  it("h2 reaching 172.17.0.2 reaches its own b, not a", () => {
    const r = simulate(plan).probe({ from: "host:h2", to: "ca" });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/also the address of cb on h2/);
  });
  it("h1 reaches its own a", () => {
    expect(simulate(plan).probe({ from: "host:h1", to: "ca" }).ok).toBe(true);
  });
});

describe("Consul agents on Docker networks are known by their own addresses", () => {
  const macvlan = `
crosshost: 1
name: t-agent-macvlan
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24, gateway: 192.168.1.1 }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24, gateway: 192.168.1.1 }] }
networks:
  - { name: lan, driver: macvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: h1, ip_range: 192.168.1.128/27 }, { host: h2, ip_range: 192.168.1.160/27 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, client_addr: 0.0.0.0, network: { network: lan, ip: 192.168.1.140 } }
    - { name: c2, host: h2, retry_join: [192.168.1.140], network: { network: lan, ip: 192.168.1.170 } }
expect:
  - consul_leader: s1
`;
  it("a join to a macvlan agent's own address is valid, needs no published port, and the leader is named", () => {
    const v = validateText(macvlan, "p.yaml");
    expect(v.diagnostics.filter((d) => d.severity !== "info").map((d) => `${d.code}: ${d.message}`)).toEqual([]);
    const s = simulate(macvlan);
    expect(s.obs.consul!["c2"]!.members["s1"]).toBe("alive");
    expect(s.expectations.every((e) => e.ok)).toBe(true);
  });

  it("agents on an overlay with neither bind nor advertise see two private addresses and exit, as Consul does", () => {
    const overlay = `
crosshost: 1
name: t-agent-overlay
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24 }] }
  - { name: h3, nics: [{ name: eth0, address: 192.168.1.73/24 }] }
swarm: { managers: [h1, h2, h3] }
networks: [{ name: cons, driver: overlay, attachable: true, subnet: 10.20.0.0/24 }]
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, network: { network: cons, ip: 10.20.0.11 } }
`;
    const r = simulate(overlay).results.find((x) => x.id === "consul_agent:s1")!;
    expect(r.status).toBe("failed");
    expect(r.message).toMatch(/Multiple private IPv4 addresses found/);
    const fixed = simulate(overlay.replace("network: { network: cons", "bind_addr: 10.20.0.11, network: { network: cons"));
    expect(fixed.results.find((x) => x.id === "consul_agent:s1")!.status).not.toBe("failed");
  });

  it("an agent on the default bridge that advertises its container address: joined through the published port, then seen failed", () => {
    const bridge = `
crosshost: 1
name: t-agent-bridge
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, client_addr: 0.0.0.0, bind_addr: 0.0.0.0, network: { network: bridge, publish: ["8300:8300", "8301:8301", "8301:8301/udp"] } }
    - { name: c2, host: h2, bind_addr: 192.168.1.72, retry_join: [192.168.1.71] }
`;
    const v = validateText(bridge, "p.yaml");
    expect(v.diagnostics.map((d) => d.code)).toContain("consul_advertise_unreachable");
    expect(v.diagnostics.map((d) => d.code)).not.toContain("consul_retry_join_unknown");
    const s = simulate(bridge);
    expect(s.obs.consul!["c2"]!.members["s1"]).toBe("failed");
    expect(s.obs.consul!["s1"]!.members["c2"]).toBe("alive");
    const fixed = simulate(bridge.replace("bind_addr: 0.0.0.0,", "bind_addr: 0.0.0.0, advertise_addr: 192.168.1.71,"));
    expect(fixed.obs.consul!["c2"]!.members["s1"]).toBe("alive");
  });

  it("agents start before the plan's containers, so they take the first bridge addresses", () => {
    const s = simulate(`
crosshost: 1
name: t-order
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
containers:
  - { name: web, host: h1, image: busybox }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, client_addr: 0.0.0.0, network: { network: bridge } }
`);
    expect(s.world.allocation.addresses.get("s1", "bridge")).toBe(parseIp("172.17.0.2"));
    expect(s.world.allocation.addresses.get("web", "bridge")).toBe(parseIp("172.17.0.3"));
  });
});

describe("ports already taken on a host fail the start, as Docker and Consul do", () => {
  const plan = (extra: string) => `
crosshost: 1
name: t-ports
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }]${extra} }
containers:
  - { name: cc, host: h1, image: nginx:alpine, publish: ["8080:80"] }
  - { name: cd, host: h1, image: nginx:alpine, publish: ["8080:80"] }
`;
  it("a second container publishing the same port is refused (port is already allocated)", () => {
    const s = simulate(plan(""));
    expect(s.results.find((r) => r.id === "container_run:cc")!.status).not.toBe("failed");
    expect(s.results.find((r) => r.id === "container_run:cd")!.message).toMatch(/Bind for 0\.0\.0\.0:8080 failed: port is already allocated/);
  });
  it("a port a process outside the plan holds: address already in use", () => {
    const s = simulate(plan(", ports_in_use: [8080]"));
    expect(s.results.find((r) => r.id === "container_run:cc")!.message).toMatch(/listen tcp 0\.0\.0\.0:8080: bind: address already in use/);
  });
  it("a Consul agent whose http port is its own serf_lan port exits", () => {
    const s = simulate(`
crosshost: 1
name: t-ports2
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.71, client_addr: 0.0.0.0, ports: { http: 8301 } }
`);
    expect(s.results.find((r) => r.id === "consul_agent:s1")!.message).toMatch(/8301: bind: address already in use/);
  });
});

describe("Consul address mistakes found by a new user", () => {
  const three = (b: string) => `
crosshost: 1
name: t-cadv
hosts:
  - { name: a, nics: [{ name: eth0, address: 10.10.0.11/24 }] }
  - { name: b, nics: [{ name: eth0, address: 10.10.0.12/24 }] }
  - { name: c, nics: [{ name: eth0, address: 10.10.0.13/24 }] }
consul:
  agents:
    - { name: s1, host: a, server: true, bootstrap_expect: 3, bind_addr: 10.10.0.11, retry_join: [10.10.0.12, 10.10.0.13] }
    - { name: s2, host: b, server: true, bootstrap_expect: 3, ${b}, retry_join: [10.10.0.11, 10.10.0.13] }
    - { name: s3, host: c, server: true, bootstrap_expect: 3, bind_addr: 10.10.0.13, retry_join: [10.10.0.11, 10.10.0.12] }
`;
  it("a mistyped advertise: joins to the bind address still land (no false retry_join error), only the advertise is wrong", () => {
    const v = validateText(three("bind_addr: 10.10.0.12, advertise_addr: 10.10.0.21"), "p.yaml");
    expect(v.diagnostics.filter((d) => d.severity === "error").map((d) => d.code)).toEqual(["consul_advertise_unreachable"]);
  });
  it("GetInterfaceIP of an interface the host lacks is an error and the agent exits", () => {
    const text = three(`bind_addr: '{{ GetInterfaceIP "eth9" }}'`);
    const v = validateText(text, "p.yaml");
    expect(v.diagnostics.find((d) => d.severity === "error")?.message).toMatch(/names interface "eth9", which the host does not have/);
  });
});

describe("an HTTP check's path on a stock web server image", () => {
  const plan = (image: string, path: string) => `
crosshost: 1
name: t-path
hosts:
  - { name: h1, nics: [{ name: eth0, address: 10.65.0.11/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, bind_addr: 10.65.0.11, client_addr: 0.0.0.0 }
containers:
  - { name: web, host: h1, image: ${image}, publish: ["8080:80"], listen: [80] }
services:
  - { id: w, name: web, agent: s1, address: 10.65.0.11, port: 8080, provider: web, check: { type: http, path: ${path} } }
`;
  it.each([
    ["nginx:alpine", "/", "passing"],
    ["nginx:alpine", "/health", "critical"],
    ["docker.io/library/httpd:2.4", "/index.html", "passing"],
    ["myorg/api:1.2", "/health", "passing"],
  ])("%s %s is %s", (image, path, health) => {
    expect(simulate(plan(image, path)).obs.services["w"]!.health).toBe(health);
  });
});

describe("Consul fault verbs that end the same way in the lab", () => {
  it("stop-container on a client agent is stop-agent: it leaves (leave_on_terminate)", () => {
    const a = simulate("seed-swarm-consul", ["stop-container:consul-client-1"]).obs.consul!["consul-server-1"]!.members["consul-client-1"];
    const b = simulate("seed-swarm-consul", ["stop-agent:consul-client-1"]).obs.consul!["consul-server-1"]!.members["consul-client-1"];
    expect([a, b]).toEqual(["left", "left"]);
  });
  it("stop-engine lets a client leave; stop (the host, cut first) cannot", () => {
    expect(simulate("seed-swarm-consul", ["stop-engine:consul-client-1"]).obs.consul!["consul-server-1"]!.members["consul-client-1"]).toBe("left");
    expect(simulate("seed-swarm-consul", ["stop:consul-client-1"]).obs.consul!["consul-server-1"]!.members["consul-client-1"]).toBe("failed");
  });
  it("a server cut off, pruned by autopilot, and plugged back in is alive and a voter again", () => {
    const s = simulate("swarm-consul", ["cut:consul-server-2", "restore:consul-server-2"]);
    expect(s.obs.consul!["consul-server-1"]!.members["consul-server-2"]).toBe("alive");
    expect(s.obs.consul!["consul-server-1"]!.peers).toHaveLength(3);
  });
});

describe("fault steps that cannot take effect fail, and swarm readiness goes through any manager", () => {
  it("start-agent on a stopped host fails (docker start needs the engine)", () => {
    const s = simulate("swarm-consul", ["stop:consul-server-3", "start-agent:consul-server-3"]);
    const r = s.results.find((x) => x.id.includes("start-agent:consul-server-3"))!;
    expect(r.status).toBe("failed");
    expect(r.message).toMatch(/Cannot connect to the Docker daemon on consul-server-3/);
  });
  it("a worker that cannot reach the leader's 2377 stays ready through another manager", () => {
    const plan = `
crosshost: 1
name: t-ready
hosts:
  - { name: m1, nics: [{ name: eth0, address: 10.1.0.1/24 }] }
  - { name: m2, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
  - { name: m3, nics: [{ name: eth0, address: 10.1.0.3/24 }] }
  - { name: w1, nics: [{ name: eth0, address: 10.1.0.11/24 }] }
swarm: { managers: [m1, m2, m3], workers: [w1] }
`;
    const s = simulate(plan, ["block:w1>m1:tcp/2377"]);
    expect(s.obs.swarm!.leader).toBe("m1");
    expect(s.obs.swarm!.nodes.find((n) => n.host === "w1")!.status).toBe("ready");
  });
});

describe("partitions: heal ends one, a new one replaces the last, a host sits on one side", () => {
  it("partition then heal: the cluster is whole again", () => {
    const split = simulate("swarm-consul", ["partition:consul-server-1|consul-server-2,consul-server-3"]);
    expect(split.obs.consul!["consul-server-2"]!.members["consul-server-1"]).not.toBe("alive");
    const healed = simulate("swarm-consul", ["partition:consul-server-1|consul-server-2,consul-server-3", "heal"]);
    expect(healed.obs.consul!["consul-server-2"]!.members["consul-server-1"]).toBe("alive");
    expect(healed.results.find((r) => r.id.endsWith(":heal"))!.status).not.toBe("failed");
  });
  it("a host in two groups is a bad fault", () => {
    const r = parseFault("partition:a,b|b");
    expect(r[0]!.ok).toBe(false);
    expect(r[0]!.ok ? "" : r[0]!.message).toMatch(/puts b in two groups/);
  });
});
