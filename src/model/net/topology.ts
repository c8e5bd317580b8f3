// The plan as a set of network namespaces (hosts, containers) with interfaces on L2 domains (switch
// segments, per-host bridges, swarm overlays), and the routes each namespace has. Built once, read by
// the path tracer. Pure data; runtime state (a host stopped, a link cut) is applied by the tracer.
import { contains, makeCidr, type Cidr, type Ip } from "../ip.js";
import { overlayInterfaceMtu, stockWebPaths } from "../defaults.js";
import { indexPlan, instanceOn, shimDriver, type Container, type Host, type Network, type Plan, type PlanIndex } from "../plan.js";
import { allocateAddresses, type Allocation } from "./ipam.js";

export type NetnsId = string;
export type DomainId = string;

export type IfaceKind = "nic" | "bridge" | "shim" | "veth" | "macvlan" | "ipvlan" | "overlay";

export interface Iface {
  readonly name: string;
  readonly kind: IfaceKind;
  readonly ip: Ip;
  readonly cidr: Cidr;
  readonly domain: DomainId;
  readonly mtu: number;
  /** The Docker network this interface belongs to (container interfaces and host bridge gateways). */
  readonly network?: string;
  /** macvlan/ipvlan/shim: the host NIC they hang off. */
  readonly parent?: string;
  /** Docker's gateway for this network, for containers. */
  readonly gateway?: Ip;
  /** A shim's link type (shimDriver). */
  readonly driver?: "macvlan" | "ipvlan";
  /** An ipvlan child or shim in L3 (or L3S) mode: routed through its master's namespace, no ARP. */
  readonly l3?: boolean;
}

export interface RouteEntry {
  readonly to: Cidr;
  readonly via?: Ip;
  readonly iface: string;
  readonly source: "connected" | "plan" | "default" | "docker" | "shim";
}

export interface Netns {
  readonly id: NetnsId;
  readonly kind: "host" | "container";
  readonly host: string;
  readonly container?: string;
  readonly ifaces: Iface[];
  readonly routes: RouteEntry[];
}

export interface Member {
  readonly netns?: NetnsId;
  readonly iface?: string;
  /** A router or other device outside the plan. */
  readonly router?: boolean;
  /** Overlay load-balancer endpoint of a node: answers, forwards nothing. */
  readonly lb?: string;
  /** Which host the member physically sits on (for macvlan parent isolation and underlay paths). */
  readonly host?: string;
  /** The host NIC that carries the member's frames onto a segment. */
  readonly viaNic?: string;
}

export interface Domain {
  readonly id: DomainId;
  readonly kind: "segment" | "bridge" | "overlay" | "isolated";
  readonly mtu: number;
  readonly segment?: string;
  /** An 802.1q VLAN on the segment (macvlan/ipvlan parent eth0.10). */
  readonly vlan?: number;
  readonly host?: string;
  readonly network?: string;
  readonly encrypted?: boolean;
  /** IP → everything that claims it (more than one is a duplicate address). */
  readonly members: Map<Ip, Member[]>;
}

export interface Topology {
  readonly plan: Plan;
  readonly index: PlanIndex;
  readonly allocation: Allocation;
  readonly netns: ReadonlyMap<NetnsId, Netns>;
  readonly domains: ReadonlyMap<DomainId, Domain>;
  /** host NIC → domain, "host/nic". */
  readonly nicDomain: ReadonlyMap<string, DomainId>;
  /** Each host's underlay address used for overlay tunnels (its swarm advertise address). */
  readonly tunnelAddr: ReadonlyMap<string, Ip>;
  /** Per host: its containers, host-network ones, and those that publish ports. */
  readonly containersOn: ReadonlyMap<string, readonly Container[]>;
  readonly hostNetworkOn: ReadonlyMap<string, readonly Container[]>;
  readonly publishingOn: ReadonlyMap<string, readonly Container[]>;
  /**
   * Per host: the addresses of its ipvlan L3 children and L3 shims, and whose they are. In L3 mode the
   * master demultiplexes by destination address and the children answer no ARP (kernel ipvlan.rst:
   * "the slaves wont receive any multicast / broadcast traffic"), so they are not members of the segment.
   */
  readonly ipvlanL3: ReadonlyMap<string, ReadonlyMap<Ip, NetnsId>>;
}

