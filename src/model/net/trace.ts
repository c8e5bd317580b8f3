// Follows one packet through the topology, hop by hop, the way the kernels and Docker on the hosts
// would: route lookup in the sender's namespace, L2 delivery on a segment, bridge or overlay, MTU at
// every hop, firewalls, macvlan parent isolation, Docker's NAT for traffic leaving a bridge, published
// ports, VXLAN encapsulation between hosts, and the reply's way back.
import { overlayOuterSize, ICMP_IP_OVERHEAD, SWARM_GOSSIP_PORT, SWARM_MANAGER_PORT } from "../defaults.js";
import { contains, formatIp, isLoopback, type Ip } from "../ip.js";
import { PUBLIC_CLOUDS, type Host } from "../plan.js";
import { firewallAllows, type FlowProto } from "./firewall.js";
import { baseNic, hostNetns, type Domain, type Iface, type Member, type Netns, type NetnsId, type RouteEntry, type Topology } from "./topology.js";

/** Runtime conditions; the validator uses ALL_UP, the simulator its world. */
export interface NetState {
  hostUp(host: string): boolean;
  engineUp(host: string): boolean;
  /** The host's NICs are plugged into their switches (not cut off). */
  hostConnected(host: string): boolean;
  segmentMtu(segment: string, planned: number): number;
  containerRunning(name: string): boolean;
  /** A fault blocks this flow from one host to another (block_port, partition). */
  flowBlocked(fromHost: string, toHost: string, proto: FlowProto, port?: number): boolean;
  /** The host takes part in the swarm's overlay control plane (joined, engine up). */
  inSwarm(host: string): boolean;
  /** A host shim exists (its `ip link add` ran); without it, neither its address nor its routes do. Default: yes. */
  shimUp?(host: string, name: string): boolean;
}

export const ALL_UP: NetState = {
  hostUp: () => true,
  engineUp: () => true,
  hostConnected: () => true,
  segmentMtu: (_s, planned) => planned,
  containerRunning: () => true,
  flowBlocked: () => false,
  inSwarm: () => true,
};

export interface Probe {
  readonly proto: "icmp" | "tcp" | "udp";
  readonly port?: number;
  /** IP packet size in bytes (ping -s N sends N + 28). */
  readonly ipSize: number;
  /** Don't-fragment: ping -M do; TCP segments carry DF. */
  readonly df: boolean;
}

export function pingProbe(payload: number, df = false): Probe {
  return { proto: "icmp", ipSize: payload + ICMP_IP_OVERHEAD, df };
}

export type FailureCode =
  | "no_route" | "no_answer" | "isolation" | "mtu" | "firewall" | "down" | "not_listening"
  | "duplicate" | "mac_filter" | "outside" | "no_return" | "docker_forward" | "tunnel" | "name" | "not_published";

export interface Hop {
  readonly at: string;
  readonly note: string;
}

export interface TraceResult {
  readonly ok: boolean;
  readonly hops: readonly Hop[];
  readonly code?: FailureCode;
  readonly reason?: string;
  /** The namespace that answered. */
  readonly answeredBy?: NetnsId;
}

interface Ctx {
  topo: Topology;
  state: NetState;
  probe: Probe;
  hops: Hop[];
  /** This packet is a reply: conntrack lets it in, nothing needs to listen. */
  reverse: boolean;
  /** Do not follow the reply back (tunnels, DNAT legs, replies themselves). */
  noReply: boolean;
  depth: number;
}

const MAX_HOPS = 8;

export function trace(topo: Topology, state: NetState, from: NetnsId, dst: Ip, probe: Probe, opts: { reverse?: boolean; noReply?: boolean; depth?: number } = {}): TraceResult {
  const ctx: Ctx = { topo, state, probe, hops: [], reverse: opts.reverse ?? false, noReply: opts.noReply ?? opts.reverse ?? false, depth: opts.depth ?? 0 };
  return walk(ctx, from, dst);
}

function fail(ctx: Ctx, code: FailureCode, at: string, reason: string): TraceResult {
  ctx.hops.push({ at, note: `✗ ${reason}` });
  return { ok: false, hops: ctx.hops, code, reason };
}

function label(ns: Netns): string {
  return ns.kind === "host" ? ns.host : `${ns.container}@${ns.host}`;
}

