// Consul: bootstrap exactly as agent/consul maybeBootstrap decides it (DESIGN.md "Consul bootstrap"),
// quorum arithmetic, the advertise address an agent would pick by itself, joins, and graceful leaves.
import { diag, type Diagnostic } from "../diagnostics.js";
import { formatIp, isConsulPrivate, isLoopback, parseIp, type Ip } from "../ip.js";
import type { ConsulAgent, PlanIndex } from "../plan.js";
import type { Allocation } from "../net/ipam.js";
import { agentNetns, hostNetns, type Topology } from "../net/topology.js";
import { ALL_UP, trace } from "../net/trace.js";
import { onOwnLanUnheld, listOf, type RuleContext } from "./context.js";

/** bootstrap_expect 1 is rewritten to bootstrap mode before anything else (agent/config builder). */
export function inBootstrapMode(a: ConsulAgent): boolean {
  return a.bootstrap || a.bootstrapExpect === 1;
}

export function expectOf(a: ConsulAgent): number {
  return a.bootstrapExpect !== undefined && a.bootstrapExpect > 1 ? a.bootstrapExpect : 0;
}

function datacenters(ctx: RuleContext): Map<string, ConsulAgent[]> {
  const out = new Map<string, ConsulAgent[]>();
  for (const a of ctx.plan.consul?.agents ?? []) {
    const list = out.get(a.datacenter);
    if (list) list.push(a);
    else out.set(a.datacenter, [a]);
  }
  return out;
}