export function hostNetns(host: string): NetnsId {
  return `host:${host}`;
}

/** A Consul agent's namespace: its host's under --net=host, else its container's. */
export function agentNetns(a: { readonly name: string; readonly host: string; readonly network: "host" | object }): NetnsId {
  return a.network === "host" ? hostNetns(a.host) : `ctr:${a.name}`;
}

export function containerNetns(c: Container): NetnsId {
  return c.networkMode === "host" ? hostNetns(c.host) : `ctr:${c.name}`;
}

export function segmentDomain(name: string): DomainId {
  return `seg:${name}`;
}

export function bridgeDomain(host: string, network: string): DomainId {
  return `br:${host}:${network}`;
}

export function overlayDomain(network: string): DomainId {
  return `ov:${network}`;
}

export function buildTopology(plan: Plan, allocation: Allocation = allocateAddresses(plan), index: PlanIndex = indexPlan(plan)): Topology {
  const netns = new Map<NetnsId, Netns>();
  const domains = new Map<DomainId, Domain>();
  const nicDomain = new Map<string, DomainId>();
  const domain = (id: DomainId, init: Omit<Domain, "id" | "members">): Domain => {
    let d = domains.get(id);
    if (!d) domains.set(id, (d = { id, ...init, members: new Map() }));
    return d;
  };
  const ipvlanL3 = new Map<string, Map<Ip, NetnsId>>();
  const addL3 = (host: string, ip: Ip, id: NetnsId) => {
    let m = ipvlanL3.get(host);
    if (!m) ipvlanL3.set(host, (m = new Map()));
    m.set(ip, id);
  };
  const l3Mode = (n: { driver: string; mode?: string } | undefined) => n?.driver === "ipvlan" && (n.mode === "l3" || n.mode === "l3s");
  const addMember = (d: Domain, ip: Ip, m: Member) => {
    const list = d.members.get(ip);
    if (list) list.push(m);
    else d.members.set(ip, [m]);
  };

  for (const s of plan.segments) {
    const d = domain(segmentDomain(s.name), { kind: "segment", mtu: s.mtu, segment: s.name });
    for (const r of s.routers) addMember(d, r, { router: true });
    for (const m of s.members) nicDomain.set(`${m.host}/${m.nic}`, d.id);
  }

  // Hosts: NICs on their segments, Docker bridges, shims, routes.
  for (const h of plan.hosts) {
    const id = hostNetns(h.name);
    const ns: Netns = { id, kind: "host", host: h.name, ifaces: [], routes: [] };
    netns.set(id, ns);
    for (const nic of h.nics) {
      let dom = nicDomain.get(`${h.name}/${nic.name}`);
      if (!dom) {
        dom = `nic:${h.name}:${nic.name}`;
        domain(dom, { kind: "isolated", mtu: nic.mtu, host: h.name });
        nicDomain.set(`${h.name}/${nic.name}`, dom);
      }
      ns.ifaces.push({ name: nic.name, kind: "nic", ip: nic.ip, cidr: nic.cidr, domain: dom, mtu: nic.mtu });
      addMember(domains.get(dom)!, nic.ip, { netns: id, iface: nic.name, host: h.name, viaNic: nic.name });
    }
    for (const shim of h.shims) {
      const dom = macvlanDomain(nicDomain, domains, h.name, shim.parent, domain);
      if (!dom) continue;
      const parentMtu = h.nics.find((n) => n.name === baseNic(shim.parent))?.mtu ?? 1500;
      const drv = shimDriver(plan, h.name, shim);
      const l3 = drv.type === "ipvlan" && (drv.mode === "l3" || drv.mode === "l3s");
      ns.ifaces.push({ name: shim.name, kind: "shim", ip: shim.ip, cidr: shim.cidr, domain: dom, mtu: parentMtu, parent: shim.parent, driver: drv.type, ...(l3 ? { l3 } : {}) });
      if (l3) addL3(h.name, shim.ip, id);
      else addMember(domains.get(dom)!, shim.ip, { netns: id, iface: shim.name, host: h.name, viaNic: baseNic(shim.parent) });
      for (const r of shim.routes) ns.routes.push({ to: r, iface: shim.name, source: "shim" });
    }
  }

  // Docker bridges on each host (docker0, user bridges, docker_gwbridge): the host holds the gateway.
  for (const n of plan.networks) {
    if (n.driver !== "bridge") continue;
    for (const inst of n.instances) {
      if (inst.host === undefined) continue;
      const d = domain(bridgeDomain(inst.host, n.name), { kind: "bridge", mtu: n.mtu ?? hostBridgeMtu(index.hosts.get(inst.host), n), host: inst.host, network: n.name });
      const ns = netns.get(hostNetns(inst.host));
      if (!ns) continue;
      const ifname = n.name === "bridge" ? "docker0" : n.name === "docker_gwbridge" ? "docker_gwbridge" : `br-${n.name}`.slice(0, 15);
      ns.ifaces.push({ name: ifname, kind: "bridge", ip: inst.gateway, cidr: inst.subnet, domain: d.id, mtu: d.mtu, network: n.name });
      addMember(d, inst.gateway, { netns: ns.id, iface: ifname, host: inst.host });
    }
  }
  for (const n of plan.networks) {
    if (n.driver !== "overlay") continue;
    const inst = n.instances[0];
    if (!inst) continue;
    const d = domain(overlayDomain(n.name), { kind: "overlay", mtu: overlayInterfaceMtu(n.mtu, n.encrypted), network: n.name, encrypted: n.encrypted });
    // The overlay gateway lives in each node's overlay namespace: nothing a container can use to leave.
    const lbs = allocation.lbAddresses.get(n.name);
    for (const [host, ip] of lbs ?? []) addMember(d, ip, { lb: host, host });
  }
  // Containers. docker_gwbridge addresses go out per host in start order; on a swarm node the ingress
  // sandbox takes the first one.
  const gwCount = new Map<string, number>();
  const swarmHosts = new Set(plan.swarm?.nodes.map((n) => n.host) ?? []);
  for (const c of plan.containers) {
    if (c.networkMode === "host") continue;
    const id = containerNetns(c);
    const ns: Netns = { id, kind: "container", host: c.host, container: c.name, ifaces: [], routes: [] };
    netns.set(id, ns);
    let eth = 0;
    for (const a of c.attachments) {
      const n = index.networks.get(a.network);
      const ip = allocation.addresses.get(c.name, a.network);
      if (!n || ip === undefined) continue;
      const inst = instanceOn(n, c.host);
      if (!inst) continue;
      const name = `eth${eth++}`;
      if (n.driver === "overlay") {
        const d = domains.get(overlayDomain(n.name))!;
        ns.ifaces.push({ name, kind: "overlay", ip, cidr: inst.subnet, domain: d.id, mtu: d.mtu, network: n.name });
        addMember(d, ip, { netns: id, iface: name, host: c.host });
      } else if (n.driver === "bridge") {
        const d = domains.get(bridgeDomain(c.host, n.name));
        if (!d) continue;
        ns.ifaces.push({ name, kind: "veth", ip, cidr: inst.subnet, domain: d.id, mtu: d.mtu, network: n.name, ...(n.internal ? {} : { gateway: inst.gateway }) });
        addMember(d, ip, { netns: id, iface: name, host: c.host });
      } else {
        const parent = inst.parent ?? "";
        const seg = macvlanDomain(nicDomain, domains, c.host, parent, domain);
        if (!seg) continue;
        const d = domains.get(seg)!;
        const parentMtu = index.hosts.get(c.host)?.nics.find((x) => x.name === baseNic(parent))?.mtu ?? 1500;
        const l3 = l3Mode(n);
        ns.ifaces.push({ name, kind: n.driver === "macvlan" ? "macvlan" : "ipvlan", ip, cidr: inst.subnet, domain: d.id, mtu: n.mtu ?? parentMtu, network: n.name, parent: baseNic(parent), ...(n.internal ? {} : { gateway: inst.gateway }), ...(l3 ? { l3 } : {}) });
        if (l3) addL3(c.host, ip, id);
        else addMember(d, ip, { netns: id, iface: name, host: c.host, viaNic: baseNic(parent) });
      }
    }
    // A container whose only networks are overlays gets docker_gwbridge for the way out (libnetwork).
    if (needsGwbridge(c, index)) {
      const gwNet = index.networks.get("docker_gwbridge");
      const gwInst = gwNet ? instanceOn(gwNet, c.host) : undefined;
      const d = domains.get(bridgeDomain(c.host, "docker_gwbridge"));
      if (gwInst && d) {
        const k = gwCount.get(c.host) ?? (swarmHosts.has(c.host) ? 1 : 0);
        gwCount.set(c.host, k + 1);
        const ip = nthFree(gwInst.subnet, gwInst.gateway, k);
        ns.ifaces.push({ name: `eth${eth++}`, kind: "veth", ip, cidr: gwInst.subnet, domain: d.id, mtu: d.mtu, network: "docker_gwbridge", gateway: gwInst.gateway });
        addMember(d, ip, { netns: id, iface: `eth${eth - 1}`, host: c.host });
      }
    }
    // Docker picks the default gateway among networks that provide one, by network name (libnetwork
    // sandbox endpoint ordering); that is why the seed's `docker network connect bridge box2` gives a way out.
    const gwIfaces = ns.ifaces.filter((i) => i.gateway !== undefined).sort((a, b) => (a.network! < b.network! ? -1 : a.network! > b.network! ? 1 : 0));
    const gw = gwIfaces[0];
    if (gw) ns.routes.push({ to: makeCidr(0, 0), via: gw.gateway!, iface: gw.name, source: "docker" });
  }

  // Host routes from the plan and the default route via the first NIC gateway.
  for (const h of plan.hosts) {
    const ns = netns.get(hostNetns(h.name))!;
    for (const r of h.routes) {
      const iface = r.dev ?? ns.ifaces.find((i) => r.via !== undefined && contains(i.cidr, r.via) && i.kind === "nic")?.name;
      if (iface) ns.routes.push({ to: r.to, iface, source: r.to.prefix === 0 ? "default" : "plan", ...(r.via !== undefined ? { via: r.via } : {}) });
    }
    if (!ns.routes.some((r) => r.to.prefix === 0)) {
      const nic = h.nics.find((n) => n.gateway !== undefined);
      if (nic) ns.routes.push({ to: makeCidr(0, 0), via: nic.gateway!, iface: nic.name, source: "default" });
    }
  }

  const tunnelAddr = new Map<string, Ip>();
  for (const n of plan.swarm?.nodes ?? []) {
    const h = index.hosts.get(n.host);
    const ip = n.advertiseAddr ?? h?.nics[0]?.ip;
    if (ip !== undefined) tunnelAddr.set(n.host, ip);
  }
  const containersOn = new Map<string, Container[]>();
  const hostNetworkOn = new Map<string, Container[]>();
  const publishingOn = new Map<string, Container[]>();
  const push = (m: Map<string, Container[]>, k: string, c: Container) => {
    const list = m.get(k);
    if (list) list.push(c);
    else m.set(k, [c]);
  };
  for (const c of plan.containers) {
    push(containersOn, c.host, c);
    if (c.networkMode === "host") push(hostNetworkOn, c.host, c);
    if (c.publish.length > 0) push(publishingOn, c.host, c);
  }
  return { plan, index, allocation, netns, domains, nicDomain, tunnelAddr, containersOn, hostNetworkOn, publishingOn, ipvlanL3 };
}