function walk(ctx: Ctx, from: NetnsId, dst: Ip): TraceResult {
  const { topo } = ctx;
  const start = topo.netns.get(from);
  if (!start) return fail(ctx, "down", from, "no such namespace");
  let cur: Netns = start;
  let size = ctx.probe.ipSize;
  // Source address as the receiver sees it (changes when a host masquerades container traffic).
  let srcIp: Ip | undefined;
  let srcNetns: NetnsId = from;
  let arrivedFromBridge = false;
  // Set when an ipvlan L3 child handed its packet to its master's namespace: routed there, but past netfilter.
  let l3Handoff = false;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const here = label(cur);
    const alive = aliveReason(ctx, cur);
    if (alive) return fail(ctx, "down", here, alive);
    // Published ports: the host DNATs to the container before anything else (nat PREROUTING/OUTPUT).
    if (cur.kind === "host" && !l3Handoff) {
      const dnat = publishedTarget(ctx, cur.host, dst);
      if (dnat) return dnat;
    }
    // Delivered to this namespace?
    const own = cur.ifaces.find((i) => i.ip === dst && !(i.kind === "shim" && ctx.state.shimUp?.(cur.host, i.name) === false)) ?? (isLoopback(dst) ? loopback : undefined);
    if (own) {
      return deliverLocal(ctx, cur, dst, srcIp, srcNetns, arrivedFromBridge);
    }
    const route = lookup(cur, dst, ctx.state);
    if (!route) return fail(ctx, "no_route", here, `no route to ${formatIp(dst)} (Network is unreachable)`);
    const iface = cur.ifaces.find((i) => i.name === route.iface)!;
    if (srcIp === undefined) srcIp = iface.ip;
    if (cur.kind === "host" && hop === 0 && iface.kind !== "shim" && topo.ipvlanL3.get(cur.host)?.has(dst)) {
      return fail(ctx, "isolation", here, `${cur.host} cannot reach its own ipvlan L3 children through ${iface.name} (the master never passes traffic to its own children); add an ipvlan shim in the same mode`);
    }
    if (iface.l3) {
      // ipvlan L3 (kernel ipvlan.rst): the master first looks for a child (or L3 shim) with the destination
      // address on the same master and hands the packet straight to it; anything else is routed by the
      // master's own namespace and leaves with the host's MAC, the container's source address kept.
      const sibling = topo.ipvlanL3.get(cur.host)?.get(dst);
      if (sibling !== undefined) {
        ctx.hops.push({ at: here, note: `→ ${label(topo.netns.get(sibling)!)} on the same ipvlan L3 master` });
        cur = topo.netns.get(sibling)!;
        continue;
      }
      if (iface.kind === "ipvlan") {
        const hostNs = topo.netns.get(hostNetns(cur.host))!;
        // To one of the host's own addresses the master's routing delivers locally (ipvlan_process_v4_outbound
        // takes local routes); whether the host can answer is its own route back, through an L3 shim or not at all.
        const spoof = hostNs.ifaces.some((i) => i.ip === dst) ? undefined : ipSpoofFilter(host(ctx, cur.host));
        if (spoof) return fail(ctx, "mac_filter", here, `${spoof} drops packets from ${formatIp(iface.ip)}, an address not assigned to ${cur.host}'s NIC`);
        ctx.hops.push({ at: here, note: `handed to ${cur.host}'s routing table (ipvlan L3: the master's namespace routes, source ${formatIp(iface.ip)} kept)` });
        cur = hostNs;
        l3Handoff = true;
        continue;
      }
    }
    l3Handoff = false;
    const nextHop = route.via ?? dst;
    if (size > iface.mtu) {
      if (ctx.probe.df) return fail(ctx, "mtu", here, `packet of ${size} bytes does not fit ${iface.name} (MTU ${iface.mtu}) and may not be fragmented`);
      ctx.hops.push({ at: here, note: `fragments the ${size}-byte packet to ${iface.mtu} on ${iface.name}` });
      size = iface.mtu;
    }
    ctx.hops.push({ at: here, note: `${formatIp(dst)} via ${route.via !== undefined ? formatIp(route.via) : "direct"} on ${iface.name} (${describeDomain(ctx, iface.domain)})` });
    const domain = topo.domains.get(iface.domain)!;
    const delivered = deliverInDomain(ctx, cur, iface, domain, nextHop, size);
    if ("failure" in delivered) return delivered.failure;
    const m = delivered.member;
    if (m.router) {
      if (nextHop === dst) return succeed(ctx, `router ${formatIp(dst)}`, "answers (a device outside the plan)", undefined);
      const ext = topo.plan.externals.find((e) => contains(e.cidr, dst));
      if (ext) return succeed(ctx, `router ${formatIp(nextHop)}`, `forwards towards ${ext.name} ${ext.cidr.text} (outside the plan: assumed reachable)`, undefined);
      const inner = dockerSubnetOf(ctx, dst);
      if (inner) return fail(ctx, "no_route", here, `${formatIp(dst)} is inside ${inner}, which exists only inside Docker: ${here} has no route into it, and its gateway ${formatIp(nextHop)} (a router outside the plan) has none either`);
      return fail(ctx, "outside", `router ${formatIp(nextHop)}`, `${formatIp(dst)} lies beyond a router outside the plan; crosshost cannot tell whether it answers (declare it under external: to assume it does)`);
    }
    if (m.lb !== undefined) {
      if (nextHop === dst && ctx.probe.proto === "icmp") return succeed(ctx, `lb-endpoint@${m.lb}`, "answers", undefined);
      return fail(ctx, "no_answer", `lb-endpoint@${m.lb}`, "the node's load-balancer endpoint forwards nothing here");
    }
    const next = topo.netns.get(m.netns!)!;
    const l3Child = next.kind === "host" && nextHop !== dst ? topo.ipvlanL3.get(next.host)?.get(dst) : undefined;
    if (l3Child !== undefined) {
      // Addressed to the host's MAC, for an address of one of its ipvlan L3 children: the master hands it over by address.
      ctx.hops.push({ at: label(next), note: `→ ${label(topo.netns.get(l3Child)!)} (ipvlan L3 master delivers by destination address)` });
      cur = topo.netns.get(l3Child)!;
      continue;
    }
    if (nextHop !== dst) {
      // A gateway: only a host forwards, and only what leaves a Docker bridge (masqueraded). New
      // connections from outside into a bridge are dropped by Docker's FORWARD rules (published ports excepted).
      if (next.kind !== "host") return fail(ctx, "no_answer", label(next), `${formatIp(nextHop)} does not forward packets`);
      const inIface = next.ifaces.find((i) => i.ip === nextHop);
      if (!inIface || inIface.kind !== "bridge") {
        const route2 = lookup(next, dst, ctx.state);
        const out = route2 ? next.ifaces.find((i) => i.name === route2.iface) : undefined;
        if (out?.kind === "bridge") return fail(ctx, "docker_forward", label(next), `Docker's FORWARD rules drop new connections from outside into ${out.name} (only published ports are let in)`);
        if (!route2) return fail(ctx, "no_route", label(next), `no route to ${formatIp(dst)}`);
        ctx.hops.push({ at: label(next), note: `forwards (routing between its NICs)` });
      } else {
        const route2 = lookup(next, dst, ctx.state);
        const out = route2 ? next.ifaces.find((i) => i.name === route2.iface) : undefined;
        if (out && out.kind !== "bridge") {
          ctx.hops.push({ at: label(next), note: `masquerades ${formatIp(srcIp)} behind ${formatIp(out.ip)}` });
          srcIp = out.ip;
          srcNetns = next.id;
        } else if (out && out.kind === "bridge" && out.name !== inIface.name) {
          return fail(ctx, "docker_forward", label(next), `Docker isolates bridge networks from each other (${inIface.name} → ${out.name})`);
        }
        arrivedFromBridge = true;
      }
    }
    cur = next;
  }
  return fail(ctx, "no_route", label(cur), "too many hops (routing loop)");
}

