// What every rule gets: the plan, its indexes, the predicted addresses and the topology, each built once.
import type { Diagnostic } from "../diagnostics.js";
import { formatIp, type Ip } from "../ip.js";
import { allocateAddresses, type Allocation } from "../net/ipam.js";
import { buildTopology, containerNetns, hostNetns, type NetnsId, type Topology } from "../net/topology.js";
import { indexPlan, type AddressRef, type Container, type Endpoint, type Host, type Plan, type PlanIndex, type Target } from "../plan.js";

export interface RuleContext {
  readonly plan: Plan;
  readonly index: PlanIndex;
  readonly allocation: Allocation;
  readonly topo: Topology;
}

export type Rule = (ctx: RuleContext) => Diagnostic[];

export function makeContext(plan: Plan): RuleContext {
  const index = indexPlan(plan);
  const allocation = allocateAddresses(plan);
  const topo = buildTopology(plan, allocation, index);
  return { plan, index, allocation, topo };
}

/** The address an AddressRef stands for, as predicted; undefined when it cannot be known. */
export function resolveAddress(ctx: RuleContext, ref: AddressRef, near?: string): Ip | undefined {
  switch (ref.kind) {
    case "ip": return ref.ip;
    case "host": return hostAddress(ctx.index.hosts.get(ref.host), near);
    case "container": return containerAddress(ctx, ref.container, ref.network);
  }
}

export function containerAddress(ctx: RuleContext, name: string, network?: string, towards?: Container): Ip | undefined {
  const c = ctx.index.containers.get(name);
  if (!c) return undefined;
  if (c.networkMode === "host") return hostAddress(ctx.index.hosts.get(c.host));
  const mine = ctx.allocation.addresses.get(name);
  if (!mine) return undefined;
  if (network !== undefined) return mine.get(network);
  if (towards) {
    // The address on a network both share, as `ping <ip>` from that container would use.
    for (const a of c.attachments) if (towards.attachments.some((b) => b.network === a.network) && mine.has(a.network)) return mine.get(a.network);
  }
  for (const a of c.attachments) if (mine.has(a.network)) return mine.get(a.network);
  return undefined;
}

/** A host's address: its first NIC's (the one the default segment joins). */
export function hostAddress(h: Host | undefined, _near?: string): Ip | undefined {
  return h?.nics[0]?.ip;
}

export function endpointNetns(ctx: RuleContext, e: Endpoint): NetnsId | undefined {
  if (e.kind === "host") return hostNetns(e.host);
  const c = ctx.index.containers.get(e.container);
  return c ? containerNetns(c) : undefined;
}

export function endpointLabel(e: Endpoint): string {
  return e.kind === "host" ? `host ${e.host}` : e.container;
}

export function targetAddress(ctx: RuleContext, t: Target, from?: Endpoint): Ip | undefined {
  switch (t.kind) {
    case "ip": return t.ip;
    case "host": return hostAddress(ctx.index.hosts.get(t.host));
    case "container": {
      const towards = from?.kind === "container" ? ctx.index.containers.get(from.container) : undefined;
      return containerAddress(ctx, t.container, t.network, towards);
    }
  }
}

export function targetLabel(t: Target): string {
  switch (t.kind) {
    case "ip": return formatIp(t.ip);
    case "host": return `host ${t.host}`;
    case "container": return t.network ? `${t.container}@${t.network}` : t.container;
  }
}

/** "a, b, c and 4 more" */
export function listOf(xs: readonly string[], max = 3): string {
  if (xs.length <= max) return xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`;
  return `${xs.slice(0, max).join(", ")} and ${xs.length - max} more`;
}
