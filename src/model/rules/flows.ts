// The flows Swarm and Consul need between hosts, checked against each destination's firewall, published
// ports and the topology; and ports bound twice on one host.
import { appendAll, diag, type Diagnostic, type PlanPath, type Severity } from "../diagnostics.js";
import { contains, formatIp, isLoopback, type Ip } from "../ip.js";
import { SWARM_GOSSIP_PORT, SWARM_MANAGER_PORT } from "../defaults.js";
import type { FlowProto } from "../net/firewall.js";
import { startOrder } from "../net/ipam.js";
import { hostPortBindings, type ConsulAgent, type FirewallRule, type Host } from "../plan.js";
import { listOf, type RuleContext } from "./context.js";

export interface FlowRequirement {
  readonly dst: string;
  /** Sources (the destination itself excluded when it appears): arrays shared by all destinations, never copied per destination, so a 10k-node swarm stays linear. */
  readonly srcs: readonly string[];
  readonly proto: FlowProto;
  readonly port?: number;
  readonly why: string;
  readonly severity: Severity;
  readonly path: PlanPath;
  /** When the destination is a container, not the host: the ports it publishes (Consul in a bridge network). */
  readonly viaPublish?: { readonly agent: ConsulAgent };
}

/** Every flow the plan's swarm and Consul cluster need, per destination host. */
export function requiredFlows(ctx: RuleContext): FlowRequirement[] {
  const { plan } = ctx;
  const out: FlowRequirement[] = [];
  const swarm = plan.swarm;
  if (swarm) {
    const nodes = swarm.nodes.map((n) => n.host);
    const managers = swarm.nodes.filter((n) => n.role === "manager").map((n) => n.host);
    const encrypted = plan.networks.filter((n) => n.scope === "swarm" && n.encrypted).map((n) => n.name);
    for (const node of swarm.nodes) {
      const others = nodes;
      const p = node.path;
      out.push({ dst: node.host, srcs: others, proto: "tcp", port: SWARM_GOSSIP_PORT, why: "swarm gossip (7946/tcp)", severity: "error", path: p });
      out.push({ dst: node.host, srcs: others, proto: "udp", port: SWARM_GOSSIP_PORT, why: "swarm gossip (7946/udp)", severity: "error", path: p });
      out.push({ dst: node.host, srcs: others, proto: "udp", port: swarm.dataPathPort, why: `overlay data path (VXLAN udp/${swarm.dataPathPort})`, severity: "error", path: p });
      if (encrypted.length > 0) out.push({ dst: node.host, srcs: others, proto: "esp", why: `IPsec ESP (IP protocol 50) of encrypted overlay ${listOf(encrypted)}`, severity: "error", path: p });
      if (node.role === "manager") {
        // Everybody talks to managers on 2377: joins, and Raft among managers.
        out.push({ dst: node.host, srcs: others, proto: "tcp", port: SWARM_MANAGER_PORT, why: "swarm management (2377/tcp)", severity: managers.length > 0 ? "error" : "warning", path: p });
      }
    }
  }
  const consul = plan.consul;
  if (consul) {
    const byDc = new Map<string, ConsulAgent[]>();
    for (const a of consul.agents) {
      const list = byDc.get(a.datacenter);
      if (list) list.push(a);
      else byDc.set(a.datacenter, [a]);
    }
    for (const agents of byDc.values()) {
      const all = agents.map((a) => a.host);
      const servers = agents.filter((a) => a.server).map((a) => a.host);
      for (const a of agents) {
        const others = all;
        // On macvlan, ipvlan or an overlay the agent has an address of its own that other hosts reach directly:
        // neither publishing nor the host's INPUT chain plays a part (the overlay's own ports are swarm flows).
        if (a.network !== "host" && ctx.index.networks.get(a.network.network)?.driver !== "bridge") continue;
        const via = a.network === "host" ? {} : { viaPublish: { agent: a } };
        out.push({ dst: a.host, srcs: others, proto: "tcp", port: a.ports.serfLan, why: `Consul LAN gossip (${a.ports.serfLan}/tcp)`, severity: "error", path: a.path, ...via });
        out.push({ dst: a.host, srcs: others, proto: "udp", port: a.ports.serfLan, why: `Consul LAN gossip (${a.ports.serfLan}/udp)`, severity: "error", path: a.path, ...via });
        if (a.server) {
          out.push({ dst: a.host, srcs: others, proto: "tcp", port: a.ports.server, why: `Consul server RPC (${a.ports.server}/tcp)`, severity: "error", path: a.path, ...via });
          // Needed between servers of one DC since 0.8 (WAN join flooding); newer docs say only for federation.
          const peers = servers;
          out.push({ dst: a.host, srcs: peers, proto: "tcp", port: a.ports.serfWan, why: `Consul WAN gossip (${a.ports.serfWan}/tcp)`, severity: "warning", path: a.path, ...via });
          out.push({ dst: a.host, srcs: peers, proto: "udp", port: a.ports.serfWan, why: `Consul WAN gossip (${a.ports.serfWan}/udp)`, severity: "warning", path: a.path, ...via });
        }
      }
    }
  }
  return out;
}