const loopback: Iface = { name: "lo", kind: "nic", ip: 0x7f000001, cidr: { base: 0x7f000000, prefix: 8, first: 0x7f000000, last: 0x7fffffff, text: "127.0.0.0/8" }, domain: "lo", mtu: 65536 };

function succeed(ctx: Ctx, at: string, note: string, by: NetnsId | undefined): TraceResult {
  ctx.hops.push({ at, note: `✓ ${note}` });
  return { ok: true, hops: ctx.hops, ...(by ? { answeredBy: by } : {}) };
}

function aliveReason(ctx: Ctx, ns: Netns): string | undefined {
  const { state } = ctx;
  if (!state.hostUp(ns.host)) return `host ${ns.host} is down`;
  if (ns.kind === "container") {
    if (!state.engineUp(ns.host)) return `the Docker engine on ${ns.host} is stopped, so is ${ns.container}`;
    if (!state.containerRunning(ns.container!)) return `container ${ns.container} is not running`;
  }
  return undefined;
}

/** The longest-prefix route, connected subnets included; `state` leaves out shims that were never made. */
export function lookup(ns: Netns, dst: Ip, state?: NetState): RouteEntry | undefined {
  let best: RouteEntry | undefined;
  const gone = state?.shimUp ? new Set(ns.ifaces.filter((i) => i.kind === "shim" && !state.shimUp!(ns.host, i.name)).map((i) => i.name)) : undefined;
  const consider = (r: RouteEntry) => {
    if (gone?.has(r.iface)) return;
    if (contains(r.to, dst) && (!best || r.to.prefix > best.to.prefix)) best = r;
  };
  for (const i of ns.ifaces) consider({ to: i.cidr, iface: i.name, source: "connected" });
  for (const r of ns.routes) consider(r);
  return best;
}

