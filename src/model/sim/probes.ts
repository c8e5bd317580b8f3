// Which probes an observation runs: the plan's expectations, and a reachability matrix between the
// plan's endpoints (containers and hosts), by address and by name, with a small and an MTU-edge packet.
import { formatIp } from "../ip.js";
import type { ProbeSpec } from "../observation.js";
import { DEFAULT_PING_PAYLOAD } from "../defaults.js";
import type { Endpoint, Expectation, Plan, Target } from "../plan.js";

/** ping -s 1422: a 1450-byte IP packet, the largest a default overlay carries (lab-notes §1f). */
export const LARGE_PAYLOAD = 1422;

export function endpointName(e: Endpoint): string {
  return e.kind === "host" ? `host:${e.host}` : e.container;
}

export function targetName(t: Target): { to: string; network?: string } {
  switch (t.kind) {
    case "ip": return { to: formatIp(t.ip) };
    case "host": return { to: `host:${t.host}` };
    case "container": return { to: t.container, ...(t.network ? { network: t.network } : {}) };
  }
}

export function expectationProbe(e: Extract<Expectation, { kind: "reach" }>): ProbeSpec {
  return { from: endpointName(e.from), ...targetName(e.to), by: e.by, size: e.size, proto: e.proto, ...(e.port !== undefined ? { port: e.port } : {}) };
}

/** Endpoints of the matrix: workload containers (not host-network ones) and hosts. */
export function matrixEndpoints(plan: Plan): { containers: string[]; hosts: string[] } {
  return {
    containers: plan.containers.filter((c) => c.networkMode !== "host").map((c) => c.name),
    hosts: plan.hosts.map((h) => `host:${h.name}`),
  };
}

/** The full matrix: every endpoint to every container (address small/large, name) and to every host. */
export function matrixProbes(plan: Plan): ProbeSpec[] {
  const { containers, hosts } = matrixEndpoints(plan);
  const out: ProbeSpec[] = [];
  for (const from of [...containers, ...hosts]) {
    for (const to of containers) {
      if (to === from) continue;
      out.push({ from, to, by: "address", size: DEFAULT_PING_PAYLOAD, proto: "icmp" });
      out.push({ from, to, by: "address", size: LARGE_PAYLOAD, proto: "icmp" });
      if (!from.startsWith("host:")) out.push({ from, to, by: "name", size: DEFAULT_PING_PAYLOAD, proto: "icmp" });
    }
    for (const to of hosts) {
      if (to === from) continue;
      out.push({ from, to, by: "address", size: DEFAULT_PING_PAYLOAD, proto: "icmp" });
    }
  }
  return out;
}

export function observationProbes(plan: Plan, opts: { matrix?: boolean } = {}): ProbeSpec[] {
  const seen = new Set<string>();
  const out: ProbeSpec[] = [];
  const add = (p: ProbeSpec) => {
    const k = JSON.stringify(p);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(p);
    }
  };
  for (const e of plan.expectations) if (e.kind === "reach") add(expectationProbe(e));
  if (opts.matrix !== false) for (const p of matrixProbes(plan)) add(p);
  return out;
}