export function consulBootstrap(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const consul = ctx.plan.consul;
  if (!consul) return out;
  for (const [dc, agents] of datacenters(ctx)) {
    for (const a of agents) {
      if (a.server) continue;
      if (a.bootstrapExpect !== undefined && a.bootstrapExpect > 1) {
        out.push(diag("consul_expect_on_client", { path: [...a.path, "bootstrap_expect"], host: a.host, message: `client agent ${a.name} sets bootstrap_expect: Consul refuses to start ('bootstrap_expect > 0' requires 'server = true')`, hint: "Remove bootstrap_expect from clients, or make the agent a server." }));
      } else if (inBootstrapMode(a)) {
        out.push(diag("consul_expect_on_client", { path: a.path, host: a.host, message: `client agent ${a.name} is in bootstrap mode${a.bootstrapExpect === 1 ? " (bootstrap_expect 1 means bootstrap: true)" : ""}: Consul refuses to start ('bootstrap = true' requires 'server = true')`, hint: "Remove bootstrap/bootstrap_expect from clients." }));
      }
    }
    const servers = agents.filter((a) => a.server);
    if (servers.length === 0) {
      out.push(diag("consul_no_bootstrap", { path: consul.path, message: `datacenter ${dc} has no server agent: no leader, ever`, hint: "Make at least one agent a server (3 for fault tolerance)." }));
      continue;
    }
    const boot = servers.filter(inBootstrapMode);
    const both = servers.filter((a) => a.bootstrap && a.bootstrapExpect !== undefined && a.bootstrapExpect > 1);
    for (const a of both) {
      out.push(diag("consul_multiple_bootstrap", { path: a.path, host: a.host, message: `server ${a.name} sets both bootstrap and bootstrap_expect: Consul refuses ('bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive)`, hint: "Keep bootstrap_expect; remove bootstrap." }));
    }
    if (boot.length > 1) {
      out.push(diag("consul_multiple_bootstrap", { path: boot[1]!.path, host: boot[1]!.host, message: `${listOf(boot.map((a) => a.name))} are each in bootstrap mode: each elects itself (split brain)`, hint: "Set bootstrap_expect to the number of servers on every server instead." }));
    }
    const expecting = servers.filter((a) => expectOf(a) > 0);
    if (expecting.length === 0 && boot.length === 0 && !servers.some((a) => a.previousAdvertiseAddr !== undefined)) {
      out.push(diag("consul_no_bootstrap", {
        path: servers[0]!.path,
        message: `no server in ${dc} has bootstrap_expect (or bootstrap): the servers never elect a leader`,
        hint: `Set bootstrap_expect: ${servers.length} on every server.`,
      }));
      continue;
    }
    const values = [...new Set(expecting.map(expectOf))];
    if (values.length > 1) {
      out.push(diag("consul_expect_conflict", {
        path: expecting[1]!.path,
        message: `servers in ${dc} expect different numbers (${expecting.map((a) => `${a.name}: ${expectOf(a)}`).join(", ")}): each aborts its bootstrap on seeing the other ("conflicting expect value")`,
        hint: `Set bootstrap_expect: ${servers.length} on every server.`,
      }));
    } else if (boot.length > 0 && expecting.some((a) => !boot.includes(a))) {
      const others = expecting.filter((a) => !boot.includes(a));
      out.push(diag("consul_expect_conflict", {
        path: boot[0]!.path,
        message: `${boot[0]!.name} is in bootstrap mode while ${listOf(others.map((a) => a.name))} ${others.length > 1 ? "expect" : "expects"} ${values[0]}: a member in bootstrap mode disables their expect bootstrap`,
        hint: `Use bootstrap_expect: ${servers.length} on every server and no bootstrap.`,
      }));
    } else if (expecting.length > 0 && expecting.length < servers.length) {
      const unset = servers.filter((a) => expectOf(a) === 0 && !inBootstrapMode(a));
      // An error, as the maintainers put it: bootstrap_expect must be the same on all servers for them to
      // bootstrap (hashicorp/consul#1509); here the first start works only while the servers that have it are up.
      out.push(diag("consul_expect_conflict", {
        path: unset[0]!.path, host: unset[0]!.host,
        message: `${listOf(unset.map((a) => a.name))} ${unset.length > 1 ? "have" : "has"} no bootstrap_expect while ${listOf(expecting.map((a) => a.name))} ${expecting.length > 1 ? "expect" : "expects"} ${values[0]}: only ${expecting.length > 1 ? "they" : "it"} can bootstrap, so the cluster bootstraps only while ${expecting.length > 1 ? "they are" : "it is"} up, and not again if ${expecting.length > 1 ? "they restart" : "it restarts"} without ${expecting.length > 1 ? "their" : "its"} data`,
        hint: `Set bootstrap_expect: ${values[0]} on every server (hashicorp/consul#1509).`,
      }));
    }
    // One root cause, one finding: with disagreeing values, the conflict is the finding.
    if (values.length > 1) continue;
    const expected = values[0] ?? 0;
    if (expected > servers.length) {
      out.push(diag("consul_expect_unreached", {
        path: [...expecting.find((a) => expectOf(a) === expected)!.path, "bootstrap_expect"],
        message: `bootstrap_expect is ${expected}, but ${dc} has ${servers.length} server${servers.length === 1 ? "" : "s"}: the bootstrap waits forever, no leader`,
        hint: `Set bootstrap_expect: ${servers.length}, or add servers.`,
      }));
    } else if (expected > 0 && expected < servers.length) {
      out.push(diag("consul_expect_below_servers", {
        path: [...expecting[0]!.path, "bootstrap_expect"],
        message: `bootstrap_expect is ${expected} with ${servers.length} servers: the first ${expected} bootstrap without the others`,
        hint: `Set bootstrap_expect: ${servers.length} on every server.`,
      }));
    }
  }
  return out;
}

/** floor(N/2)+1 servers for quorum: 2 tolerate none (hashicorp/consul#1282, PR #3158). */
export function consulQuorum(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [dc, agents] of datacenters(ctx)) {
    const servers = agents.filter((a) => a.server);
    const n = servers.length;
    if (n === 0) continue;
    const values = new Set(servers.map(expectOf).filter((v) => v > 0));
    const evenExpect = values.size === 1 ? servers.find((a) => expectOf(a) > 0 && expectOf(a) % 2 === 0) : undefined;
    const path = evenExpect ? [...evenExpect.path, "bootstrap_expect"] : servers[0]!.path;
    const q = Math.floor(n / 2) + 1;
    const tolerates = Math.floor((n - 1) / 2);
    if (n === 1) {
      out.push(diag("consul_quorum_fault_tolerance", { severity: "info", path, message: `one Consul server in ${dc}: losing it loses the leader`, hint: "Run 3 servers to tolerate one failure." }));
    } else if (n === 2) {
      out.push(diag("consul_quorum_fault_tolerance", { path, message: `2 Consul servers in ${dc} need both for quorum: a cluster with 2 servers provides no failure tolerance`, hint: "Run 3 servers with bootstrap_expect: 3 (one failure tolerated)." }));
    } else if (n % 2 === 0) {
      out.push(diag("consul_quorum_fault_tolerance", { path, message: `${n} Consul servers in ${dc} need ${q} for quorum and tolerate ${tolerates} failure${tolerates === 1 ? "" : "s"}: the ${n}th server adds load, not fault tolerance`, hint: `Run ${n - 1} or ${n + 1} servers.` }));
    } else if (evenExpect) {
      out.push(diag("consul_quorum_fault_tolerance", { path, message: `bootstrap_expect ${expectOf(evenExpect)} is even while ${dc} has ${n} servers: an even number of servers does not achieve optimum fault tolerance`, hint: `Set bootstrap_expect: ${n} on every server.` }));
    }
  }
  return out;
}