/** The Docker network (overlay, bridge, macvlan subnet) an address belongs to, if the plan has one. */
function dockerSubnetOf(ctx: Ctx, ip: Ip): string | undefined {
  for (const n of ctx.topo.plan.networks) {
    for (const inst of n.instances) {
      if (contains(inst.subnet, ip)) {
        const kind = n.driver === "overlay" ? (n.ingress ? "the ingress overlay" : `overlay ${n.name}`) : n.name === "bridge" ? `docker0 of ${inst.host}` : `${n.driver} network ${n.name}${inst.host ? ` on ${inst.host}` : ""}`;
        return `${kind} (${inst.subnet.text})`;
      }
    }
  }
  return undefined;
}

function describeDomain(ctx: Ctx, id: string): string {
  const d = ctx.topo.domains.get(id);
  if (!d) return id;
  switch (d.kind) {
    case "segment": return d.vlan !== undefined ? `VLAN ${d.vlan} on switch ${d.segment}` : `switch ${d.segment}`;
    case "bridge": return d.network === "bridge" ? `docker0 on ${d.host}` : d.network === "docker_gwbridge" ? `docker_gwbridge on ${d.host}` : `bridge ${d.network} on ${d.host}`;
    case "overlay": return `overlay ${d.network}`;
    default: return "an unplugged NIC";
  }
}

function memberLabel(ctx: Ctx, m: Member): string {
  if (m.router) return "router";
  if (m.lb !== undefined) return `lb-endpoint@${m.lb}`;
  const ns = ctx.topo.netns.get(m.netns!);
  return ns ? label(ns) : m.netns!;
}

type Delivery = { member: Member } | { failure: TraceResult };