function ruleMatches(rule: FirewallRule, proto: FlowProto, port: number | undefined): boolean {
  if (rule.proto !== "any" && rule.proto !== proto) return false;
  if (rule.ports && (port === undefined || port < rule.ports[0] || port > rule.ports[1])) return false;
  return true;
}

/** The sources of `req` the destination's firewall drops. Linear in sources only when rules name sources. */
export function blockedSources(dst: Host, req: FlowRequirement, addrOf: (h: string) => Ip | undefined): string[] {
  const fw = dst.firewall;
  if (!fw || req.proto === "icmp") return [];
  const rules = fw.allow.filter((r) => ruleMatches(r, req.proto, req.port));
  if (rules.some((r) => r.from === undefined) || fw.inbound === "allow") return [];
  if (rules.length === 0) return req.srcs.filter((s) => s !== req.dst);
  return req.srcs.filter((s) => {
    if (s === req.dst) return false;
    const ip = addrOf(s);
    return !rules.some((r) => r.from!.some((f) => (typeof f === "string" ? f === s : ip !== undefined && contains(f, ip))));
  });
}

/** port_blocked: per destination and flow, the sources that cannot get through (caprover#2017, moby#26523, consul#953). */
export function portsBlocked(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const addrOf = (h: string) => ctx.index.hosts.get(h)?.nics[0]?.ip;
  for (const req of requiredFlows(ctx)) {
    if (!req.srcs.some((s) => s !== req.dst)) continue;
    const dst = ctx.index.hosts.get(req.dst);
    if (!dst) continue;
    const what = `${req.proto}${req.port !== undefined ? `/${req.port}` : ""}`;
    if (req.viaPublish) {
      const a = req.viaPublish.agent;
      const net = a.network === "host" ? undefined : a.network;
      // A port published on loopback only (127.0.0.1:8301:8301) is no port for other hosts.
      const usable = (net?.publish ?? []).filter((p) => p.hostIp === undefined || !isLoopback(p.hostIp));
      const published = usable.some((p) => p.hostPort === req.port && p.proto === req.proto);
      if (!published) {
        const loop = net?.publish.find((p) => p.hostPort === req.port && p.proto === req.proto && p.hostIp !== undefined && isLoopback(p.hostIp));
        const other = usable.find((p) => p.hostPort === req.port);
        out.push(diag("port_blocked", {
          severity: req.severity, path: [...a.path, "network"], host: a.host,
          message: `${req.why}: agent ${a.name} runs in a Docker network and ${loop ? `publishes ${what} on 127.0.0.1 only` : `does not publish ${what}${other ? ` (only ${other.proto})` : ""}`}; ${listOf(req.srcs.filter((x) => x !== req.dst))} cannot reach it`,
          hint: req.port === a.ports.server
            ? `Publish it ("${req.port}:${req.port}/tcp"; server RPC is TCP only), or run the agent with network: host.`
            : `Publish it for both protocols ("${req.port}:${req.port}/tcp" and "${req.port}:${req.port}/udp"), or run the agent with network: host.`,
        }));
        continue;
      }
    }
    const blocked = blockedSources(dst, req, addrOf);
    if (blocked.length === 0) continue;
    out.push(diag("port_blocked", {
      severity: req.severity, path: dst.firewall!.path, host: dst.name,
      message: `${dst.name}'s firewall drops ${what} from ${listOf(blocked)}: ${req.why} needs it`,
      hint: `Allow ${what} from ${listOf(blocked)} (firewall.allow: [{ proto: ${req.proto}${req.port !== undefined ? `, port: ${req.port}` : ""}, from: [...] }]).`,
      related: [{ path: req.path, message: `needed by ${req.why}` }],
    }));
  }
  return out;
}