/**
 * The L2 domain a macvlan/ipvlan child on `parent` sits in: the parent NIC's segment, or for an 802.1q
 * sub-interface (eth0.10) the VLAN on that segment, which hosts' untagged NICs are not part of.
 */
export function macvlanDomain(
  nicDomain: ReadonlyMap<string, DomainId>, domains: Map<DomainId, Domain>, host: string, parent: string,
  make: (id: DomainId, init: Omit<Domain, "id" | "members">) => Domain,
): DomainId | undefined {
  const seg = nicDomain.get(`${host}/${baseNic(parent)}`);
  if (!seg) return undefined;
  const vid = vlanId(parent);
  if (vid === undefined) return seg;
  const base = domains.get(seg)!;
  const fresh = !domains.has(`${seg}.${vid}`);
  const d = make(`${seg}.${vid}`, { kind: base.kind, mtu: base.mtu, vlan: vid, ...(base.segment !== undefined ? { segment: base.segment } : {}) });
  // The segment's routers are trunked onto its VLANs too (segments[].routers may list a VLAN's gateway).
  if (fresh) for (const [ip, ms] of base.members) if (ms.some((m) => m.router)) d.members.set(ip, [{ router: true }]);
  return d.id;
}

export function vlanId(parent: string): number | undefined {
  const dot = parent.indexOf(".");
  if (dot <= 0) return undefined;
  const v = Number(parent.slice(dot + 1));
  return Number.isInteger(v) ? v : undefined;
}