function deliverInDomain(ctx: Ctx, sender: Netns, iface: Iface, d: Domain, nextHop: Ip, size: number): Delivery {
  const { topo, state } = ctx;
  const here = label(sender);
  // A shim that was never made answers no ARP.
  const owners = (d.members.get(nextHop) ?? []).filter((o) => !(o.iface !== undefined && o.host !== undefined && o.netns === hostNetns(o.host) && topo.netns.get(o.netns)?.ifaces.some((i) => i.name === o.iface && i.kind === "shim") && state.shimUp?.(o.host, o.iface) === false));
  if (owners.length === 0) {
    return { failure: fail(ctx, "no_answer", here, `nobody on ${describeDomain(ctx, d.id)} answers ARP for ${formatIp(nextHop)}`) };
  }
  if (owners.length > 1) {
    const who = owners.map((o) => memberLabel(ctx, o)).join(" and ");
    // Docker derives a container's MAC from its IP (02:42:…), so two containers share one MAC; a NIC or shim has
    // its own MAC, and then whichever answered ARP last gets the traffic.
    const containersOnly = owners.every((o) => o.netns !== undefined && topo.netns.get(o.netns)?.kind === "container");
    return { failure: fail(ctx, "duplicate", here, `${formatIp(nextHop)} is claimed by ${who}: ${containersOnly ? "with the same MAC (Docker derives it from the IP), delivery flips between them" : "traffic goes to whichever answered ARP last"}`) };
  }
  const m = owners[0]!;
  const recvHost = m.host;
  switch (d.kind) {
    case "bridge": {
      if (recvHost !== undefined && !state.hostUp(recvHost)) return { failure: fail(ctx, "down", here, `host ${recvHost} is down`) };
      return { member: m };
    }
    case "isolated":
      return { member: m };
    case "segment": {
      const senderHost = sender.host;
      if (!state.hostConnected(senderHost)) return { failure: fail(ctx, "down", here, `${senderHost} is cut off its switch`) };
      if (m.router) {
        if (size > state.segmentMtu(d.segment!, d.mtu)) return { failure: fail(ctx, "mtu", here, `switch ${d.segment} (MTU ${state.segmentMtu(d.segment!, d.mtu)}) drops the ${size}-byte frame`) };
        return { member: m };
      }
      if (recvHost === undefined) return { member: m };
      const sameHost = recvHost === senderHost;
      const senderChild = iface.kind === "macvlan" || iface.kind === "ipvlan";
      const recvIface = m.netns ? topo.netns.get(m.netns)?.ifaces.find((i) => i.name === m.iface) : undefined;
      const recvChild = recvIface?.kind === "macvlan" || recvIface?.kind === "ipvlan";
      if (sameHost) {
        // The kernel never passes frames between a macvlan/ipvlan parent and its own children
        // (moby/libnetwork#1915); children of one parent talk in bridge mode; a shim is a child too.
        const senderParent = senderChild || iface.kind === "shim" ? iface.parent : iface.name;
        const recvParent = recvChild || recvIface?.kind === "shim" ? recvIface?.parent : recvIface?.name;
        const senderIsChild = senderChild || iface.kind === "shim";
        const recvIsChild = recvChild || recvIface?.kind === "shim";
        if (senderParent === recvParent && senderIsChild !== recvIsChild) {
          // A shim on the parent is itself a child: the host answers ARP for any of its addresses on any
          // interface (Linux's weak host model), so a child reaches the host's NIC address through the shim.
          const hostNs = senderIsChild ? topo.netns.get(m.netns!) : sender;
          const shim = senderIsChild ? hostNs?.ifaces.find((i) => i.kind === "shim" && i.parent === senderParent) : undefined;
          if (shim) {
            ctx.hops.push({ at: here, note: `→ ${memberLabel(ctx, m)} through its shim ${shim.name} (the host answers ARP for its addresses on any interface)` });
            return { member: m };
          }
          // A shim that exists but is not used: the route to the child goes through the parent, not the shim.
          const planned = topo.netns.get(hostNetns(senderHost))?.ifaces.find((i) => i.kind === "shim" && i.parent !== undefined && baseNic(i.parent) === senderParent);
          const made = planned !== undefined && state.shimUp?.(senderHost, planned.name) !== false;
          const kind = iface.kind === "ipvlan" || recvIface?.kind === "ipvlan" ? "ipvlan" : "macvlan";
          const fix = planned && made
            ? `its shim ${planned.name} has no route to ${senderIsChild ? formatIp(iface.ip) : formatIp(nextHop)}: add it to the shim's routes`
            : planned ? `its shim ${planned.name} was never made (see its shim_create step)` : `add a ${kind} shim`;
          return { failure: fail(ctx, "isolation", here, `${host(ctx, senderHost).name}'s ${senderParent} and its own ${kind} children cannot talk (kernel ${kind} parent isolation); ${fix}`) };
        }
        if (senderIsChild && recvIsChild) {
          const mode = modeOf(ctx, iface) ?? modeOf(ctx, recvIface);
          if (mode === "private" || mode === "vepa") return { failure: fail(ctx, "isolation", here, `macvlan mode ${mode} does not pass frames between children of one parent`) };
        }
        ctx.hops.push({ at: here, note: `→ ${memberLabel(ctx, m)} on the same host` });
        return { member: m };
      }
      if (!state.hostUp(recvHost)) return { failure: fail(ctx, "no_answer", here, `${formatIp(nextHop)} does not answer: host ${recvHost} is down`) };
      if (!state.hostConnected(recvHost)) return { failure: fail(ctx, "no_answer", here, `${formatIp(nextHop)} does not answer: ${recvHost} is cut off the switch`) };
      const mtu = state.segmentMtu(d.segment!, d.mtu);
      if (size > mtu) return { failure: fail(ctx, "mtu", here, `switch ${d.segment} (MTU ${mtu}) silently drops the ${size}-byte frame`) };
      // The receiving NIC drops a frame larger than its own MTU: a jumbo-frame host can send what a
      // 1500-byte neighbour on the same switch never takes in, and no ICMP says so on one L2 segment
      // (measured in the netns lab: 9000 → 1500 on one bridge, 100% loss at 5000 bytes). A macvlan child
      // or shim receives through its parent NIC.
      const rxNic = recvIface?.kind === "nic" ? recvIface : recvIface?.parent !== undefined ? topo.netns.get(hostNetns(recvHost))?.ifaces.find((i) => i.kind === "nic" && i.name === recvIface.parent) : undefined;
      if (rxNic && size > rxNic.mtu) return { failure: fail(ctx, "mtu", here, `${recvHost}'s ${rxNic.name} (MTU ${rxNic.mtu}) drops the ${size}-byte frame`) };
      // An ipvlan child (or ipvlan shim) sends with its parent's MAC, so MAC filters pass it; only IP-level
      // anti-spoofing (public clouds, Neutron port security) drops its addresses.
      const filterFor = (i: Iface | undefined, h: string) =>
        i?.kind === "macvlan" || (i?.kind === "shim" && i.driver !== "ipvlan") ? { by: macFilter(host(ctx, h)), what: "macvlan MAC" }
          : i?.kind === "ipvlan" || i?.kind === "shim" ? { by: ipSpoofFilter(host(ctx, h)), what: "ipvlan address" } : undefined;
      const sf = filterFor(iface, senderHost);
      if (sf?.by) return { failure: fail(ctx, "mac_filter", here, `${sf.by} drops frames from the ${sf.what} of ${here}`) };
      const rf = filterFor(recvIface, recvHost);
      if (rf?.by) return { failure: fail(ctx, "mac_filter", here, `${rf.by} does not deliver frames for the ${rf.what} of ${memberLabel(ctx, m)}`) };
      // Flow checks for what is addressed to the receiving host itself happen at local delivery.
      const proto: FlowProto = ctx.probe.proto;
      if (state.flowBlocked(senderHost, recvHost, proto, ctx.probe.port)) return { failure: fail(ctx, "firewall", here, `a fault blocks ${proto}${ctx.probe.port ? `/${ctx.probe.port}` : ""} from ${senderHost} to ${recvHost}`) };
      return { member: m };
    }
    case "overlay": {
      if (m.lb !== undefined && recvHost === sender.host) return { member: m };
      const senderHost = sender.host;
      if (recvHost === undefined || recvHost === senderHost) return { member: m };
      const tunnel = overlayTunnel(ctx, senderHost, recvHost, d, size);
      if (tunnel) return { failure: tunnel };
      return { member: m };
    }
  }
}

