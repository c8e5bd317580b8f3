// Expectations against an observation (predicted or real), and prediction against reality.
import { formatIp } from "../ip.js";
import { probeKey, type Observation, type ProbeResult } from "../observation.js";
import type { ConsulAgent, Expectation, Plan } from "../plan.js";
import { expectationProbe } from "./probes.js";
import { allocateAddresses, type Allocation } from "../net/ipam.js";
import { advertisedAddress } from "../rules/consul.js";

export interface ExpectationResult {
  readonly expectation: Expectation;
  readonly text: string;
  readonly ok: boolean;
  /** What was observed instead, when it failed (and the reason, when one is known). */
  readonly detail?: string;
}

export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case "reach": {
      const p = expectationProbe(e);
      return `${e.reach ? "reach" : "no_reach"} ${p.from} → ${p.to}${p.network ? `@${p.network}` : ""}${e.by === "name" ? " by name" : ""}${e.proto !== "icmp" ? ` ${e.proto}/${e.port}` : ""}${e.size !== 56 ? ` (${e.size} bytes)` : ""}`;
    }
    case "consul_leader": return `consul_leader ${e.leader === true ? "elected" : e.leader === false ? "none" : e.leader}`;
    case "swarm_leader": return `swarm_leader ${e.leader === true ? "elected" : e.leader === false ? "none" : e.leader}`;
    case "service_health": return `service_${e.health} ${e.service}`;
    case "sees_network": return `${e.sees ? "sees_network" : "not_sees_network"} ${e.host} ${e.network}`;
  }
}

function agentAddress(plan: Plan, a: ConsulAgent, allocation: Allocation | undefined): string | undefined {
  const ip = advertisedAddress(a, (h) => plan.hosts.find((x) => x.name === h)?.nics[0]?.ip, allocation);
  return ip === undefined ? undefined : `${formatIp(ip)}:${a.ports.server}`;
}

export function evaluateExpectations(plan: Plan, obs: Observation): ExpectationResult[] {
  const probes = new Map(obs.probes.map((p) => [probeKey(p), p] as const));
  return plan.expectations.map((e): ExpectationResult => {
    const text = describeExpectation(e);
    switch (e.kind) {
      case "reach": {
        const p: ProbeResult | undefined = probes.get(probeKey(expectationProbe(e)));
        if (!p) return { expectation: e, text, ok: false, detail: "not probed" };
        const ok = p.ok === e.reach;
        return { expectation: e, text, ok, ...(ok ? {} : { detail: p.ok ? "it does reach" : p.reason ?? "unreachable" }) };
      }
      case "consul_leader": {
        // A named leader is looked for in its own datacenter: each datacenter elects its own.
        const dc = typeof e.leader === "string" ? plan.consul?.agents.find((a) => a.name === e.leader)?.datacenter : undefined;
        const agents = (plan.consul?.agents ?? []).filter((a) => dc === undefined || a.datacenter === dc);
        const views = agents.map((a) => obs.consul?.[a.name]).filter((v) => v !== undefined);
        const leaders = new Set(views.filter((a) => a.running).map((a) => a.leader).filter((l) => l !== ""));
        const allocation = agents.some((a) => a.network !== "host") ? allocateAddresses(plan) : undefined;
        // Only servers lead: where a client shares a server's address, the address names the server.
        const byAddr = new Map([...agents].sort((x, y) => Number(x.server) - Number(y.server)).map((a) => [agentAddress(plan, a, allocation), a.name] as const));
        const names = [...leaders].map((l) => byAddr.get(l) ?? l);
        if (e.leader === false) return { expectation: e, text, ok: names.length === 0, ...(names.length ? { detail: `leader ${names.join(", ")}` } : {}) };
        if (e.leader === true) return { expectation: e, text, ok: names.length > 0, ...(names.length ? {} : { detail: "no agent knows a leader" }) };
        const ok = names.length === 1 && names[0] === e.leader;
        return { expectation: e, text, ok, ...(ok ? {} : { detail: names.length ? `leader ${names.join(", ")}` : "no leader" }) };
      }
      case "swarm_leader": {
        const leader = obs.swarm?.leader ?? null;
        const ok = e.leader === true ? leader !== null : e.leader === false ? leader === null : leader === e.leader;
        return { expectation: e, text, ok, ...(ok ? {} : { detail: leader ? `leader ${leader}` : "no leader" }) };
      }
      case "service_health": {
        const s = obs.services[e.service];
        const ok = s?.health === e.health;
        return { expectation: e, text, ok, ...(ok ? {} : { detail: s ? `${s.health}${s.reason ? `: ${s.reason}` : ""}` : "not observed" }) };
      }
      case "sees_network": {
        const nets = obs.hosts[e.host]?.networks ?? [];
        const ok = nets.includes(e.network) === e.sees;
        return { expectation: e, text, ok, ...(ok ? {} : { detail: `${e.host} lists ${nets.join(", ") || "no networks"}` }) };
      }
    }
  });
}