/** "eth0.10" → "eth0": an 802.1q sub-interface rides on its base NIC's segment. */
export function baseNic(parent: string): string {
  const dot = parent.indexOf(".");
  return dot > 0 ? parent.slice(0, dot) : parent;
}

function hostBridgeMtu(h: Host | undefined, n: Network): number {
  if (!h) return 1500;
  if (n.name === "bridge") return h.docker.bridge.mtu;
  if (n.name === "docker_gwbridge") return h.docker.gwbridge.mtu;
  return 1500;
}

/** Containers whose networks are all overlays (or internal) get a docker_gwbridge interface. */
export function needsGwbridge(c: Container, index: PlanIndex): boolean {
  if (c.networkMode === "host") return false;
  let overlay = false;
  for (const a of c.attachments) {
    const n = index.networks.get(a.network);
    if (!n) continue;
    // An internal network neither needs nor gives a way out: libnetwork's Sandbox.needDefaultGW skips
    // internal endpoints, so a container only on internal overlays gets no docker_gwbridge leg (moby
    // libnetwork/default_gateway.go); a non-internal bridge/macvlan endpoint has a gateway and needs none.
    if (n.internal) continue;
    if (n.driver === "overlay") overlay = true;
    else return false;
  }
  return overlay;
}

/** The k-th address of a subnet after skipping the network address and the gateway. */
function nthFree(subnet: Cidr, gateway: Ip, k: number): Ip {
  let ip = subnet.first + 1 + k;
  if (gateway >= subnet.first + 1 && gateway <= ip) ip++;
  return (ip >>> 0) as Ip;
}

/**
 * The container answering in `answeredBy` when it runs a stock web image as it comes and does not serve
 * `path`, with the paths it does serve: an HTTP GET for `path` there is a 404. Consul passes an HTTP check on
 * 2xx (and 429) only (agent/checks/check.go, CheckHTTP.check); the lab's busybox httpd answers 404 for any
 * path but its default page (test/lab/compare.test.ts).
 */
export function stockPageMissing(topo: Topology, index: PlanIndex, answeredBy: NetnsId | undefined, path: string): { container: Container; paths: readonly string[] } | undefined {
  const ns = answeredBy !== undefined ? topo.netns.get(answeredBy) : undefined;
  const container = ns?.kind === "container" && ns.container !== undefined ? index.containers.get(ns.container) : undefined;
  const paths = container ? stockWebPaths(container) : undefined;
  return container && paths && !paths.includes(path) ? { container, paths } : undefined;
}