function modeOf(ctx: Ctx, i: Iface | undefined): string | undefined {
  if (!i?.network) return undefined;
  return ctx.topo.index.networks.get(i.network)?.mode;
}

function host(ctx: Ctx, name: string): Host {
  return ctx.topo.index.hosts.get(name)!;
}

/** Who drops frames from MAC addresses the platform did not assign, if anyone (docker/docs#15855, moby/moby#30772). */
export function macFilter(h: Host): string | undefined {
  const p = h.platform;
  if (PUBLIC_CLOUDS.includes(p.kind)) return `${p.kind.toUpperCase()}'s virtual network`;
  if (p.kind === "vsphere") {
    if (p.promiscuous !== "accept") return "the vSphere port group (promiscuous mode not Accept)";
    const forged = p.forgedTransmits ?? (p.vswitch === "distributed" ? "reject" : "accept");
    if (forged !== "accept") return "the vSphere port group (forged transmits not Accept)";
  }
  if (p.kind === "hyperv" && p.macSpoofing !== true) return "the Hyper-V switch (MAC address spoofing off)";
  // Neutron port security is on by default and drops frames from MACs the port does not own.
  if (p.kind === "openstack" && p.promiscuous !== "accept") return "OpenStack Neutron port security (anti-spoofing)";
  if ((p.kind === "virtualbox" || p.kind === "kvm") && p.promiscuous === "reject") return `the ${p.kind} virtual switch (promiscuous mode off)`;
  return undefined;
}

/**
 * Who drops packets from addresses the platform did not assign to the VM's NIC: the public clouds' anti-spoofing
 * and Neutron port security check source addresses too, so ipvlan's shared MAC does not get its containers past them.
 */
export function ipSpoofFilter(h: Host): string | undefined {
  const p = h.platform;
  if (PUBLIC_CLOUDS.includes(p.kind) && p.sourceCheck !== false) return `${p.kind.toUpperCase()}'s virtual network (source address check)`;
  if (p.kind === "openstack" && p.promiscuous !== "accept") return "OpenStack Neutron port security (anti-spoofing)";
  return undefined;
}

