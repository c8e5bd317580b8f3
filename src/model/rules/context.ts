// What every rule gets: the plan, its indexes, the predicted addresses and the topology, each built once.
import type { Diagnostic } from "../diagnostics.js";
import { contains, formatIp, type Ip } from "../ip.js";
import { allocateAddresses, type Allocation } from "../net/ipam.js";
import { baseNic, buildTopology, containerNetns, hostNetns, vlanId, type NetnsId, type Topology } from "../net/topology.js";
import { indexPlan, type AddressRef, type Container, type Endpoint, type Host, type Plan, type PlanIndex, type Target } from "../plan.js";

export interface RuleContext {
  readonly plan: Plan;
  readonly index: PlanIndex;
  readonly allocation: Allocation;
  readonly topo: Topology;
}

export type Rule = (ctx: RuleContext) => Diagnostic[];

/** The topology is built on first use: most rules never need the containers' namespaces. */
export function makeContext(plan: Plan): RuleContext {
  const index = indexPlan(plan);
  const allocation = allocateAddresses(plan);
  let topo: Topology | undefined;
  return {
    plan, index, allocation,
    get topo() {
      return (topo ??= buildTopology(plan, allocation, index));
    },
  };
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
  const book = ctx.allocation.addresses;
  if (network !== undefined) return book.get(name, network);
  if (towards) {
    // The address on a network both share, as `ping <ip>` from that container would use.
    for (const a of c.attachments) {
      const ip = book.get(name, a.network);
      if (ip !== undefined && towards.attachments.some((b) => b.network === a.network)) return ip;
    }
  }
  for (const a of c.attachments) {
    const ip = book.get(name, a.network);
    if (ip !== undefined) return ip;
  }
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

/**
 * The address lies in one of the host's NIC subnets and nothing on that NIC's segment (host NIC, shim, router)
 * holds it: as an advertise address, a typo rather than NAT, and nobody reaches it.
 */
export function onOwnLanUnheld(ctx: RuleContext, host: string, ip: Ip): boolean {
  const h = ctx.index.hosts.get(host);
  const nic = h?.nics.find((n) => contains(n.cidr, ip));
  if (!h || !nic) return false;
  const dom = ctx.topo.nicDomain.get(`${host}/${nic.name}`);
  return dom !== undefined && !(ctx.topo.domains.get(dom)?.members.has(ip) ?? false);
}

/**
 * The L2 domain a NIC, shim or macvlan/ipvlan parent sits in, as a key: its base NIC's segment (or the NIC
 * alone when no segment lists it), and for an 802.1q parent (eth0.10) that segment's VLAN. The topology's
 * macvlanDomain draws the same line.
 */
export function l2Domain(ctx: RuleContext, host: string, nicOrParent: string): string {
  const base = baseNic(nicOrParent);
  const seg = ctx.index.segmentOfNic.get(`${host}/${base}`) ?? `nic:${host}/${base}`;
  const vid = vlanId(nicOrParent);
  return vid !== undefined ? `${seg}.${vid}` : seg;
}