export interface Difference {
  /** Where: "consul.consul-server-1.leader", "probe box1→box2 address icmp 56". */
  readonly what: string;
  readonly predicted: string;
  readonly actual: string;
  /** Why the prediction said so (simulator reason), when known. */
  readonly note?: string;
}

const show = (v: unknown): string => (v === undefined ? "—" : typeof v === "string" ? (v === "" ? '""' : v) : JSON.stringify(v));

/**
 * Every observation where prediction and reality disagree. Addresses Docker hands out dynamically are
 * compared too: the simulator predicts Docker's IPAM, and a difference there is a finding like any other.
 */
export function compareObservations(predicted: Observation, actual: Observation): Difference[] {
  const out: Difference[] = [];
  const diff = (what: string, p: unknown, a: unknown, note?: string) => {
    if (JSON.stringify(canonical(p)) !== JSON.stringify(canonical(a))) out.push({ what, predicted: show(canonical(p)), actual: show(canonical(a)), ...(note ? { note } : {}) });
  };
  for (const h of Object.keys(predicted.hosts)) {
    const p = predicted.hosts[h]!, a = actual.hosts[h];
    diff(`host ${h} up`, p.up, a?.up);
    diff(`host ${h} engine`, p.engine, a?.engine);
    diff(`host ${h} networks`, [...p.networks].sort(), a ? [...a.networks].sort() : undefined);
  }
  for (const c of Object.keys(predicted.containers)) {
    const p = predicted.containers[c]!, a = actual.containers[c];
    diff(`container ${c} state`, p.state, a?.state, p.error);
    diff(`container ${c} addresses`, p.addresses, a?.addresses);
  }
  if (predicted.swarm || actual.swarm) {
    // After a failover Raft's randomized election decides: any predicted candidate is right.
    const either = !!actual.swarm?.leader && !!predicted.swarm?.leaderCandidates?.includes(actual.swarm.leader);
    if (!either) diff("swarm leader", predicted.swarm?.leader ?? null, actual.swarm?.leader ?? null);
    diff("swarm active", predicted.swarm?.active ?? [], actual.swarm?.active ?? []);
    const nodes = (o: Observation | undefined) => Object.fromEntries((o?.swarm?.nodes ?? []).map((n) => [n.host, `${n.role}/${n.status}${n.manager ? `/${either && n.manager === "leader" ? "reachable" : n.manager}` : ""}`]));
    diff("swarm nodes", nodes(predicted), nodes(actual));
  }
  if (predicted.consul || actual.consul) {
    for (const name of Object.keys(predicted.consul ?? actual.consul ?? {})) {
      const p = predicted.consul?.[name], a = actual.consul?.[name];
      diff(`consul ${name} running`, p?.running, a?.running);
      if (!p?.running && !a?.running) continue;
      if (!(a?.leader && p?.leaderCandidates?.includes(a.leader))) diff(`consul ${name} leader`, p?.leader, a?.leader);
      diff(`consul ${name} peers`, [...(p?.peers ?? [])].sort(), [...(a?.peers ?? [])].sort());
      diff(`consul ${name} members`, p?.members, a?.members);
    }
  }
  for (const id of Object.keys(predicted.services)) {
    const p = predicted.services[id]!, a = actual.services[id];
    diff(`service ${id} registered`, p.registered, a?.registered);
    diff(`service ${id} health`, p.health, a?.health, p.reason);
  }
  const actualProbes = new Map(actual.probes.map((p) => [probeKey(p), p] as const));
  for (const p of predicted.probes) {
    const a = actualProbes.get(probeKey(p));
    if (!a) continue;
    if (p.ok !== a.ok) out.push({ what: `probe ${probeKey(p)}`, predicted: p.ok ? "reaches" : "unreachable", actual: a.ok ? "reaches" : `unreachable${a.reason ? ` (${a.reason})` : ""}`, ...(p.reason ? { note: p.reason } : {}) });
  }
  return out;
}

/** Objects with their keys sorted, so that the order a driver listed things in never counts. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}