/**
 * Hosts that must talk but have no path: no shared segment, and not both routed through a gateway.
 * Union-find over segments; hosts with a default route are assumed to reach each other through routers.
 */
export function hostsUnreachable(ctx: RuleContext): Diagnostic[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    let y = x;
    while (parent.get(y) !== r) { const n = parent.get(y)!; parent.set(y, r); y = n; }
    return r;
  };
  const union = (a: string, b: string) => { const ra = find(a), rb = find(b); if (ra !== rb) parent.set(ra, rb); };
  parent.set("@routed", "@routed");
  for (const h of ctx.plan.hosts) parent.set(`h:${h.name}`, `h:${h.name}`);
  for (const s of ctx.plan.segments) {
    parent.set(`s:${s.name}`, `s:${s.name}`);
    for (const m of s.members) union(`h:${m.host}`, `s:${s.name}`);
  }
  for (const h of ctx.plan.hosts) {
    if (h.nics.some((n) => n.gateway !== undefined) || h.routes.some((r) => r.to.prefix === 0)) union(`h:${h.name}`, "@routed");
  }
  // Each cluster's hosts must sit in one component.
  const groups: { hosts: string[]; why: string }[] = [];
  if (ctx.plan.swarm) groups.push({ hosts: ctx.plan.swarm.nodes.map((n) => n.host), why: "the swarm" });
  const dcs = new Map<string, string[]>();
  for (const a of ctx.plan.consul?.agents ?? []) {
    const list = dcs.get(a.datacenter);
    if (list) list.push(a.host);
    else dcs.set(a.datacenter, [a.host]);
  }
  for (const [dc, hosts] of dcs) groups.push({ hosts, why: `Consul datacenter ${dc}` });
  const out: Diagnostic[] = [];
  appendAll(out, advertiseReachability(ctx));
  for (const g of groups) {
    const byComp = new Map<string, string[]>();
    for (const h of g.hosts) {
      if (!parent.has(`h:${h}`)) continue;
      const r = find(`h:${h}`);
      const list = byComp.get(r);
      if (list) list.push(h);
      else byComp.set(r, [h]);
    }
    if (byComp.size < 2) continue;
    const comps = [...byComp.values()].sort((a, b) => b.length - a.length);
    for (const lone of comps.slice(1)) {
      out.push(diag("host_unreachable", {
        path: ctx.index.hosts.get(lone[0]!)!.path, host: lone[0],
        message: `${listOf(lone)} share${lone.length === 1 ? "s" : ""} no segment or route with ${listOf(comps[0]!)}, which ${g.why} needs`,
        hint: "Put them on a common segment, or give both a gateway (nics[].gateway) that routes between their networks.",
      }));
    }
  }
  return out;
}

/**
 * An advertised address must be reachable by the peers: on a segment they share, or behind a router on
 * its segment when they route (the kind "identity / advertise address" of the public reports).
 */