/**
 * With bind 0.0.0.0 and no advertise, Consul picks the single private IPv4 of all interfaces that are
 * up, Docker bridges included under --net=host, and refuses when there are several (consul#11453).
 */
export function consulAdvertise(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const a of ctx.plan.consul?.agents ?? []) {
    const h = ctx.index.hosts.get(a.host);
    if (!h) continue;
    if (a.bindAddr !== undefined && a.network === "host" && !h.nics.some((n) => n.ip === a.bindAddr) && !h.shims.some((s) => s.ip === a.bindAddr)) {
      const fromFlag = a.flags.bindAddr !== undefined;
      out.push(diag("consul_bind_not_local", { path: fromFlag ? [...a.path, "flags", "bind"] : [...a.path, "bind_addr"], host: a.host, message: `${a.name} binds ${formatIp(a.bindAddr)}${fromFlag ? " (flags.bind, which overrides bind_addr)" : ""}, which is not an address of ${a.host}: it cannot start (cannot assign requested address)`, hint: `Bind one of ${a.host}'s addresses (${h.nics.map((n) => formatIp(n.ip)).join(", ")}).` }));
    }
    const foreignClient = nonLocalClientAddrs(a, () => ctx.topo.netns.get(agentNetns(a)));
    if (foreignClient.length > 0) {
      out.push(diag("consul_bind_not_local", {
        path: a.path, host: a.host,
        message: `${a.name}'s client_addr ${foreignClient.map(formatIp).join(", ")} is not an address of ${a.network === "host" ? a.host : "its container"}: the HTTP and DNS listeners cannot bind and the agent exits`,
        hint: "Set client_addr to 0.0.0.0 (all addresses), 127.0.0.1, or one of its own addresses.",
      }));
    }
    let bindForeign = false;
    if (a.bindAddr !== undefined && a.bindAddr !== 0 && a.network !== "host") {
      // On a Docker network the agent's namespace holds only its container addresses, never the host's.
      const mine = (ctx.topo.netns.get(agentNetns(a))?.ifaces ?? []).map((i) => i.ip).filter((ip) => ip !== 0);
      bindForeign = mine.length > 0 && !mine.includes(a.bindAddr);
      if (bindForeign) {
        out.push(diag("consul_bind_not_local", {
          path: a.path, host: a.host,
          message: `${a.name} runs on Docker network "${a.network.network}" and binds ${formatIp(a.bindAddr)}, which is not an address of its container: it cannot start (cannot assign requested address)`,
          hint: `Bind 0.0.0.0 with advertise_addr set, give the agent a fixed ip on ${a.network.network} and bind that (${mine.map(formatIp).join(", ")} now), or run it with network: host.`,
        }));
      }
    }
    if (a.advertiseAddr !== undefined && a.network === "host" && !h.nics.some((n) => n.ip === a.advertiseAddr) && onOwnLanUnheld(ctx, a.host, a.advertiseAddr)) {
      out.push(diag("consul_advertise_unreachable", {
        path: a.path, host: a.host,
        message: `${a.name} advertises ${formatIp(a.advertiseAddr)}, which is on ${a.host}'s LAN but held by no host or router there: other agents gossip${a.server ? " and send Raft traffic" : ""} to an address nobody answers`,
        hint: `Advertise ${a.host}'s own address (${h.nics.map((n) => formatIp(n.ip)).join(", ")}).`,
      }));
    }
    // An agent that cannot bind never starts: what it would advertise is moot (the finding above says why).
    if (a.network !== "host" && a.advertiseAddr === undefined && !bindForeign) {
      // Other agents gossip to (and RPC) the advertised address, not the address they joined: on a Docker
      // bridge that is the container's own address, which no other host reaches (hashicorp/consul#2120;
      // Consul's Docker guidance: advertise the host's address and publish the ports, or use the host network).
      const adv = agentAddress(ctx, a);
      const from = adv === undefined ? [] : (ctx.plan.consul?.agents ?? []).filter((b) => b !== a && b.host !== a.host && b.datacenter === a.datacenter);
      const cannot = from.filter((b) => !trace(ctx.topo, ALL_UP, agentNetns(b), adv!, { proto: "tcp", port: a.ports.serfLan, ipSize: 60, df: true }).ok);
      if (cannot.length > 0) {
        const hostIp = h.nics[0] ? formatIp(h.nics[0].ip) : "the host's address";
        out.push(diag("consul_advertise_unreachable", {
          path: a.path, host: a.host,
          message: `${a.name} advertises ${formatIp(adv!)}, its address on Docker network "${a.network.network}", which ${listOf(cannot.map((b) => `${b.name} on ${b.host}`))} cannot reach: they see it fail${a.server ? " and never reach it for Raft" : ""}`,
          hint: `Set advertise_addr: ${hostIp} and publish ${a.ports.serfLan}/tcp+udp${a.server ? ` and ${a.ports.server}/tcp` : ""} on it, or run the agent with network: host.`,
        }));
      }
    }
    const seen = namesItsAddress(a) ? undefined : autoAddressCandidates(ctx.topo, a);
    if (seen === undefined || seen.length === 1) continue;
    const own = a.network === "host" ? undefined : ctx.allocation.addresses.get(a.name, a.network.network);
    out.push(diag("consul_advertise_ambiguous", {
      path: a.path, host: a.host,
      message: seen.length === 0
        ? `${a.name} sets neither a bind address nor advertise and sees no private IPv4 address: "No private IPv4 address found"`
        : `${a.name} sets neither a bind address nor advertise and sees ${seen.length} private addresses (${seen.map((s) => `${formatIp(s.ip)} on ${s.where}`).join(", ")}): "Multiple private IPv4 addresses found"`,
      hint: a.network === "host"
        ? `Set bind_addr and advertise_addr to ${h.nics[0] ? formatIp(h.nics[0].ip) : "the LAN address"}.`
        : `Set bind_addr and advertise_addr to its address on ${a.network.network}${own !== undefined ? ` (${formatIp(own)}; network ip: pins it)` : ""}.`,
    }));
  }
  return out;
}

