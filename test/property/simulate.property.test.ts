// Model-based tests of the simulator: random sequences of faults applied to a running plan, with
// invariants checked after each; and independence of the observation from the order of independent steps.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Observation } from "../../src/model/observation.js";
import { observationProbes } from "../../src/model/sim/probes.js";
import { World } from "../../src/model/sim/world.js";
import { compileSteps } from "../../src/model/steps/compile.js";
import type { Fault, Plan } from "../../src/model/plan.js";
import type { Step } from "../../src/model/steps/step.js";
import { planFrom } from "../helpers/sim.js";
import { RUNS, SEED } from "./arbitraries.js";
import { parseFault } from "../../src/model/faults.js";

const plans = ["swarm-consul", "seed-swarm-consul", "swarm-consul-worker", "macvlan", "seed-macvlan"].map((n) => planFrom(n));

function faultArb(plan: Plan): fc.Arbitrary<Fault> {
  const hosts = plan.hosts.map((h) => h.name);
  const agents = plan.consul?.agents.map((a) => a.name) ?? [];
  const containers = plan.containers.filter((c) => !c.agent).map((c) => c.name);
  const host = fc.constantFrom(...hosts);
  const arbs: fc.Arbitrary<Fault>[] = [
    host.map((h) => ({ kind: "stop_host", host: h, path: [] }) as Fault),
    host.map((h) => ({ kind: "start_host", host: h, path: [] }) as Fault),
    host.map((h) => ({ kind: "stop_engine", host: h, path: [] }) as Fault),
    host.map((h) => ({ kind: "start_engine", host: h, path: [] }) as Fault),
    host.map((h) => ({ kind: "cut_host", host: h, path: [] }) as Fault),
    host.map((h) => ({ kind: "restore_host", host: h, path: [] }) as Fault),
    fc.tuple(host, host, fc.constantFrom("tcp", "udp") as fc.Arbitrary<"tcp" | "udp">, fc.constantFrom(2377, 7946, 4789, 8300, 8301)).map(([from, to, proto, port]) => ({ kind: "block_port", from, to, proto, port, path: [] }) as Fault),
    fc.integer({ min: 1300, max: 1500 }).map((mtu) => ({ kind: "set_mtu", segment: plan.segments[0]!.name, mtu, path: [] }) as Fault),
  ];
  if (agents.length) arbs.push(fc.constantFrom(...agents).chain((a) => fc.constantFrom<Fault>({ kind: "stop_agent", agent: a, path: [] }, { kind: "start_agent", agent: a, path: [] })));
  if (containers.length) arbs.push(fc.constantFrom(...containers).chain((c) => fc.constantFrom<Fault>({ kind: "stop_container", container: c, path: [] }, { kind: "start_container", container: c, path: [] })));
  return fc.oneof(...arbs);
}

function checkInvariants(plan: Plan, world: World, obs: Observation): void {
  // A swarm leader only with quorum: a majority of the managers up.
  if (plan.swarm && obs.swarm?.leader) {
    const managers = plan.swarm.nodes.filter((n) => n.role === "manager").map((n) => n.host);
    const up = managers.filter((m) => world.engineUp(m));
    expect(up.length).toBeGreaterThanOrEqual(Math.floor(managers.length / 2) + 1);
    expect(world.engineUp(obs.swarm.leader)).toBe(true);
  }
  // A Consul leader only with quorum of its peers running.
  for (const a of Object.values(obs.consul ?? {})) {
    if (!a.running || a.leader === "") continue;
    const running = new Set(plan.consul!.agents.filter((x) => obs.consul![x.name]!.running).map((x) => `${x.advertiseAddr !== undefined ? fmt(x.advertiseAddr) : ""}:${x.ports.server}`));
    expect(running.has(a.leader)).toBe(true);
    expect(a.peers.filter((p) => running.has(p)).length).toBeGreaterThanOrEqual(Math.floor(a.peers.length / 2) + 1);
  }
  // No address handed out twice by one IPAM (local networks per host, overlays swarm-wide).
  const seen = new Map<string, string>();
  for (const [name, c] of Object.entries(obs.containers)) {
    for (const [net, ip] of Object.entries(c.addresses)) {
      const n = plan.networks.find((x) => x.name === net)!;
      if (n.driver === "macvlan" || n.driver === "ipvlan") continue; // per-host IPAM on a shared L2: duplicates are possible and predicted
      const key = `${n.scope === "swarm" ? "" : c.host}|${net}|${ip}`;
      expect(seen.get(key), `${ip} on ${net} given to ${name} and ${seen.get(key)}`).toBeUndefined();
      seen.set(key, name);
    }
  }
}