/** VXLAN from one node to another: control plane (7946), data path (UDP port, ESP), underlay MTU. */
function overlayTunnel(ctx: Ctx, from: string, to: string, d: Domain, innerSize: number): TraceResult | undefined {
  const { topo, state } = ctx;
  const here = `${from}→${to}`;
  const swarm = topo.plan.swarm;
  if (!swarm) return fail(ctx, "tunnel", here, "no swarm: overlays need one");
  for (const h of [from, to]) if (!state.inSwarm(h) || !state.engineUp(h)) return fail(ctx, "tunnel", here, `${h} takes no part in the swarm's overlay network now`);
  const dstAddr = topo.tunnelAddr.get(to);
  const srcAddr = topo.tunnelAddr.get(from);
  if (dstAddr === undefined || srcAddr === undefined) return fail(ctx, "tunnel", here, "a node has no underlay address");
  // Peers learn each other's endpoints by gossip on 7946 (tcp+udp, both ways).
  for (const [a, b, aIp] of [[from, to, srcAddr], [to, from, dstAddr]] as const) {
    for (const proto of ["tcp", "udp"] as const) {
      const fw = firewallAllows(host(ctx, b), a, aIp, proto, SWARM_GOSSIP_PORT);
      if (!fw.allowed || state.flowBlocked(a, b, proto, SWARM_GOSSIP_PORT)) {
        return fail(ctx, "tunnel", here, `gossip ${proto}/${SWARM_GOSSIP_PORT} from ${a} to ${b} is blocked: ${b} never learns where the containers of ${d.network} are`);
      }
    }
  }
  if (d.encrypted) {
    for (const [a, b, aIp] of [[from, to, srcAddr], [to, from, dstAddr]] as const) {
      if (!firewallAllows(host(ctx, b), a, aIp, "esp").allowed || state.flowBlocked(a, b, "esp")) {
        return fail(ctx, "firewall", here, `IP protocol 50 (ESP) from ${a} to ${b} is blocked: the encrypted overlay ${d.network} cannot cross hosts`);
      }
    }
  }
  const outer = overlayOuterSize(innerSize, d.encrypted ?? false);
  // The inner DF bit: the VXLAN device checks its route MTU and answers "fragmentation needed".
  const srcNs = topo.netns.get(hostNetns(from))!;
  const route = lookup(srcNs, dstAddr);
  const egress = route ? srcNs.ifaces.find((i) => i.name === route.iface) : undefined;
  if (ctx.probe.df && egress && outer > egress.mtu) {
    return fail(ctx, "mtu", here, `${innerSize}-byte packet + ${outer - innerSize} bytes of VXLAN${d.encrypted ? "+ESP" : ""} exceeds ${from}'s ${egress.name} MTU ${egress.mtu}: fragmentation needed`);
  }
  ctx.hops.push({ at: here, note: `VXLAN ${formatIp(srcAddr)} → ${formatIp(dstAddr)} udp/${swarm.dataPathPort}, ${outer} bytes on the wire` });
  const sub = trace(topo, state, hostNetns(from), dstAddr, { proto: "udp", port: swarm.dataPathPort, ipSize: outer, df: false }, { noReply: true, depth: ctx.depth + 1 });
  for (const h of sub.hops) ctx.hops.push({ at: h.at, note: `  ${h.note}` });
  if (!sub.ok) return { ok: false, hops: ctx.hops, code: sub.code === "mtu" ? "mtu" : sub.code === "firewall" ? "firewall" : "tunnel", reason: `the VXLAN packet from ${from} to ${to} is lost: ${sub.reason}` };
  return undefined;
}

/** Arrived at the namespace that holds the destination address. */
function deliverLocal(ctx: Ctx, ns: Netns, dst: Ip, srcIp: Ip | undefined, srcNetns: NetnsId, fromBridge: boolean): TraceResult {
  const { probe, topo } = ctx;
  const here = label(ns);
  // A reply belongs to a connection the receiver opened: conntrack lets it in, no listener needed.
  if (ctx.reverse) return succeed(ctx, here, "gets the reply", ns.id);
  // Host firewall: everything addressed to the host itself, unless it comes from the host's own containers.
  if (ns.kind === "host" && srcIp !== undefined && !fromBridge) {
    const srcNs = topo.netns.get(srcNetns);
    const srcHost = srcNs?.host;
    if (srcHost !== ns.host) {
      const v = firewallAllows(host(ctx, ns.host), srcHost, srcIp, probe.proto, probe.port);
      if (!v.allowed) return fail(ctx, "firewall", here, `${ns.host}'s firewall drops ${probe.proto}${probe.port ? `/${probe.port}` : ""} from ${srcHost ?? formatIp(srcIp)}`);
    }
  }
  if (probe.proto !== "icmp") {
    const listening = listeners(ctx, ns).some((l) => l.port === probe.port && l.proto === probe.proto && (l.ip === undefined || l.ip === dst || (isLoopback(dst) && isLoopback(l.ip))));
    if (!listening) return fail(ctx, "not_listening", here, `nothing listens on ${formatIp(dst)}:${probe.port}/${probe.proto} (connection refused)`);
  }
  if (!ctx.noReply && srcIp !== undefined) {
    const reply: Probe = { proto: probe.proto, ipSize: probe.proto === "icmp" ? probe.ipSize : 60, df: probe.df };
    const back = trace(topo, ctx.state, ns.id, srcIp, reply, { reverse: true, depth: ctx.depth + 1 });
    if (!back.ok) {
      for (const h of back.hops) ctx.hops.push({ at: h.at, note: `  reply: ${h.note}` });
      return { ok: false, hops: ctx.hops, code: "no_return", reason: `the reply from ${here} to ${formatIp(srcIp)} is lost: ${back.reason}` };
    }
  }
  return succeed(ctx, here, probe.proto === "icmp" ? "answers" : `accepts ${probe.proto}/${probe.port}`, ns.id);
}