/** client_addr entries (space-separated) that are neither a wildcard, loopback, nor an address of the agent's namespace. */
export function nonLocalClientAddrs(a: ConsulAgent, namespace: () => { ifaces: readonly { ip: Ip }[] } | undefined): Ip[] {
  // Only a specific address needs the topology (the validator builds it lazily: 10k host-network agents need none).
  const specific = a.clientAddr.trim().split(/\s+/).map((x) => parseIp(x)).filter((ip): ip is Ip => ip !== undefined && ip !== 0 && !isLoopback(ip));
  if (specific.length === 0) return [];
  const ns = namespace();
  return ns ? specific.filter((ip) => !ns.ifaces.some((i) => i.ip === ip)) : [];
}

/** The agent names its address (advertise, a specific bind, or a template crosshost leaves to Consul): no detection. */
function namesItsAddress(a: ConsulAgent): boolean {
  return a.advertiseAddr !== undefined || (a.bindAddr !== undefined && a.bindAddr !== 0) || a.unresolvableTemplate !== undefined || (a.addressTemplates?.some((t) => t !== "client") ?? false);
}

/**
 * The private IPv4 addresses Consul chooses among when it has neither advertise nor a specific bind address
 * (bind 0.0.0.0 included): it takes the single one and refuses to start with none or several (consul#11453).
 * Under --net=host every Docker bridge of the host counts; in a container, each of its interfaces
 * (an overlay container has the overlay and docker_gwbridge). undefined: the agent names its address.
 */