const fmt = (ip: number) => `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;

describe(`simulator model-based properties (fast-check seed ${SEED}, ${RUNS} runs)`, () => {
  for (const plan of plans) {
    it(`${plan.name}: random faults keep the invariants (leader only with quorum, no address given twice)`, () => {
      fc.assert(
        fc.property(fc.array(faultArb(plan), { maxLength: 8 }), (faults) => {
          const world = new World(plan);
          for (const s of compileSteps(plan, { faults: false })) world.apply(s);
          checkInvariants(plan, world, world.observe([]));
          faults.forEach((f, i) => {
            world.apply({ id: `f${i}`, kind: "fault", host: "*", fault: f, reason: "", after: [] });
            checkInvariants(plan, world, world.observe([]));
          });
        }),
        { numRuns: Math.max(10, Math.floor(RUNS / 2)) },
      );
    });

    it(`${plan.name}: the observation does not depend on the order of independent steps`, () => {
      const steps = compileSteps(plan, { faults: false });
      const probes = observationProbes(plan);
      const run = (order: Step[]) => {
        const w = new World(plan);
        for (const s of order) w.apply(s);
        return JSON.stringify(w.observe(probes));
      };
      const reference = run(steps);
      // why: containers sharing an address pool keep their relative order (it decides Docker's IPAM), agents
      // keep theirs (joins), everything else may move
      // as long as each step still comes after what it depends on.
      fc.assert(
        fc.property(fc.array(fc.nat(), { minLength: steps.length, maxLength: steps.length }), (keys) => {
          const order = randomTopological(steps, keys);
          expect(run(order)).toBe(reference);
        }),
        { numRuns: Math.max(10, Math.floor(RUNS / 2)) },
      );
    });
  }
});

/**
 * A topological order of `steps` chosen by `keys`, keeping container_run steps in their original order
 * among those that share an address pool, and Consul agents in order (what applyConcurrent keeps).
 */
function randomTopological(steps: Step[], keys: number[]): Step[] {
  const ids = new Set(steps.map((s) => s.id));
  const containers = steps.filter((s): s is Extract<Step, { kind: "container_run" }> => s.kind === "container_run");
  const agents = steps.filter((s) => s.kind === "consul_agent").map((s) => s.id);
  const deps = new Map(steps.map((s, i) => {
    const d = new Set(s.after.filter((a) => ids.has(a)));
    if (s.kind === "container_run") {
      const mine = new Set(s.pools);
      const prev = containers.slice(0, containers.findIndex((c) => c.id === s.id)).reverse().find((c) => c.pools.some((p) => mine.has(p)));
      if (prev) d.add(prev.id);
    }
    if (s.kind === "consul_agent") {
      const prev = agents[agents.indexOf(s.id) - 1];
      if (prev) d.add(prev);
    }
    return [s.id, { step: s, deps: d, key: keys[i] ?? 0 }] as const;
  }));
  const out: Step[] = [];
  const done = new Set<string>();
  while (out.length < steps.length) {
    const ready = [...deps.values()].filter((x) => !done.has(x.step.id) && [...x.deps].every((d) => done.has(d)));
    ready.sort((a, b) => a.key - b.key || (a.step.id < b.step.id ? -1 : 1));
    const next = ready[0]!;
    done.add(next.step.id);
    out.push(next.step);
  }
  return out;
}

const FIVE_NODES = `
hosts:
  - { name: m1, nics: [{ name: eth0, address: 10.1.0.1/24 }] }
  - { name: m2, nics: [{ name: eth0, address: 10.1.0.2/24 }] }
  - { name: m3, nics: [{ name: eth0, address: 10.1.0.3/24 }] }
  - { name: w1, nics: [{ name: eth0, address: 10.1.0.4/24 }], firewall: { inbound: deny, allow: [{ proto: any, from: [10.1.0.0/30] }] } }
  - { name: w2, nics: [{ name: eth0, address: 10.1.0.5/24 }] }
swarm: { managers: [m1, m2, m3], workers: [w1, w2] }
networks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]
containers:
  - { name: c1, host: w1, networks: [o] }
  - { name: c2, host: w2, networks: [o] }
  - { name: c3, host: w2, networks: [o] }
  - { name: c4, host: m1, networks: [o] }
`;

describe("reachability by equivalence class agrees with every pair", () => {
  const faultSets = [[], ["stop:consul-server-2"], ["mtu:lan=1400"], ["block:consul-server-1>consul-server-3:udp/4789"], ["cut:docker-72"]];
  for (const plan of [...plans, planFrom(FIVE_NODES)]) {
    for (const faults of faultSets) {
      const usable = faults.filter((f) => plan.hosts.some((h) => f.includes(h.name)) || f.startsWith("mtu"));
      it(`${plan.name} ${usable.join(" ") || "(no fault)"}: every pair behaves as its class cell says`, () => {
        const world = new World(plan);
        for (const s of compileSteps(plan, { faults: false })) world.apply(s);
        usable.forEach((f, i) => {
          const parsed = parseFault(f, [], plan.segments.map((x) => x.name));
          for (const r of parsed) if (r.ok) world.apply({ id: `f${i}`, kind: "fault", host: "*", fault: r.fault, reason: "", after: [] });
        });
        const m = world.classMatrix();
        const classOf = new Map(m.classes.flatMap((c) => c.members.map((name) => [name, c.id] as const)));
        const hostOf = (e: string) => (e.startsWith("host:") ? e.slice(5) : plan.containers.find((c) => c.name === e)!.host);
        for (const a of classOf.keys()) {
          for (const b of classOf.keys()) {
            if (a === b) continue;
            const cell = m.cells.find((c) => c.from === classOf.get(a) && c.to === classOf.get(b) && c.sameHost === (hostOf(a) === hostOf(b)));
            expect(cell, `${a}→${b} has a cell`).toBeDefined();
            const small = world.probe({ from: a, to: b, by: "address", size: 56, proto: "icmp" });
            expect(small.ok, `${a}→${b} like ${cell!.example}`).toBe(cell!.address);
            if (!b.startsWith("host:")) expect(world.probe({ from: a, to: b, by: "address", size: 1422, proto: "icmp" }).ok, `${a}→${b} large`).toBe(cell!.large);
          }
        }
      });
    }
  }
});