function listeners(ctx: Ctx, ns: Netns): { port: number; proto: string; ip?: Ip }[] {
  const { topo, state } = ctx;
  if (ns.kind === "container") return topo.index.containers.get(ns.container!)?.listen.slice() ?? [];
  // The host: its host-network containers (running) listen in its namespace, and a swarm node's
  // engine listens on 7946 (gossip), the data-path port (the kernel's VXLAN socket) and, on managers, 2377.
  const out: { port: number; proto: string; ip?: Ip }[] = [];
  const swarm = topo.plan.swarm;
  const node = topo.index.swarmNodes.get(ns.host);
  if (swarm && node && state.inSwarm(ns.host) && state.engineUp(ns.host)) {
    out.push({ port: SWARM_GOSSIP_PORT, proto: "tcp" }, { port: SWARM_GOSSIP_PORT, proto: "udp" }, { port: swarm.dataPathPort, proto: "udp" });
    if (node.role === "manager") out.push({ port: SWARM_MANAGER_PORT, proto: "tcp" });
  }
  for (const c of topo.hostNetworkOn.get(ns.host) ?? []) {
    if (state.engineUp(c.host) && state.containerRunning(c.name)) out.push(...c.listen);
  }
  return out;
}

/** A published port on the host that owns `dst`: continue to the container behind it. */
function publishedTarget(ctx: Ctx, hostName: string, dst: Ip): TraceResult | undefined {
  const { topo, probe, state } = ctx;
  if (ctx.reverse || probe.proto === "icmp" || probe.port === undefined) return undefined;
  const hostNs = topo.netns.get(hostNetns(hostName))!;
  for (const c of topo.publishingOn.get(hostName) ?? []) {
    for (const p of c.publish) {
      if (p.hostPort !== probe.port || p.proto !== probe.proto) continue;
      const ownerHost = c.host;
      const ownerNs = topo.netns.get(hostNetns(ownerHost))!;
      const owns = ownerNs.ifaces.some((i) => i.ip === dst && (p.hostIp === undefined || p.hostIp === dst));
      if (!owns) continue;
      if (ownerHost !== hostName) continue;
      if (!state.engineUp(ownerHost)) return fail(ctx, "down", hostName, `the engine on ${ownerHost} is stopped: port ${p.hostPort} is not published`);
      // Docker maps no port for a container whose every network is internal: the bridge driver skips
      // port mapping on internal networks and an overlay endpoint gets its mapping through the
      // docker_gwbridge leg, which libnetwork does not add for internal networks (needDefaultGW).
      if (c.attachments.length > 0 && c.attachments.every((a) => topo.index.networks.get(a.network)?.internal)) {
        return fail(ctx, "not_published", hostName, `${c.name} is only on internal networks (${c.attachments.map((a) => a.network).join(", ")}): Docker publishes no port for it, so nothing listens on ${formatIp(dst)}:${p.hostPort}`);
      }
      const bridgeAtt = c.attachments.find((a) => topo.index.networks.get(a.network)?.driver === "bridge") ?? c.attachments[0];
      let ip = bridgeAtt ? topo.allocation.addresses.get(c.name, bridgeAtt.network) : undefined;
      // Overlay-only containers are published through their docker_gwbridge address.
      if (bridgeAtt && topo.index.networks.get(bridgeAtt.network)?.driver === "overlay") {
        ip = topo.netns.get(`ctr:${c.name}`)?.ifaces.find((i) => i.network === "docker_gwbridge")?.ip ?? ip;
      }
      if (ip === undefined) return fail(ctx, "no_answer", hostName, `${c.name} has no address behind published port ${p.hostPort}`);
      ctx.hops.push({ at: hostName, note: `DNAT ${formatIp(dst)}:${p.hostPort} → ${c.name} ${formatIp(ip)}:${p.containerPort} (published)` });
      const inner = trace(topo, state, hostNs.id, ip, { ...probe, port: p.containerPort }, { noReply: true, depth: ctx.depth + 1 });
      for (const h of inner.hops) ctx.hops.push(h);
      return inner.ok ? { ok: true, hops: ctx.hops, ...(inner.answeredBy ? { answeredBy: inner.answeredBy } : {}) } : { ok: false, hops: ctx.hops, ...(inner.code ? { code: inner.code } : {}), ...(inner.reason ? { reason: inner.reason } : {}) };
    }
  }
  return undefined;
}