export function autoAddressCandidates(topo: Topology, a: ConsulAgent): { ip: Ip; where: string }[] | undefined {
  if (namesItsAddress(a)) return undefined;
  const seen: { ip: Ip; where: string }[] = [];
  if (a.network === "host") {
    const h = topo.index.hosts.get(a.host);
    for (const n of h?.nics ?? []) if (isConsulPrivate(n.ip)) seen.push({ ip: n.ip, where: n.name });
    for (const s of h?.shims ?? []) if (isConsulPrivate(s.ip)) seen.push({ ip: s.ip, where: s.name });
    for (const i of topo.netns.get(hostNetns(a.host))?.ifaces ?? []) if (i.kind === "bridge" && isConsulPrivate(i.ip)) seen.push({ ip: i.ip, where: i.name });
  } else {
    const ifaces = topo.netns.get(agentNetns(a))?.ifaces ?? [];
    // No interface at all: its network is not on its host (unknown_reference says so); it never starts.
    if (ifaces.length === 0) return undefined;
    for (const i of ifaces) if (isConsulPrivate(i.ip)) seen.push({ ip: i.ip, where: i.name });
  }
  return seen;
}

/** How a join reached its agent: at its advertised address, where its Serf binds, or through a published port. */
export type JoinLanding = { readonly agent: ConsulAgent; readonly dialed: "advertised" | "bind" | "published" };

/**
 * Where a join to an address lands: the agent advertising it, else the one whose Serf binds it, else an agent on
 * a Docker network of that host publishing its Serf LAN port (tcp) there. Anything but "advertised" is a TCP
 * push/pull to that address; gossip goes to the advertised one afterwards. One lookup for the validator and the simulator.
 */
export function joinResolver(agents: readonly ConsulAgent[], index: PlanIndex, advertised: (a: ConsulAgent) => Ip | undefined): (ip: Ip) => JoinLanding | undefined {
  const byAdvertised = new Map<Ip, ConsulAgent>();
  const byBind = new Map<Ip, ConsulAgent>();
  for (const a of agents) {
    const ip = advertised(a);
    if (ip !== undefined && !byAdvertised.has(ip)) byAdvertised.set(ip, a);
    if (a.bindAddr !== undefined && a.bindAddr !== 0 && !byBind.has(a.bindAddr)) byBind.set(a.bindAddr, a);
  }
  return (ip) => {
    const adv = byAdvertised.get(ip);
    if (adv) return { agent: adv, dialed: "advertised" };
    const bound = byBind.get(ip);
    if (bound) return { agent: bound, dialed: "bind" };
    const pub = agents.find((x) => x.network !== "host" && index.hosts.get(x.host)?.nics.some((n) => n.ip === ip) === true
      && x.network.publish.some((p) => p.hostPort === x.ports.serfLan && p.containerPort === x.ports.serfLan && p.proto === "tcp" && (p.hostIp === undefined || p.hostIp === 0 || p.hostIp === ip)));
    return pub ? { agent: pub, dialed: "published" } : undefined;
  };
}

/** The address other agents use for an agent (advertisedAddress). */
export function agentAddress(ctx: RuleContext, a: ConsulAgent): Ip | undefined {
  return advertisedAddress(a, (h) => ctx.index.hosts.get(h)?.nics[0]?.ip, ctx.allocation);
}

/**
 * The address an agent gives the others: advertise, else a specific bind, else its own address: the host's
 * first NIC under --net=host, its container's address on a Docker network (Consul advertises the one private
 * address it sees; with several it refuses to start, consul_advertise_ambiguous).
 */
export function advertisedAddress(a: ConsulAgent, hostIp: (host: string) => Ip | undefined, allocation: Allocation | undefined): Ip | undefined {
  if (a.advertiseAddr !== undefined) return a.advertiseAddr;
  if (a.bindAddr !== undefined && a.bindAddr !== 0) return a.bindAddr;
  return a.network === "host" ? hostIp(a.host) : allocation?.addresses.get(a.name, a.network.network);
}