function advertiseReachability(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const routed = (h: Host) => h.nics.some((n) => n.gateway !== undefined) || h.routes.some((r) => r.to.prefix === 0);
  // Peers grouped by what decides reachability (their segments, whether they route): a 10k-node swarm
  // has a handful of groups, so each node is checked against groups, not against every peer.
  const groupsOf = (peers: readonly Host[]) => {
    const groups = new Map<string, { segments: Set<string>; routed: boolean; hosts: string[] }>();
    for (const p of peers) {
      const segments = new Set(p.nics.map((n) => ctx.index.segmentOfNic.get(`${p.name}/${n.name}`)).filter((s): s is string => s !== undefined));
      const key = `${[...segments].sort().join(",")}|${routed(p)}`;
      const g = groups.get(key);
      if (g) g.hosts.push(p.name);
      else groups.set(key, { segments, routed: routed(p), hosts: [p.name] });
    }
    return [...groups.values()];
  };
  const check = (who: string, host: Host, addr: Ip, groups: ReturnType<typeof groupsOf>, what: string, path: PlanPath) => {
    const nic = host.nics.find((n) => n.ip === addr);
    if (!nic) return; // not local: swarm_advertise_not_local / NAT, checked elsewhere
    const seg = ctx.index.segmentOfNic.get(`${host.name}/${nic.name}`);
    const segment = seg !== undefined ? ctx.index.segments.get(seg) : undefined;
    const viaRouter = (segment?.routers.length ?? 0) > 0 || nic.gateway !== undefined;
    const cut: string[] = [];
    for (const g of groups) {
      if ((seg !== undefined && g.segments.has(seg)) || (viaRouter && g.routed)) continue;
      for (const h of g.hosts) if (h !== host.name) cut.push(h);
    }
    if (cut.length === 0) return;
    out.push(diag("host_unreachable", {
      path, host: host.name,
      message: `${who} advertises ${formatIp(addr)} (${nic.name}${seg ? ` on segment ${seg}` : ""}), which ${listOf(cut)} cannot reach: no shared segment and no router there`,
      hint: `Advertise the address ${host.name} has on the network its peers share (${what}).`,
    }));
  };
  const swarm = ctx.plan.swarm;
  if (swarm) {
    const groups = groupsOf(swarm.nodes.map((n) => ctx.index.hosts.get(n.host)).filter((h): h is Host => h !== undefined));
    for (const n of swarm.nodes) {
      const h = ctx.index.hosts.get(n.host);
      if (h && n.advertiseAddr !== undefined) check(`swarm node ${n.host}`, h, n.advertiseAddr, groups, "swarm.nodes[].advertise_addr", [...n.path, "advertise_addr"]);
    }
  }
  const agents = ctx.plan.consul?.agents ?? [];
  if (agents.length > 0) {
    const groups = groupsOf([...new Set(agents.map((a) => a.host))].map((h) => ctx.index.hosts.get(h)).filter((h): h is Host => h !== undefined));
    for (const a of agents) {
      const h = ctx.index.hosts.get(a.host);
      const addr = a.advertiseAddr ?? a.bindAddr;
      if (h && addr !== undefined && a.network === "host") check(`Consul agent ${a.name}`, h, addr, groups, "advertise_addr", a.path);
    }
  }
  return out;
}

/** The same port bound twice on one host: host-network services and published ports. */
export function portConflicts(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // host → (port, proto) as one number → who binds it: no key string per binding (10k agents bind 8 ports each).
  const seen = new Map<string, Map<number, { who: string; path: PlanPath; ip?: Ip }[]>>();
  const bind = (host: string, port: number, proto: string, ip: Ip | undefined, who: string, path: PlanPath) => {
    let onHost = seen.get(host);
    if (!onHost) seen.set(host, (onHost = new Map()));
    const key = port * 2 + (proto === "udp" ? 1 : 0);
    const prev = onHost.get(key) ?? [];
    const clash = prev.find((p) => p.ip === undefined || ip === undefined || p.ip === ip);
    if (clash) {
      out.push(diag("port_conflict", {
        path, host,
        message: `${who} binds ${port}/${proto} on ${host}, which ${clash.who} already binds`,
        hint: "Move one of them to another port or host.",
        related: [{ path: clash.path, message: `${clash.who} binds it first` }],
      }));
      return;
    }
    prev.push({ who, path, ...(ip !== undefined ? { ip } : {}) });
    onHost.set(key, prev);
  };
  for (const h of ctx.plan.hosts) for (const p of h.portsInUse) bind(h.name, p.port, p.proto, undefined, "a process outside the plan", [...h.path, "ports_in_use"]);
  // In the order they start (agents first), so the one reported is the one that fails.
  for (const c of startOrder(ctx.plan)) {
    for (const b of hostPortBindings(c)) bind(c.host, b.port, b.proto, b.ip, b.published ? `${c.name}'s published port` : c.agent ? `Consul agent ${c.name}` : c.name, b.path);
  }
  return out;
}