/** Joins must name an agent of the plan, and every agent must be joined to the others somehow. */
export function consulJoins(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const agents = ctx.plan.consul?.agents ?? [];
  if (agents.length === 0) return out;
  const land = joinResolver(agents, ctx.index, (a) => agentAddress(ctx, a));
  const byHostName = new Map(agents.map((a) => [a.host, a] as const));
  const parent = new Map(agents.map((a) => [a.name, a.name] as const));
  const find = (x: string): string => (parent.get(x) === x ? x : find(parent.get(x)!));
  for (const a of agents) {
    const entries = [...a.retryJoin.map((t) => ({ t, key: "retry_join" })), ...a.startJoin.map((t) => ({ t, key: "start_join" }))];
    const resolved = entries.map((e) => {
      const host = e.t.replace(/:\d+$/, "");
      const ip = parseIp(host);
      return { ...e, ip, target: ip !== undefined ? land(ip)?.agent : byHostName.get(host) };
    });
    // retry_join tries its addresses until one answers: a dead entry beside a good one is a warning.
    const anyLands = resolved.some((r) => r.target !== undefined && r.target !== a);
    for (const { t, key, ip, target } of resolved) {
      if (!target) {
        out.push(diag("consul_retry_join_unknown", {
          severity: ip === undefined || (anyLands && key === "retry_join") ? "warning" : "error",
          path: [...a.path, key], host: a.host,
          message: `${a.name} joins ${t}, where no Consul agent of the plan ${ip === undefined ? "is known to run" : "listens"}`,
          // Other servers of its datacenter, where their Serf listens (bind before a possibly wrong advertise).
          hint: `Join a server's address: ${agents.filter((x) => x.server && x !== a && x.datacenter === a.datacenter).map((x) => { const ip2 = x.bindAddr !== undefined && x.bindAddr !== 0 ? x.bindAddr : agentAddress(ctx, x); return ip2 !== undefined ? formatIp(ip2) : x.name; }).join(", ") || "(no other server)"}.`,
        }));
        continue;
      }
      parent.set(find(a.name), find(target.name));
    }
  }
  // Per datacenter: each one is a LAN cluster of its own (WAN federation joins datacenters, not LAN members).
  const byDc = new Map<string, Map<string, string[]>>();
  for (const a of agents) {
    const r = find(a.name);
    let roots = byDc.get(a.datacenter);
    if (!roots) byDc.set(a.datacenter, (roots = new Map()));
    const list = roots.get(r);
    if (list) list.push(a.name);
    else roots.set(r, [a.name]);
  }
  for (const roots of byDc.values()) {
    if (roots.size < 2) continue;
    const groups = [...roots.values()].sort((x, y) => y.length - x.length);
    for (const g of groups.slice(1)) {
      const a = ctx.index.agents.get(g[0]!)!;
      out.push(diag("consul_agent_isolated", {
        path: a.path, host: a.host,
        message: `${listOf(g)} ${g.length > 1 ? "are" : "is"} joined to none of ${listOf(groups[0]!)}: ${g.length > 1 ? "they form" : "it forms"} a cluster of ${g.length > 1 ? "their" : "its"} own`,
        hint: "Give it retry_join with the servers' addresses.",
      }));
    }
  }
  return out;
}

/** Graceful leaves shrink the Raft peer set; servers default to not leaving (Consul docs, leave_on_terminate). */
export function consulLeave(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const a of ctx.plan.consul?.agents ?? []) {
    if (a.server && a.leaveOnTerminate) {
      out.push(diag("consul_leave_on_terminate", {
        path: [...a.path, "leave_on_terminate"], host: a.host,
        message: `server ${a.name} leaves the cluster when stopped: each stop removes it from the Raft peers, and when all have left the cluster has forgotten its state`,
        hint: "Remove leave_on_terminate from servers (their default is false).",
      }));
    }
    if (a.server && a.previousAdvertiseAddr !== undefined && a.previousAdvertiseAddr !== agentAddress(ctx, a)) {
      out.push(diag("consul_stale_raft_peer", {
        path: [...a.path, "previous_advertise_addr"], host: a.host,
        message: `server ${a.name} now advertises ${formatIp(agentAddress(ctx, a)!)} but its Raft data still lists it as ${formatIp(a.previousAdvertiseAddr)}: the old address stays a voter`,
        hint: "Have the server leave before changing its address, or recover with peers.json (hashicorp/consul#613).",
      }));
    }
  }
  return out;
}
