// The simulator's world: Docker engines with their networks, IPAM and containers, a Swarm with Raft
// quorum and lazily instantiated overlays, Consul gossip pools, bootstrap, Raft voters and leaders, and
// health checks, all on top of the topology and path tracer. Steps change it; after each change the
// clustered parts settle (joins retried, bootstrap, elections) as the real software eventually would.
// Everything is deterministic: the same plan and steps always give the same observation.
import { formatIp, parseIp, type Ip } from "../ip.js";
import { CONSUL_DEFAULT_PORTS, DEFAULT_PING_PAYLOAD, SWARM_GOSSIP_PORT, SWARM_MANAGER_PORT } from "../defaults.js";
import type { ClassMatrix, ContainerObservation, ConsulAgentObservation, HostObservation, Observation, ProbeResult, ProbeSpec, ServiceObservation, SwarmObservation } from "../observation.js";
import { LARGE_PAYLOAD } from "./probes.js";
import { allocateAddresses, startOrder, type Allocation } from "../net/ipam.js";
import { resolveName } from "../net/dns.js";
import { agentNetns, buildTopology, containerNetns, hostNetns, stockPageMissing, type NetnsId, type Topology } from "../net/topology.js";
import { trace, type NetState, type TraceResult } from "../net/trace.js";
import type { FlowProto } from "../net/firewall.js";
import { hostPortBindings, indexPlan, shimDriver, type AddressRef, type ConsulAgent, type Container, type Fault, type Plan, type PlanIndex } from "../plan.js";
import { advertisedAddress, autoAddressCandidates, expectOf, inBootstrapMode, joinResolver, nonLocalClientAddrs, type JoinLanding } from "../rules/consul.js";
import type { Step, StepResult } from "../steps/step.js";

/** Above this many agents, member lists show only the members that are not alive (counts show all). */
export const MEMBER_LIST_LIMIT = 100;

export interface WorldOptions {
  /** The Consul version the agents run (decides start_join: one-shot before 1.15, retried since). */
  readonly consulVersion?: string;
}

interface ContainerState {
  state: "running" | "exited" | "absent";
  error?: string;
  restart: boolean;
}

interface AgentState {
  running: boolean;
  started: boolean;
  left: boolean;
  /** Raft cluster this server belongs to (has Raft data for). */
  cluster?: number;
  /** Addresses it has joined (successful joins persist in Serf's member list). */
  joined: Set<string>;
  /** The Raft peers a server still believes in after the others removed it while it was cut off. */
  frozenPeers?: string[];
  failedStart?: string;
}

interface RaftCluster {
  id: number;
  /** Agent names, or "ghost:ip" for stale voters from an old address (hashicorp/consul#613). */
  voters: string[];
  leader: string | null;
  /** Set when the leader came out of an election several servers could win: any of these. */
  candidates?: string[];
  /** Servers that can start the first election (they bootstrapped the configuration themselves). */
  campaigners?: string[];
}

export class World implements NetState {
  readonly index: PlanIndex;
  readonly topo: Topology;
  readonly allocation: Allocation;
  private readonly hostDown = new Set<string>();
  private readonly engineDown = new Set<string>();
  private readonly cut = new Set<string>();
  private readonly mtu = new Map<string, number>();
  private readonly blocks = new Set<string>();
  private partitionOf: Map<string, number> | undefined;
  private readonly modules = new Set<string>();
  private readonly localNets = new Set<string>();
  private readonly overlays = new Set<string>();
  private readonly shims = new Set<string>();
  private swarmInit = false;
  private readonly swarmMembers = new Map<string, { role: "manager" | "worker"; order: number }>();
  private swarmLeader: string | null = null;
  /** Managers in join order. */
  private readonly managers: string[] = [];
  private readonly containers = new Map<string, ContainerState>();
  private readonly agents = new Map<string, AgentState>();
  private readonly pool = new Map<string, string>();
  private readonly clusters: RaftCluster[] = [];
  private readonly services = new Map<string, { registered: boolean }>();
  private readonly consulRetriesStartJoin: boolean;
  /** Steps without other state whose effect exists (idempotence). */
  private readonly done = new Set<string>();

  constructor(readonly plan: Plan, order: readonly Container[] = startOrder(plan), opts: WorldOptions = {}) {
    this.index = indexPlan(plan);
    this.allocation = allocateAddresses(plan, order);
    this.topo = buildTopology(plan, this.allocation, this.index);
    const v = (opts.consulVersion ?? plan.consul?.image.split(":")[1] ?? "1.15").split(".").map(Number);
    this.consulRetriesStartJoin = (v[0] ?? 1) > 1 || (v[1] ?? 15) >= 15;
    for (const a of plan.consul?.agents ?? []) this.pool.set(a.name, a.name);
  }

  // ---- NetState ----------------------------------------------------------------------------

  hostUp(host: string): boolean {
    return !this.hostDown.has(host);
  }
  engineUp(host: string): boolean {
    return this.hostUp(host) && !this.engineDown.has(host);
  }
  hostConnected(host: string): boolean {
    return !this.cut.has(host);
  }
  segmentMtu(segment: string, planned: number): number {
    return this.mtu.get(segment) ?? planned;
  }
  containerRunning(name: string): boolean {
    const c = this.index.containers.get(name);
    if (!c) return false;
    if (c.agent) return this.agents.get(c.agent)?.running === true && this.engineUp(c.host);
    return this.containers.get(name)?.state === "running" && this.engineUp(c.host);
  }
  flowBlocked(from: string, to: string, proto: FlowProto, port?: number): boolean {
    if (this.partitionOf && from !== to && this.partitionOf.get(from) !== this.partitionOf.get(to)) return true;
    if (port === undefined) return false;
    return this.blocks.has(`${from}>${to}:${proto}/${port}`);
  }
  shimUp(host: string, name: string): boolean {
    return this.shims.has(`${name}@${host}`);
  }
  inSwarm(host: string): boolean {
    return this.swarmMembers.has(host) && this.engineUp(host);
  }

  // ---- steps -------------------------------------------------------------------------------

  apply(step: Step): StepResult {
    const r = this.applyStep(step);
    this.settle(step);
    return r;
  }

  private ok(step: Step, message: string, unchanged = false): StepResult {
    return { id: step.id, status: unchanged ? "unchanged" : "done", message };
  }

  private failed(step: Step, message: string): StepResult {
    return { id: step.id, status: "failed", message };
  }

  private applyStep(step: Step): StepResult {
    const h = step.kind === "fault" ? undefined : this.index.hosts.get(step.host);
    if (step.kind !== "fault") {
      if (!h) return this.failed(step, `no host ${step.host}`);
      if (!this.hostUp(step.host)) return this.failed(step, `${step.host} is down`);
      if (step.kind !== "kernel_module" && step.kind !== "shim_create" && !this.engineUp(step.host)) return this.failed(step, `Cannot connect to the Docker daemon on ${step.host}`);
    }
    switch (step.kind) {
      case "kernel_module": {
        const key = `${step.module}@${step.host}`;
        if (this.modules.has(key)) return this.ok(step, "already loaded", true);
        const feature = step.module as keyof NonNullable<typeof h>["kernel"];
        if (h!.kernel[feature] === false) return this.failed(step, `modprobe: FATAL: Module ${step.module} not found in directory /lib/modules`);
        this.modules.add(key);
        return this.ok(step, `${step.module} loaded`);
      }
      case "gwbridge_create":
        if (this.done.has(step.id)) return this.ok(step, "already exists", true);
        this.done.add(step.id);
        return this.ok(step, `docker_gwbridge ${step.subnet}`);
      case "swarm_init": {
        if (this.swarmMembers.has(step.host)) return this.ok(step, "already a swarm manager", true);
        const local = h!.nics.some((n) => formatIp(n.ip) === step.advertiseAddr);
        if (!local && !step.listenAddr) return this.failed(step, "must specify a listening address because the address to advertise is not recognized as a system address");
        this.swarmInit = true;
        this.swarmMembers.set(step.host, { role: "manager", order: 0 });
        this.managers.push(step.host);
        this.swarmLeader = step.host;
        return this.ok(step, `swarm initialized; ${step.host} is the leader`);
      }
      case "ingress_replace":
        if (this.done.has(step.id)) return this.ok(step, "already replaced", true);
        this.done.add(step.id);
        return this.ok(step, `ingress recreated on ${step.subnet}`);
      case "swarm_join": {
        if (this.swarmMembers.has(step.host)) return this.ok(step, `already in the swarm`, true);
        const target = this.swarmMembers.get(step.joinHost);
        if (!this.swarmInit || !target || target.role !== "manager") return this.failed(step, `${step.join} is not a swarm manager`);
        const joinIp = parseIp(step.join.split(":")[0]!)!;
        const path = trace(this.topo, this, hostNetns(step.host), joinIp, { proto: "tcp", port: SWARM_MANAGER_PORT, ipSize: 60, df: true });
        if (!path.ok) return this.failed(step, `Timeout was reached before node joined (${path.reason})`);
        if (!this.swarmLeader) return this.failed(step, "The swarm does not have a leader");
        this.swarmMembers.set(step.host, { role: step.role, order: this.swarmMembers.size });
        if (step.role === "manager") {
          // Before adding a manager to Raft, the leader health-checks it on its advertised address (the joiner
          // already listens on 2377); one it cannot reach is refused and the cluster keeps its members (swarmkit
          // raft.go checkHealth and TestRaftJoinWithIncorrectAddress; users meet it as a firewall on the joiner).
          const adv = this.managerAddr(step.host);
          const back = trace(this.topo, this, hostNetns(this.swarmLeader), adv, { proto: "tcp", port: SWARM_MANAGER_PORT, ipSize: 60, df: true });
          if (!back.ok) {
            this.swarmMembers.delete(step.host);
            return this.failed(step, `manager stopped: can't initialize raft node: rpc error: code = Unknown desc = could not connect to prospective new cluster member using its advertised address ${formatIp(adv)}:${SWARM_MANAGER_PORT} (${back.reason})`);
          }
          this.managers.push(step.host);
        }
        return this.ok(step, `joined the swarm as a ${step.role}`);
      }
      case "network_create": {
        const n = this.index.networks.get(step.network)!;
        if (n.scope === "swarm") {
          if (this.overlays.has(step.network)) return this.ok(step, "already exists", true);
          const m = this.swarmMembers.get(step.host);
          if (!m || m.role !== "manager") return this.failed(step, "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.");
          if (!this.swarmLeader) return this.failed(step, "The swarm does not have a leader. It's possible that too few managers are online.");
          this.overlays.add(step.network);
          return this.ok(step, `overlay ${step.network} ${step.subnet}`);
        }
        const key = `${step.network}@${step.host}`;
        if (this.localNets.has(key)) return this.ok(step, "already exists", true);
        const bad = n.instances.find((i) => i.host === step.host)?.invalidRange;
        // The docker CLI itself refuses it before asking the daemon (docker/cli network create, consolidateIpam).
        if (bad) return this.failed(step, `no matching subnet for range ${bad.text}`);
        if (step.driver === "macvlan" || step.driver === "ipvlan") {
          if (!h!.kernel[step.driver]) return this.failed(step, `${step.driver}: kernel module not available`);
          const base = step.parent?.split(".")[0];
          if (!h!.nics.some((x) => x.name === base)) return this.failed(step, `failed to find master interface ${base} on the Docker host`);
          const major = Number(h!.docker.version.split(".")[0]);
          const clash = [...this.localNets].find((k) => {
            const [net, host] = k.split("@");
            if (host !== step.host) return false;
            const other = this.index.networks.get(net!)!;
            const inst = other.instances.find((i) => i.host === step.host);
            // Each driver checks only its own networks; a macvlan beside an ipvlan fails later, at container start.
            return other.driver === step.driver && inst?.parent === step.parent && (major < 26 || step.mode === "passthru" || other.mode === "passthru");
          });
          if (clash) return this.failed(step, `network ${clash.split("@")[0]} is already using parent interface ${step.parent}`);
        }
        const overlapping = [...this.localNets].find((k) => {
          const [net, host] = k.split("@");
          if (host !== step.host) return false;
          const inst = this.index.networks.get(net!)!.instances.find((i) => i.host === step.host);
          const mine = n.instances.find((i) => i.host === step.host);
          return inst && mine && inst.subnet.first <= mine.subnet.last && mine.subnet.first <= inst.subnet.last;
        });
        if (overlapping) return this.failed(step, "Pool overlaps with other one on this address space");
        this.localNets.add(key);
        return this.ok(step, `${step.driver} network ${step.network} ${step.subnet}`);
      }
      case "shim_create": {
        const key = `${step.name}@${step.host}`;
        if (this.shims.has(key)) return this.ok(step, "already exists", true);
        // A VLAN sub-interface exists once Docker made it for a network created on it (parent=eth0.10).
        const vlanMade = step.parent.includes(".") && [...this.localNets].some((k) => {
          const [net, host] = k.split("@");
          return host === step.host && this.index.networks.get(net!)?.instances.some((i) => i.host === step.host && i.parent === step.parent);
        });
        if (!h!.nics.some((x) => x.name === step.parent) && !vlanMade) return this.failed(step, `Cannot find device "${step.parent}"`);
        // A master carries macvlan or ipvlan children, not both (containernetworking/cni#7).
        if (this.childKindsOn(step.host, step.parent).has(step.type === "macvlan" ? "ipvlan" : "macvlan")) return this.failed(step, "RTNETLINK answers: Device or resource busy");
        this.shims.add(key);
        return this.ok(step, `${step.name} on ${step.parent}`);
      }
      case "consul_agent": {
        const a = this.index.agents.get(step.agent)!;
        const s = this.agentState(a.name);
        if (s.running) return this.ok(step, "already running", true);
        if (a.network !== "host") {
          const n = this.index.networks.get(a.network.network);
          // The implicit networks (the default bridge) exist with the engine, as for containers.
          if (n && n.scope === "local" && !n.implicit && !this.localNets.has(`${n.name}@${a.host}`)) return this.failed(step, `network ${n.name} not found`);
        }
        if (a.unresolvableTemplate) {
          s.failedStart = `Failed to parse ${a.unresolvableTemplate} address: template resolved to no address`;
          return this.failed(step, `agent exits: ${s.failedStart}`);
        }
        const candidates = autoAddressCandidates(this.topo, a);
        if (candidates !== undefined && candidates.length !== 1) {
          s.failedStart = candidates.length === 0 ? "No private IPv4 address found" : "Multiple private IPv4 addresses found. Please configure one with 'bind' and/or 'advertise'.";
          return this.failed(step, `agent exits: ${s.failedStart}`);
        }
        // Serf and RPC listen on bind_addr in the agent's own namespace: an address it does not have is
        // fatal at start ("bind: cannot assign requested address"), under --net=host or on a Docker network.
        const agentNs = this.topo.netns.get(this.agentNetns(a));
        if (a.bindAddr !== undefined && a.bindAddr !== 0) {
          if (agentNs && !agentNs.ifaces.some((i) => i.ip === a.bindAddr)) {
            s.failedStart = `Failed to start Consul ${a.server ? "server" : "client"}: listen tcp ${formatIp(a.bindAddr)}:${a.ports.serfLan}: bind: cannot assign requested address`;
            return this.failed(step, `agent exits: ${s.failedStart}`);
          }
        }
        // HTTP and DNS listen on each client_addr: the same rule (loopback is always there).
        const foreignClient = nonLocalClientAddrs(a, () => agentNs);
        if (foreignClient.length > 0) {
          s.failedStart = `Error starting agent: listen tcp ${formatIp(foreignClient[0]!)}:${a.ports.http}: bind: cannot assign requested address`;
          return this.failed(step, `agent exits: ${s.failedStart}`);
        }
        const agentClash = this.portClash(this.index.containers.get(a.name));
        if (agentClash) {
          s.failedStart = agentClash.listen ? `Error starting agent: ${agentClash.message}` : agentClash.message;
          return this.failed(step, agentClash.listen ? `agent exits: ${s.failedStart}` : `docker: Error response from daemon: ${agentClash.message}`);
        }
        if (!a.server && (a.bootstrapExpect !== undefined || a.bootstrap)) {
          s.failedStart = a.bootstrapExpect !== undefined && a.bootstrapExpect > 1 ? "'bootstrap_expect > 0' requires 'server = true'" : "'bootstrap = true' requires 'server = true'";
          return this.failed(step, `agent exits: ${s.failedStart}`);
        }
        s.running = true;
        s.started = true;
        s.left = false;
        // start_join is one attempt at start on Consul before 1.15: the agent exits when it fails.
        if (!this.consulRetriesStartJoin && a.startJoin.length > 0) {
          const ok = a.startJoin.some((t) => this.tryJoin(a, t));
          if (!ok) {
            s.running = false;
            return this.failed(step, `agent exits: Error joining address: ${a.startJoin.join(", ")}`);
          }
        }
        return this.ok(step, `agent ${a.name} started`);
      }
      case "container_run": {
        const c = this.index.containers.get(step.container)!;
        const cur = this.containers.get(c.name);
        if (cur?.state === "running") return this.ok(step, "already running", true);
        for (const a of c.attachments) {
          const n = this.index.networks.get(a.network);
          if (!n) continue;
          if (n.scope === "swarm") {
            if (!this.overlays.has(n.name)) return this.setContainer(c, step, `network ${n.name} not found`);
            if (!n.attachable) return this.setContainer(c, step, `Could not attach to network ${n.name}: rpc error: code = PermissionDenied desc = network ${n.name} not manually attachable`);
            if (!this.inSwarm(c.host)) return this.setContainer(c, step, `Could not attach to network ${n.name}: this node is not part of a swarm`);
            if (!this.swarmLeader) return this.setContainer(c, step, `Could not attach to network ${n.name}: rpc error: the swarm does not have a leader`);
          } else if (!n.implicit && !this.localNets.has(`${n.name}@${c.host}`)) {
            return this.setContainer(c, step, `network ${n.name} not found`);
          }
        }
        for (const a of c.attachments) {
          const n = this.index.networks.get(a.network);
          const parent = n?.instances.find((i) => i.host === c.host)?.parent;
          if (!n || (n.driver !== "macvlan" && n.driver !== "ipvlan") || parent === undefined) continue;
          // Docker makes the child link at container start; the kernel refuses a second kind on one master
          // (containernetworking/cni#7, moby/libnetwork#964).
          if (this.childKindsOn(c.host, parent).has(n.driver === "macvlan" ? "ipvlan" : "macvlan")) {
            return this.setContainer(c, step, `failed to create the ${n.driver} port: device or resource busy`);
          }
        }
        const problem = this.allocation.problems.find((p) => p.container === c.name);
        if (problem) {
          const msg = problem.kind === "in_use" ? "Address already in use" : problem.kind === "exhausted" ? `no available IPv4 addresses on this network's address pools: ${problem.network}` : `invalid address ${formatIp(problem.ip!)} for network ${problem.network}`;
          return this.setContainer(c, step, msg);
        }
        const clash = this.portClash(c);
        if (clash && !clash.listen) return this.setContainer(c, step, clash.message);
        if (clash) {
          // The container starts; its process cannot bind the port and exits.
          this.containers.set(c.name, { state: "exited", error: clash.message, restart: false });
          return this.failed(step, `${c.name} exits: ${clash.message}`);
        }
        // Running also with no command: the step renders -dit then, and a default shell without -it would exit at once (docker/docs#19699).
        this.containers.set(c.name, { state: "running", restart: false });
        return this.ok(step, `${c.name} running`);
      }
      case "service_register": {
        const a = this.agents.get(step.agent);
        if (!a?.running) return this.failed(step, `agent ${step.agent} is not running: connection refused`);
        if ((this.index.agents.get(step.agent)?.ports.http ?? 0) < 0) return this.failed(step, `curl: (7) Failed to connect: ${step.agent}'s HTTP API is off (ports.http: -1)`);
        if (this.services.get(step.service)?.registered) return this.ok(step, "already registered", true);
        this.services.set(step.service, { registered: true });
        return this.ok(step, `registered ${step.service}`);
      }
      case "fault":
        return this.applyFault(step, step.fault);
    }
  }

  /**
   * A port this container would bind on its host that a running container, agent or outside process already
   * holds. A published port fails the start (docker-proxy: "port is already allocated" against another
   * published port, "address already in use" against a host process); a host-network process starts and
   * exits on its own bind error (`listen`).
   */
  private portClash(c: Container | undefined): { message: string; listen: boolean } | undefined {
    if (!c) return undefined;
    const mine = hostPortBindings(c);
    const wild = (ip: Ip | undefined) => ip === undefined || ip === 0;
    // Its own listeners on one port (a Consul agent's http moved onto serf_lan): the second bind fails.
    const own = c.listen.find((l, i) => c.listen.some((k, j) => j < i && k.port === l.port && k.proto === l.proto && (wild(k.ip) || wild(l.ip) || k.ip === l.ip)));
    if (own) return { listen: true, message: `listen ${own.proto} ${own.ip !== undefined ? formatIp(own.ip) : "0.0.0.0"}:${own.port}: bind: address already in use` };
    if (mine.length === 0) return undefined;
    const held: { port: number; proto: string; ip?: Ip; published: boolean }[] = [];
    for (const p of this.index.hosts.get(c.host)?.portsInUse ?? []) held.push({ port: p.port, proto: p.proto, published: false });
    for (const o of this.topo.containersOn.get(c.host) ?? []) {
      if (o.name !== c.name && this.containerRunning(o.name)) held.push(...hostPortBindings(o));
    }
    for (const m of mine) {
      const h = held.find((x) => x.port === m.port && x.proto === m.proto && (wild(x.ip) || wild(m.ip) || x.ip === m.ip));
      if (!h) continue;
      const addr = `${m.ip !== undefined ? formatIp(m.ip) : "0.0.0.0"}:${m.port}`;
      if (m.published) return { listen: false, message: h.published ? `driver failed programming external connectivity on endpoint ${c.name}: Bind for ${addr} failed: port is already allocated` : `driver failed programming external connectivity on endpoint ${c.name}: listen ${m.proto} ${addr}: bind: address already in use` };
      return { listen: true, message: `listen ${m.proto} ${addr}: bind: address already in use` };
    }
    return undefined;
  }

  /** The kinds of child links on a host's master interface now: created shims and running containers' endpoints. */
  private childKindsOn(host: string, parent: string): Set<"macvlan" | "ipvlan"> {
    const kinds = new Set<"macvlan" | "ipvlan">();
    const h = this.index.hosts.get(host);
    for (const sh of h?.shims ?? []) {
      if (sh.parent === parent && this.shims.has(`${sh.name}@${host}`)) kinds.add(shimDriver(this.plan, host, sh).type);
    }
    for (const c of (this.topo.containersOn.get(host) ?? [])) {
      if (c.agent || this.containers.get(c.name)?.state !== "running") continue;
      for (const a of c.attachments) {
        const n = this.index.networks.get(a.network);
        if ((n?.driver === "macvlan" || n?.driver === "ipvlan") && n.instances.some((i) => i.host === host && i.parent === parent)) kinds.add(n.driver);
      }
    }
    return kinds;
  }

  private setContainer(c: Container, step: Step, error: string): StepResult {
    this.containers.set(c.name, { state: "absent", error, restart: false });
    return this.failed(step, `docker: Error response from daemon: ${error}`);
  }

  private agentState(name: string): AgentState {
    let s = this.agents.get(name);
    if (!s) this.agents.set(name, (s = { running: false, started: false, left: false, joined: new Set() }));
    return s;
  }

  private applyFault(step: Step, f: Fault): StepResult {
    switch (f.kind) {
      case "stop_host":
        this.hostDown.add(f.host);
        this.stopAllOn(f.host);
        return this.ok(step, `${f.host} stopped`);
      case "start_host":
        this.hostDown.delete(f.host);
        this.engineDown.delete(f.host);
        this.restartAllOn(f.host);
        return this.ok(step, `${f.host} started`);
      case "stop_engine":
        // Stopping dockerd stops its containers with SIGTERM while the network is still up: agents with
        // leave_on_terminate leave gracefully (a stopped host, cut off first, cannot).
        for (const a of this.plan.consul?.agents ?? []) {
          if (a.host === f.host && a.leaveOnTerminate && this.agents.get(a.name)?.running) {
            this.agentState(a.name).running = false;
            this.leave(a);
          }
        }
        this.engineDown.add(f.host);
        this.stopAllOn(f.host);
        return this.ok(step, `engine on ${f.host} stopped`);
      case "start_engine":
        this.engineDown.delete(f.host);
        this.restartAllOn(f.host);
        return this.ok(step, `engine on ${f.host} started`);
      case "cut_host":
        this.cut.add(f.host);
        return this.ok(step, `${f.host} cut off its switch`);
      case "restore_host":
        this.cut.delete(f.host);
        return this.ok(step, `${f.host} back on its switch`);
      case "stop_agent": {
        const a = this.index.agents.get(f.agent)!;
        const s = this.agentState(f.agent);
        s.running = false;
        if (a.leaveOnTerminate) this.leave(a);
        return this.ok(step, `agent ${f.agent} stopped${a.leaveOnTerminate ? " (left the cluster)" : ""}`);
      }
      case "start_agent": {
        const s = this.agentState(f.agent);
        const agentHost = this.index.agents.get(f.agent)!.host;
        if (!this.engineUp(agentHost)) return this.failed(step, `Cannot connect to the Docker daemon on ${agentHost}`);
        if (s.started) {
          s.running = true;
          s.left = false;
          delete s.frozenPeers;
        }
        return this.ok(step, `agent ${f.agent} started`);
      }
      case "stop_container": {
        const c = this.containers.get(f.container);
        if (c) c.state = "exited";
        const agent = this.index.agents.get(f.container);
        // The same `docker stop` as stop-agent: SIGTERM, and an agent with leave_on_terminate leaves.
        if (agent) {
          this.agentState(agent.name).running = false;
          if (agent.leaveOnTerminate) this.leave(agent);
        }
        return this.ok(step, `${f.container} stopped`);
      }
      case "start_container": {
        const ctrHost = this.index.containers.get(f.container)!.host;
        if (!this.engineUp(ctrHost)) return this.failed(step, `Cannot connect to the Docker daemon on ${ctrHost}`);
        const c = this.containers.get(f.container);
        if (c && c.state === "exited") c.state = "running";
        return this.ok(step, `${f.container} started`);
      }
      case "partition": {
        const m = new Map<string, number>();
        f.groups.forEach((g, i) => g.forEach((h) => m.set(h, i)));
        for (const h of this.plan.hosts) if (!m.has(h.name)) m.set(h.name, f.groups.length);
        this.partitionOf = m;
        this.leaderBeforeSplit ??= this.swarmLeader;
        this.consulLeadersBeforeSplit ??= new Map(this.clusters.map((c) => [c.id, c.leader] as const));
        return this.ok(step, `partitioned: ${f.groups.map((g) => g.join(",")).join(" | ")}`);
      }
      case "heal_partition": {
        this.partitionOf = undefined;
        // Whether the majority side elected a new leader depends on how long the split lasted against Raft's
        // election timeout, which the plan does not say: after the heal either leader may be the one.
        const before = this.leaderBeforeSplit;
        this.leaderBeforeSplit = null;
        if (before && this.swarmLeader && before !== this.swarmLeader && this.engineUp(before)) {
          this.swarmCandidates = [...new Set([...(this.swarmCandidates ?? [this.swarmLeader]), before])];
        }
        const consulBefore = this.consulLeadersBeforeSplit;
        this.consulLeadersBeforeSplit = undefined;
        for (const c of this.clusters) {
          const was = consulBefore?.get(c.id);
          if (was && c.leader && was !== c.leader && this.agents.get(was)?.running) c.candidates = [...new Set([...(c.candidates ?? [c.leader]), was])];
        }
        return this.ok(step, "partition healed");
      }
      case "block_port":
        this.blocks.add(`${f.from}>${f.to}:${f.proto}/${f.port}`);
        return this.ok(step, `${f.proto}/${f.port} from ${f.from} to ${f.to} blocked`);
      case "unblock_port":
        this.blocks.delete(`${f.from}>${f.to}:${f.proto}/${f.port}`);
        return this.ok(step, `${f.proto}/${f.port} from ${f.from} to ${f.to} unblocked`);
      case "set_mtu":
        this.mtu.set(f.segment, f.mtu);
        return this.ok(step, `segment ${f.segment} MTU ${f.mtu}`);
    }
  }

  /** A stopped engine takes its containers down; without a restart policy they stay down (Docker's default). */
  private stopAllOn(host: string): void {
    for (const [name, c] of this.containers) {
      if (this.index.containers.get(name)?.host === host && c.state === "running") {
        c.state = "exited";
        c.restart = true;
      }
    }
    for (const a of this.plan.consul?.agents ?? []) {
      if (a.host === host) this.agentState(a.name).running = false;
    }
  }

  /** Agents run with --restart=always (as the seed does); workload containers have no restart policy. */
  private restartAllOn(host: string): void {
    if (!this.engineUp(host)) return;
    for (const a of this.plan.consul?.agents ?? []) {
      const s = this.agentState(a.name);
      if (a.host === host && s.started && !s.failedStart) {
        s.running = true;
        s.left = false;
      }
    }
  }

  // ---- reachability, memoized by equivalence class ------------------------------------------
  //
  // Two namespaces are equivalent when everything that decides where their packets go is the same:
  // their host's configuration and state (not its name or addresses), their networks, and which of the
  // plan's interesting subnets (firewall sources, routes, shims, externals) their addresses fall in.
  // A reachability answer for one pair holds for every pair of the same two classes on the same
  // (or not the same) host; this is what lets a 1,000-host plan simulate in seconds.

  private readonly reachCache = new Map<string, boolean>();
  /** Namespace → its class id, valid while its host's version is unchanged. */
  private readonly classMemo = new Map<string, { v: number; id: number }>();
  private readonly classIds = new Map<string, number>();
  /** Bumped whenever a step touches a host; faults bump every host. */
  private readonly hostVersion = new Map<string, number>();
  private agentsByHost: Map<string, ConsulAgent[]> | undefined;
  private interesting: readonly { first: number; last: number }[] | undefined;
  private ownersMemo: Map<Ip, NetnsId[]> | undefined;
  private namedHosts: Set<string> | undefined;

  /** Keeps memoized classes valid: a host's classes are recomputed after a step touched it. */
  private touched(step: Step): void {
    if (step.kind === "fault") {
      // Faults can change anything, also between hosts (blocks, partitions, MTU): start afresh.
      this.reachCache.clear();
      for (const h of this.plan.hosts) this.hostVersion.set(h.name, (this.hostVersion.get(h.name) ?? 0) + 1);
      this.namedHosts = undefined;
      return;
    }
    this.hostVersion.set(step.host, (this.hostVersion.get(step.host) ?? 0) + 1);
  }

  private intern(signature: string): number {
    let id = this.classIds.get(signature);
    if (id === undefined) this.classIds.set(signature, (id = this.classIds.size));
    return id;
  }

  private interestingCidrs(): readonly { first: number; last: number }[] {
    if (this.interesting) return this.interesting;
    const out = new Map<string, { first: number; last: number }>();
    const add = (c: { first: number; last: number; text?: string }) => out.set(`${c.first}-${c.last}`, c);
    for (const h of this.plan.hosts) {
      for (const n of h.nics) add(n.cidr);
      for (const r of h.routes) add(r.to);
      for (const sh of h.shims) for (const r of sh.routes) add(r);
      for (const rule of h.firewall?.allow ?? []) for (const f of rule.from ?? []) if (typeof f !== "string") add(f);
    }
    for (const e of this.plan.externals) add(e.cidr);
    return (this.interesting = [...out.values()]);
  }

  private bits(ips: readonly Ip[]): string {
    return ips.map((ip) => this.interestingCidrs().map((c) => (ip >= c.first && ip <= c.last ? "1" : "0")).join("")).join(".");
  }

  /** Hosts that must keep their identity: named in firewall rules or in an active block/partition. */
  private named(): Set<string> {
    if (!this.namedHosts) {
      const s = new Set<string>();
      for (const h of this.plan.hosts) for (const rule of h.firewall?.allow ?? []) for (const f of rule.from ?? []) if (typeof f === "string") s.add(f);
      for (const b of this.blocks) {
        const m = /^(.*)>(.*):/.exec(b);
        if (m) { s.add(m[1]!); s.add(m[2]!); }
      }
      this.namedHosts = s;
    }
    return this.namedHosts;
  }

  private hostClass(host: string): number {
    const key = `h:${host}`;
    const v = this.hostVersion.get(host) ?? 0;
    const memo = this.classMemo.get(key);
    if (memo && memo.v === v) return memo.id;
    const h = this.index.hosts.get(host)!;
    const node = this.swarmMembers.get(host);
    if (!this.agentsByHost) {
      this.agentsByHost = new Map();
      for (const a of this.plan.consul?.agents ?? []) {
        const list = this.agentsByHost.get(a.host);
        if (list) list.push(a);
        else this.agentsByHost.set(a.host, [a]);
      }
    }
    const c = JSON.stringify([
      this.named().has(host) ? host : "",
      h.nics.map((n) => [n.name, n.cidr.prefix, n.mtu, n.gateway !== undefined, this.index.segmentOfNic.get(`${host}/${n.name}`)]),
      h.routes.map((r) => [r.to.text, r.via !== undefined, r.dev]),
      h.kernel, [h.docker.bridge.subnet.text, h.docker.gwbridge.subnet.text, h.docker.bridge.mtu, h.docker.gwbridge.mtu, h.docker.version],
      h.firewall ?? null, h.platform.kind, h.platform.promiscuous, h.platform.forgedTransmits, h.platform.vswitch, h.platform.macSpoofing,
      h.shims.map((sh) => [sh.parent, sh.cidr.prefix, sh.routes.map((r) => r.text)]), h.underlayVxlanPorts,
      node?.role ?? null, (this.agentsByHost.get(host) ?? []).map((a) => [a.server, a.network === "host", a.ports, this.agents.get(a.name)?.running ?? false]),
      this.hostUp(host), this.engineUp(host), this.hostConnected(host), this.inSwarm(host), this.partitionOf?.get(host) ?? -1,
      this.bits([...h.nics.map((n) => n.ip), ...h.shims.map((sh) => sh.ip)]),
      this.plan.networks.filter((n) => n.scope === "local" && this.localNets.has(`${n.name}@${host}`)).map((n) => n.name),
    ]);
    const id = this.intern(c);
    this.classMemo.set(key, { v, id });
    return id;
  }

  private netnsClass(id: NetnsId): number {
    const ns = this.topo.netns.get(id)!;
    const v = this.hostVersion.get(ns.host) ?? 0;
    const memo = this.classMemo.get(id);
    if (memo && memo.v === v) return memo.id;
    let c: number;
    if (ns.kind === "host") c = this.hostClass(ns.host);
    else {
      const ct = this.index.containers.get(ns.container!)!;
      c = this.intern(JSON.stringify([
        this.hostClass(ct.host), ns.ifaces.map((i) => [i.name, i.kind, i.network, i.parent, i.mtu, i.cidr.text, i.gateway !== undefined]),
        this.containerRunning(ct.name), ct.listen, ct.publish.map((p) => [p.hostPort, p.containerPort, p.proto, p.hostIp !== undefined]),
        this.bits(ns.ifaces.map((i) => i.ip)), ns.ifaces.some((i) => (this.owners().get(i.ip)?.length ?? 0) > 1),
      ]));
    }
    this.classMemo.set(id, { v, id: c });
    return c;
  }

  /** Address → the namespaces that hold it. */
  private owners(): Map<Ip, NetnsId[]> {
    if (!this.ownersMemo) {
      const m = new Map<Ip, NetnsId[]>();
      for (const ns of this.topo.netns.values()) for (const i of ns.ifaces) {
        const list = m.get(i.ip);
        if (list) { if (!list.includes(ns.id)) list.push(ns.id); } else m.set(i.ip, [ns.id]);
      }
      this.ownersMemo = m;
    }
    return this.ownersMemo;
  }

  /** Whether a packet from `from` to `dst` gets through and is answered, memoized by class. */
  reach(from: NetnsId, dst: Ip, probe: { proto: "icmp" | "tcp" | "udp"; port?: number; ipSize: number; df: boolean }): boolean {
    const owners = this.owners().get(dst);
    if (!owners || owners.length !== 1) return trace(this.topo, this, from, dst, probe).ok;
    const to = owners[0]!;
    const src = this.topo.netns.get(from)!, dstNs = this.topo.netns.get(to)!;
    const iface = dstNs.ifaces.findIndex((i) => i.ip === dst);
    const key = `${this.netnsClass(from)}|${this.netnsClass(to)}|${iface}|${src.host === dstNs.host}|${from === to}|${probe.proto}/${probe.port ?? ""}/${probe.ipSize}/${probe.df}`;
    let ok = this.reachCache.get(key);
    if (ok === undefined) {
      ok = trace(this.topo, this, from, dst, probe).ok;
      this.reachCache.set(key, ok);
    }
    return ok;
  }

  // ---- settling: swarm and Consul ----------------------------------------------------------

  private hostReach(from: string, _to: string, ip: Ip, proto: "tcp" | "udp", port: number): boolean {
    return this.reach(hostNetns(from), ip, { proto, port, ipSize: 60, df: true });
  }

  private settle(step: Step): void {
    this.touched(step);
    // Workload steps change neither the swarm's nor Consul's membership (their networks are local).
    if (step.kind === "container_run" || step.kind === "service_register" || step.kind === "kernel_module" || step.kind === "shim_create") return;
    if (step.kind === "network_create" && this.index.networks.get(step.network)?.scope === "swarm") return;
    this.namedHosts = undefined;
    this.settleSwarm();
    for (let i = 0; i < 4; i++) if (!this.settleConsul()) break;
  }

  private managerAddr(host: string): Ip {
    return this.topo.tunnelAddr.get(host) ?? this.index.hosts.get(host)!.nics[0]!.ip;
  }

  private settleSwarm(): void {
    if (!this.swarmInit) return;
    const managers = this.managers;
    const alive = managers.filter((h) => this.engineUp(h));
    const quorum = Math.floor(managers.length / 2) + 1;
    const groups = this.components(alive, (a, b) => this.hostReach(a, b, this.managerAddr(b), "tcp", SWARM_MANAGER_PORT) && this.hostReach(b, a, this.managerAddr(a), "tcp", SWARM_MANAGER_PORT));
    const majority = groups.find((g) => g.length >= quorum);
    if (!majority) {
      if (this.swarmLeader !== null) this.swarmCandidates = undefined;
      this.swarmLeader = null;
      this.swarmLost = true;
    } else if (!this.swarmLeader || !majority.includes(this.swarmLeader)) {
      this.swarmCandidates = [...majority];
      this.swarmLeader = majority[0]!;
    }
  }

  private swarmCandidates: string[] | undefined;
  private leaderBeforeSplit: string | null = null;
  private consulLeadersBeforeSplit: Map<number, string | null> | undefined;
  private swarmLost = false;

  /** Connected components of `nodes` under a symmetric relation, each in the nodes' order. */
  private components(nodes: string[], linked: (a: string, b: string) => boolean): string[][] {
    // Linear in the links it tries when everything is connected (a node joins the first member it reaches);
    // merging grows the biggest group in place, so 1000 managers settle in milliseconds, not minutes.
    const order = new Map(nodes.map((n, i) => [n, i]));
    let groups: string[][] = [];
    for (const n of nodes) {
      const hit: string[][] = [];
      const rest: string[][] = [];
      for (const g of groups) (g.some((m) => linked(n, m)) ? hit : rest).push(g);
      hit.sort((a, b) => b.length - a.length);
      const merged = hit[0] ?? [];
      for (const g of hit.slice(1)) for (const m of g) merged.push(m);
      merged.push(n);
      rest.push(merged);
      groups = rest;
    }
    const rank = (x: string) => order.get(x)!;
    for (const g of groups) g.sort((a, b) => rank(a) - rank(b));
    return groups.sort((a, b) => rank(a[0]!) - rank(b[0]!));
  }

  private agentAddr(a: ConsulAgent): Ip {
    return advertisedAddress(a, (h) => this.index.hosts.get(h)?.nics[0]?.ip, this.allocation) ?? 0;
  }

  private agentNetns(a: ConsulAgent): NetnsId {
    return agentNetns(a);
  }

  /** Can agent a reach agent b on `port` (tcp and, for gossip, udp too)? */
  private agentReach(a: ConsulAgent, b: ConsulAgent, port: number, udp: boolean): boolean {
    if (!this.agents.get(a.name)?.running || !this.agents.get(b.name)?.running) return false;
    const ip = this.agentAddr(b);
    const tcp = this.reach(this.agentNetns(a), ip, { proto: "tcp", port, ipSize: 60, df: true });
    if (!tcp || !udp) return tcp;
    return this.reach(this.agentNetns(a), ip, { proto: "udp", port, ipSize: 60, df: true });
  }

  private findPool(x: string): string {
    let r = x;
    while (this.pool.get(r) !== r) r = this.pool.get(r)!;
    let y = x;
    while (y !== r) {
      const next = this.pool.get(y)!;
      this.pool.set(y, r);
      y = next;
    }
    return r;
  }

  private landJoin: ((ip: Ip) => JoinLanding | undefined) | undefined;

  private tryJoin(a: ConsulAgent, target: string): boolean {
    const host = target.replace(/:\d+$/, "");
    const ip = parseIp(host);
    const agents = this.plan.consul?.agents ?? [];
    this.landJoin ??= joinResolver(agents, this.index, (x) => this.agentAddr(x));
    const landing = ip !== undefined ? this.landJoin(ip) : undefined;
    const t = ip !== undefined ? landing?.agent : agents.find((x) => x.host === host || x.name === host);
    if (!t || t.name === a.name) return false;
    // Through a bind address or a published port the join is a TCP push/pull to that address; gossip to the advertised one follows.
    const direct = landing !== undefined && landing.dialed !== "advertised";
    if (direct ? !this.agentState(t.name).running || !this.reach(this.agentNetns(a), ip!, { proto: "tcp", port: t.ports.serfLan, ipSize: 60, df: true }) : !this.agentReach(a, t, t.ports.serfLan, true)) return false;
    this.agentState(a.name).joined.add(target);
    const ra = this.findPool(a.name), rt = this.findPool(t.name);
    if (ra !== rt) this.pool.set(ra, rt);
    return true;
  }

  /** One round of Consul's eventual behaviour; true when something changed. */
  private settleConsul(): boolean {
    const agents = this.plan.consul?.agents ?? [];
    if (agents.length === 0) return false;
    let changed = false;
    // A running agent marked left by a force-leave (autopilot's cleanup while it was cut off) refutes it once
    // another member hears it again: Serf takes its newer incarnation, and it is alive again.
    for (const a of agents) {
      const s = this.agents.get(a.name);
      if (!s?.running || !s.left) continue;
      const heard = agents.some((b) => b !== a && this.agents.get(b.name)?.running && !this.agents.get(b.name)?.left && this.findPool(b.name) === this.findPool(a.name) && this.agentReach(b, a, a.ports.serfLan, true));
      if (heard) {
        s.left = false;
        delete s.frozenPeers;
        changed = true;
      }
    }
    // retry_join: keeps trying until one address works (start_join too, since 1.15).
    for (const a of agents) {
      const s = this.agents.get(a.name);
      if (!s?.running) continue;
      const targets = [...a.retryJoin, ...(this.consulRetriesStartJoin ? a.startJoin : [])];
      if (targets.length === 0 || targets.some((t) => s.joined.has(t))) continue;
      for (const t of targets) if (this.tryJoin(a, t)) { changed = true; break; }
    }
    // Bootstrap, exactly as DESIGN.md describes Consul's maybeBootstrap.
    for (const a of agents) {
      const s = this.agents.get(a.name);
      if (!a.server || !s?.running || s.cluster !== undefined) continue;
      if (a.previousAdvertiseAddr !== undefined) {
        // Raft data from an earlier life: no bootstrap; the old address stays a voter.
        s.cluster = this.newCluster([a.name, `ghost:${formatIp(a.previousAdvertiseAddr)}`], null);
        changed = true;
        continue;
      }
      if (inBootstrapMode(a)) {
        s.cluster = this.newCluster([a.name], a.name);
        changed = true;
        continue;
      }
      const expect = expectOf(a);
      if (expect === 0) continue;
      const seen = agents.filter((b) => b.server && this.agents.get(b.name)?.running && this.findPool(b.name) === this.findPool(a.name) && (b === a || this.agentReach(a, b, b.ports.serfLan, true)));
      if (seen.some((b) => (expectOf(b) !== 0 && expectOf(b) !== expect) || inBootstrapMode(b))) continue;
      if (seen.length < expect) continue;
      if (seen.some((b) => this.agents.get(b.name)!.cluster !== undefined)) continue;
      // Every server that expects this many bootstraps the same configuration and may campaign; a server
      // without bootstrap_expect waits for the leader to tell it (the seed's server-2): then only the
      // bootstrapping server can win the first election.
      const campaigners = seen.filter((b) => expectOf(b) === expect).map((b) => b.name);
      const id = this.newCluster(seen.map((b) => b.name), null, campaigners);
      for (const b of seen) this.agents.get(b.name)!.cluster = id;
      changed = true;
    }
    // Elections, then the leader adds servers that joined later and removes dead ones (autopilot).
    for (const c of this.clusters) {
      const before = c.leader;
      this.elect(c);
      if (c.leader !== before) changed = true;
      if (!c.leader) continue;
      const leader = this.index.agents.get(c.leader)!;
      if (this.pruneDeadServers(c, leader)) changed = true;
      for (const b of agents) {
        const sb = this.agents.get(b.name);
        if (!b.server || !sb?.running || sb.cluster !== undefined) continue;
        if (this.findPool(b.name) !== this.findPool(leader.name) || !this.agentReach(leader, b, b.ports.server, false)) continue;
        sb.cluster = c.id;
        c.voters.push(b.name);
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Autopilot's dead server cleanup (on by default): the leader removes failed voters from Raft and
   * force-leaves them in Serf, but only a minority: at most (voters − 1) / 2 at once, so 3 servers lose one
   * and 2 servers none (consul agent/consul/autopilot canRemoveServers; seen in the lab: a stopped server of
   * three shows as "left" and drops out of the peers). Stale voters (old addresses) count as dead.
   */
  private pruneDeadServers(c: RaftCluster, leader: ConsulAgent): boolean {
    const dead = c.voters.filter((v) => {
      if (v === leader.name) return false;
      if (v.startsWith("ghost:")) return true;
      const a = this.index.agents.get(v)!;
      return !this.agents.get(v)?.running || !this.agentReach(leader, a, a.ports.serfLan, true);
    });
    if (dead.length === 0 || dead.length > Math.floor((c.voters.length - 1) / 2)) return false;
    const before = [...c.voters];
    c.voters = c.voters.filter((v) => !dead.includes(v));
    for (const v of dead) {
      if (v.startsWith("ghost:")) continue;
      const s = this.agentState(v);
      s.left = true;
      // A server cut off (not stopped) never hears of its removal: it keeps the configuration it had.
      if (s.running) s.frozenPeers = before;
      delete s.cluster;
    }
    return true;
  }

  private newCluster(voters: string[], leader: string | null, campaigners?: string[]): number {
    const id = this.clusters.length;
    this.clusters.push({ id, voters: [...voters], leader, ...(campaigners ? { campaigners } : {}) });
    return id;
  }

  private elect(c: RaftCluster): void {
    const servers = c.voters.filter((v) => !v.startsWith("ghost:")).map((v) => this.index.agents.get(v)!);
    const alive = servers.filter((s) => this.agents.get(s.name)?.running).map((s) => s.name);
    const quorum = Math.floor(c.voters.length / 2) + 1;
    const groups = this.components(alive, (x, y) => {
      const ax = this.index.agents.get(x)!, ay = this.index.agents.get(y)!;
      return this.agentReach(ax, ay, ay.ports.server, false) && this.agentReach(ay, ax, ax.ports.server, false);
    });
    const majority = groups.find((g) => g.length >= quorum);
    if (!majority) {
      if (c.leader) c.candidates = undefined;
      c.leader = null;
    } else if (!c.leader || !majority.includes(c.leader)) {
      // The first election is among the servers that bootstrapped; later ones among the whole majority.
      const first = !this.electedOnce.has(c.id);
      const pool = first && c.campaigners ? majority.filter((m) => c.campaigners!.includes(m)) : majority;
      const eligible = pool.length > 0 ? pool : majority;
      c.candidates = eligible.length > 1 ? [...eligible] : undefined;
      c.leader = eligible[0]!;
    }
    if (c.leader) this.electedOnce.add(c.id);
  }

  private readonly electedOnce = new Set<number>();

  /** A graceful leave: the server leaves the Raft configuration (the leader removes it). */
  private leave(a: ConsulAgent): void {
    const s = this.agentState(a.name);
    s.left = true;
    if (s.cluster === undefined) return;
    const c = this.clusters[s.cluster]!;
    if (c.leader && c.leader !== a.name) c.voters = c.voters.filter((v) => v !== a.name);
    else if (c.leader === a.name) {
      c.voters = c.voters.filter((v) => v !== a.name);
      c.leader = null;
    }
    delete s.cluster;
  }

  // ---- observation -------------------------------------------------------------------------

  observe(probes: readonly ProbeSpec[], opts: { classes?: boolean } = {}): Observation {
    return {
      driver: "sim",
      hosts: this.observeHosts(),
      containers: this.observeContainers(),
      swarm: this.observeSwarm(),
      consul: this.observeConsul(),
      services: this.observeServices(),
      probes: probes.map((p) => this.probe(p)),
      ...(opts.classes ? { classes: this.classMatrix() } : {}),
    };
  }

  /** The reachability matrix per class pair (same host / other host), each cell traced once. */
  classMatrix(): ClassMatrix {
    const endpoints = [
      ...this.plan.containers.filter((c) => c.networkMode !== "host").map((c) => ({ name: c.name, host: c.host, ns: containerNetns(c), kind: "container" as const })),
      ...this.plan.hosts.map((h) => ({ name: `host:${h.name}`, host: h.name, ns: hostNetns(h.name), kind: "host" as const })),
    ];
    const byClass = new Map<string, typeof endpoints>();
    for (const e of endpoints) {
      const k = `${e.kind}|${this.netnsClass(e.ns)}`;

      const list = byClass.get(k);
      if (list) list.push(e);
      else byClass.set(k, [e]);
    }
    const classes = [...byClass.values()].map((members, i) => {
      const hosts = [...new Set(members.map((m) => m.host))];
      const label = members[0]!.kind === "host"
        ? `${members.length} host${members.length > 1 ? "s" : ""} like ${members[0]!.host}`
        : `${members.length} container${members.length > 1 ? "s" : ""} like ${members[0]!.name} (on ${hosts.length} host${hosts.length > 1 ? "s" : ""})`;
      return { id: `C${i + 1}`, kind: members[0]!.kind, label, members: members.map((m) => m.name), list: members, byHost: groupBy(members, (m) => m.host) };
    });
    const cells: ClassMatrix["cells"][number][] = [];
    for (const a of classes) {
      for (const b of classes) {
        if (b.kind === "host" && a.kind === "host" && a === b && b.list.length < 2) continue;
        for (const same of [true, false]) {
          const pair = representative(a, b, same);
          if (!pair) continue;
          const [x, y] = pair;
          const addr = this.probe({ from: x.name, to: y.name, by: "address", size: DEFAULT_PING_PAYLOAD, proto: "icmp" });
          const big = b.kind === "container" ? this.probe({ from: x.name, to: y.name, by: "address", size: LARGE_PAYLOAD, proto: "icmp" }) : undefined;
          const byName = a.kind === "container" && b.kind === "container" ? this.probe({ from: x.name, to: y.name, by: "name", size: DEFAULT_PING_PAYLOAD, proto: "icmp" }) : undefined;
          const reason = [addr, big, byName].find((r) => r && !r.ok)?.reason;
          cells.push({ from: a.id, to: b.id, sameHost: same, example: `${x.name}→${y.name}`, address: addr.ok, large: big?.ok ?? addr.ok, ...(byName ? { name: byName.ok } : {}), ...(reason ? { reason } : {}) });
        }
      }
    }
    return { classes: classes.map(({ id, kind, label, members }) => ({ id, kind, label, members })), cells };
  }

  private observeHosts(): Record<string, HostObservation> {
    const out: Record<string, HostObservation> = {};
    for (const h of this.plan.hosts) {
      const engine = this.engineUp(h.name);
      const nets: string[] = [];
      if (engine) {
        for (const n of this.plan.networks) {
          if (n.name === "bridge") continue;
          if (n.name === "docker_gwbridge" || n.ingress) {
            if (this.swarmMembers.has(h.name)) nets.push(n.name);
            continue;
          }
          if (n.scope === "local") {
            if (this.localNets.has(`${n.name}@${h.name}`)) nets.push(n.name);
            continue;
          }
          if (!this.overlays.has(n.name) || !this.swarmMembers.has(h.name)) continue;
          // Managers list every overlay; a worker only those a running container there uses (moby/moby#25004).
          const m = this.swarmMembers.get(h.name)!;
          if (m.role === "manager" || (this.topo.containersOn.get(h.name) ?? []).some((c) => this.containerRunning(c.name) && c.attachments.some((a) => a.network === n.name))) nets.push(n.name);
        }
      }
      out[h.name] = { up: this.hostUp(h.name), engine, networks: nets.sort() };
    }
    return out;
  }

  private observeContainers(): Record<string, ContainerObservation> {
    const out: Record<string, ContainerObservation> = {};
    for (const c of this.plan.containers) {
      if (c.agent) continue;
      const s = this.containers.get(c.name);
      const running = this.containerRunning(c.name);
      const addresses: Record<string, string> = {};
      if (running) {
        for (const a of c.attachments) {
          const ip = this.allocation.addresses.get(c.name, a.network);
          if (ip !== undefined) addresses[a.network] = formatIp(ip);
        }
      }
      out[c.name] = {
        host: c.host,
        state: !this.engineUp(c.host) ? "unknown" : running ? "running" : s && s.state !== "absent" ? "exited" : "absent",
        addresses,
        ...(s?.error ? { error: s.error } : {}),
      };
    }
    return out;
  }

  private observeSwarm(): SwarmObservation | null {
    if (!this.plan.swarm) return null;
    const leader = this.swarmLeader;
    const active = [...this.swarmMembers.keys()].filter((h) => this.engineUp(h)).sort();
    if (!leader) return { nodes: [], leader: null, active };
    void this.swarmLost;
    const nodes = [...this.swarmMembers].sort((a, b) => a[1].order - b[1].order).map(([host, m]) => {
      const toLeader = this.engineUp(host) && (host === leader || this.hostReach(host, leader, this.managerAddr(leader), "tcp", SWARM_MANAGER_PORT));
      // A node's heartbeats go to whichever manager it reaches; a follower proxies them to the leader
      // (swarmkit's agent keeps a weighted list of managers, the raft proxy forwards dispatcher calls).
      const ready = toLeader || (this.engineUp(host) && this.managers.some((x) => x !== host && x !== leader && this.engineUp(x)
        && this.hostReach(x, leader, this.managerAddr(leader), "tcp", SWARM_MANAGER_PORT) && this.hostReach(host, x, this.managerAddr(x), "tcp", SWARM_MANAGER_PORT)));
      const manager = m.role === "manager" ? (host === leader ? "leader" as const : toLeader ? "reachable" as const : "unreachable" as const) : undefined;
      return { host, role: m.role, status: ready ? "ready" as const : "down" as const, ...(manager ? { manager } : {}) };
    });
    return { nodes, leader, active, ...(this.swarmCandidates ? { leaderCandidates: [...this.swarmCandidates].sort() } : {}) };
  }

  /** The server whose Raft view an agent reports: itself, or (for clients) a reachable server of its pool. */
  private serverFor(a: ConsulAgent): ConsulAgent | undefined {
    if (a.server) return this.agents.get(a.name)?.cluster !== undefined ? a : undefined;
    for (const s of this.plan.consul?.agents ?? []) {
      if (!s.server || this.findPool(s.name) !== this.findPool(a.name)) continue;
      if (this.agents.get(s.name)?.cluster === undefined) continue;
      if (this.agentReach(a, s, s.ports.server, false)) return s;
    }
    return undefined;
  }

  private observeConsul(): Record<string, ConsulAgentObservation> | null {
    const consul = this.plan.consul;
    if (!consul) return null;
    const out: Record<string, ConsulAgentObservation> = {};
    const memberMemo = new Map<string, boolean>();
    // Agents that started and did not leave, per pool and class (for large clusters).
    const classesOfPool = new Map<string, { cls: number; port: number; count: number; memberSet: Set<string>; agents: ConsulAgent[]; byHost: Map<string, number> }[]>();
    const poolClasses = (pool: string) => {
      let groups = classesOfPool.get(pool);
      if (groups) return groups;
      const byKey = new Map<string, { cls: number; port: number; count: number; memberSet: Set<string>; agents: ConsulAgent[]; byHost: Map<string, number> }>();
      for (const b of consul.agents) {
        const sb = this.agents.get(b.name);
        if (!sb?.started || sb.left || this.findPool(b.name) !== pool) continue;
        const cls = this.netnsClass(this.agentNetns(b));
        const k = `${cls}|${b.ports.serfLan}`;
        let g = byKey.get(k);
        if (!g) byKey.set(k, (g = { cls, port: b.ports.serfLan, count: 0, memberSet: new Set(), agents: [], byHost: new Map() }));
        g.count++;
        g.memberSet.add(b.name);
        g.agents.push(b);
        g.byHost.set(b.host, (g.byHost.get(b.host) ?? 0) + 1);
      }
      classesOfPool.set(pool, (groups = [...byKey.values()]));
      return groups;
    };
    const leftOf = new Map<string, ConsulAgent[]>();
    const leftIn = (pool: string) => {
      let l = leftOf.get(pool);
      if (!l) leftOf.set(pool, (l = consul.agents.filter((b) => this.agents.get(b.name)?.left && this.findPool(b.name) === pool)));
      return l;
    };
    for (const a of consul.agents) {
      const s = this.agents.get(a.name);
      if (!s?.running) {
        out[a.name] = { running: false, leader: "", peers: [], members: {}, memberCounts: { alive: 0, failed: 0, left: 0 } };
        continue;
      }
      const members: Record<string, "alive" | "failed" | "left"> = {};
      const counts = { alive: 0, failed: 0, left: 0 };
      const full = consul.agents.length <= MEMBER_LIST_LIMIT;
      const pool = this.findPool(a.name);
      const aClass = this.netnsClass(this.agentNetns(a));
      if (!full) {
        // Large clusters: count by class of the other agents instead of pair by pair.
        for (const g of poolClasses(pool)) {
          const onMyHost = g.byHost.get(a.host) ?? 0;
          const me = g.memberSet.has(a.name) ? 1 : 0;
          for (const [same, n] of [[true, onMyHost - me], [false, g.count - onMyHost]] as const) {
            if (n <= 0) continue;
            const key = `${aClass}|${g.cls}|${same}|${g.port}`;
            let alive = memberMemo.get(key);
            if (alive === undefined) {
              const b = g.agents.find((x) => x.name !== a.name && (x.host === a.host) === same)!;
              memberMemo.set(key, (alive = this.agentReach(a, b, b.ports.serfLan, true)));
            }
            counts[alive ? "alive" : "failed"] += n;
            if (!alive) for (const b of g.agents) if (b.name !== a.name && (b.host === a.host) === same) members[b.name] = "failed";
          }
          counts.alive += me;
        }
        const left = leftIn(pool);
        counts.left += left.length;
        for (const b of left) members[b.name] = "left";
      }
      for (const b of full ? consul.agents : []) {
        if (this.findPool(b.name) !== pool) continue;
        const sb = this.agents.get(b.name);
        if (!sb?.started) continue;
        let status: "alive" | "failed" | "left";
        if (b === a) status = "alive";
        else if (sb.left) status = "left";
        else {
          // The same answer for every pair of the same classes (and host relation): ask once.
          const key = `${aClass}|${this.netnsClass(this.agentNetns(b))}|${a.host === b.host}|${b.ports.serfLan}`;
          let alive = memberMemo.get(key);
          if (alive === undefined) memberMemo.set(key, (alive = this.agentReach(a, b, b.ports.serfLan, true)));
          status = alive ? "alive" : "failed";
        }
        counts[status]++;
        if (full || status !== "alive") members[b.name] = status;
      }
      const server = this.serverFor(a);
      const cluster = server ? this.clusters[this.agents.get(server.name)!.cluster!] : undefined;
      const addr = (v: string) => (v.startsWith("ghost:") ? `${v.slice(6)}:${CONSUL_DEFAULT_PORTS.server}` : `${formatIp(this.agentAddr(this.index.agents.get(v)!))}:${this.index.agents.get(v)!.ports.server}`);
      let leader = "";
      if (cluster?.leader && server) {
        const l = this.index.agents.get(cluster.leader)!;
        if (l.name === server.name || this.agentReach(server, l, l.ports.server, false)) leader = addr(l.name);
      }
      const frozen = !cluster && s.frozenPeers ? s.frozenPeers : undefined;
      const candidates = cluster?.candidates && leader ? cluster.candidates.map(addr).sort() : undefined;
      out[a.name] = { running: true, leader, peers: cluster ? cluster.voters.map(addr).sort() : frozen ? frozen.map(addr).sort() : [], members, memberCounts: counts, ...(candidates ? { leaderCandidates: candidates } : {}) };
    }
    return out;
  }

  private observeServices(): Record<string, ServiceObservation> {
    const out: Record<string, ServiceObservation> = {};
    for (const s of this.plan.services) {
      const reg = this.services.get(s.id);
      const agent = this.index.agents.get(s.agent)!;
      if (!reg?.registered) {
        out[s.id] = { agent: s.agent, registered: false, health: "unknown", reason: "not registered" };
        continue;
      }
      if (!this.agents.get(s.agent)?.running) {
        out[s.id] = { agent: s.agent, registered: false, health: "unknown", reason: `agent ${s.agent} is not running` };
        continue;
      }
      if (!s.check) {
        out[s.id] = { agent: s.agent, registered: true, health: "passing" };
        continue;
      }
      const ip = this.addressOf(s.check.target);
      if (ip === undefined) {
        out[s.id] = { agent: s.agent, registered: true, health: "critical", reason: "the check's address is unknown" };
        continue;
      }
      const res = trace(this.topo, this, this.agentNetns(agent), ip, { proto: "tcp", port: s.check.port, ipSize: 60, df: true });
      // The port answers; whether the path does depends on what serves it (a stock image: its default page only).
      const missing = res.ok && s.check.type === "http" ? stockPageMissing(this.topo, this.index, res.answeredBy, s.check.path) : undefined;
      if (missing) {
        out[s.id] = { agent: s.agent, registered: true, health: "critical", reason: `HTTP GET http://${formatIp(ip)}:${s.check.port}${s.check.path}: 404 (Not Found): ${missing.container.image} as it comes serves ${missing.paths.join(" and ")} only` };
        continue;
      }
      out[s.id] = res.ok
        ? { agent: s.agent, registered: true, health: "passing" }
        : { agent: s.agent, registered: true, health: "critical", reason: `${s.check.type === "http" ? "HTTP GET" : "TCP"} ${formatIp(ip)}:${s.check.port}: ${res.reason}` };
    }
    return out;
  }

  addressOf(ref: AddressRef): Ip | undefined {
    switch (ref.kind) {
      case "ip": return ref.ip;
      case "host": return this.index.hosts.get(ref.host)?.nics[0]?.ip;
      case "container": {
        const c = this.index.containers.get(ref.container);
        if (!c) return undefined;
        if (c.networkMode === "host") return this.index.hosts.get(c.host)?.nics[0]?.ip;
        const net = ref.network ?? c.attachments[0]?.network;
        return net !== undefined ? this.allocation.addresses.get(c.name, net) : undefined;
      }
    }
  }

  // ---- probes ------------------------------------------------------------------------------

  probe(p: ProbeSpec): ProbeResult {
    const res = this.traceProbe(p);
    return { ...p, ok: res.result.ok, ...(res.address ? { address: res.address } : {}), ...(res.result.reason ? { reason: res.result.reason } : {}), hops: res.result.hops };
  }

  traceProbe(p: ProbeSpec): { result: TraceResult; address?: string } {
    const fromNs = this.endpointNetns(p.from);
    const failure = (reason: string): { result: TraceResult } => ({ result: { ok: false, hops: [{ at: p.from, note: `✗ ${reason}` }], code: "name", reason } });
    if (!fromNs) return failure(`no endpoint ${p.from}`);
    let dst: Ip | undefined;
    if (p.by === "name") {
      const from = p.from.startsWith("host:") ? undefined : this.index.containers.get(p.from);
      if (from && !this.containerRunning(from.name)) return failure(`${from.name} is not running`);
      const r = resolveName(this.topo, from, p.to);
      if (!r.ok) return failure(`ping: bad address '${p.to}' (${r.reason})`);
      const target = this.index.containers.get(p.to);
      // Names of containers on other hosts arrive by the overlay's gossip; a stopped one is removed.
      if (!target || !this.containerRunning(target.name)) return failure(`ping: bad address '${p.to}' (${p.to} is not running)`);
      if (from && target.host !== from.host && this.index.networks.get(r.network)?.scope === "swarm") {
        for (const proto of ["tcp", "udp"] as const) {
          if (!this.hostReach(target.host, from.host, this.topo.tunnelAddr.get(from.host) ?? 0, proto, SWARM_GOSSIP_PORT)) {
            return failure(`ping: bad address '${p.to}' (gossip ${proto}/${SWARM_GOSSIP_PORT} from ${target.host} to ${from.host} is blocked: the name never arrives)`);
          }
        }
      }
      dst = r.ip;
    } else {
      dst = this.resolveTarget(p);
      if (dst === undefined) return failure(`${p.to} has no address${p.network ? ` on ${p.network}` : ""}`);
    }
    const result = trace(this.topo, this, fromNs, dst, { proto: p.proto, ...(p.port !== undefined ? { port: p.port } : {}), ipSize: (p.proto === "icmp" ? p.size : 0) + (p.proto === "icmp" ? 28 : 60), df: false });
    // The same address can belong to someone else on the sender's side (each host's docker0 hands out
    // 172.17.0.2; macvlan IPAM is per host): an answer from them is not an answer from the target.
    const target = p.to.startsWith("host:") ? (p.proto === "icmp" && this.index.hosts.has(p.to.slice(5)) ? hostNetns(p.to.slice(5)) : undefined) : this.index.containers.has(p.to) ? containerNetns(this.index.containers.get(p.to)!) : undefined;
    if (result.ok && target !== undefined && result.answeredBy !== undefined && result.answeredBy !== target) {
      const who = this.topo.netns.get(result.answeredBy);
      const whoLabel = who ? (who.kind === "host" ? `host ${who.host}` : `${who.container} on ${who.host}`) : result.answeredBy;
      const reason = `${formatIp(dst)} is also the address of ${whoLabel}: ${p.from}'s packet ends there and never reaches ${p.to}`;
      return { result: { ok: false, hops: [...result.hops, { at: p.from, note: `✗ ${reason}` }], code: "duplicate", reason }, address: formatIp(dst) };
    }
    return { result, address: formatIp(dst) };
  }

  private endpointNetns(e: string): NetnsId | undefined {
    if (e.startsWith("host:")) return this.index.hosts.has(e.slice(5)) ? hostNetns(e.slice(5)) : undefined;
    const c = this.index.containers.get(e);
    return c ? containerNetns(c) : undefined;
  }

  private resolveTarget(p: ProbeSpec): Ip | undefined {
    const ip = parseIp(p.to);
    if (ip !== undefined) return ip;
    if (p.to.startsWith("host:")) {
      const h = this.index.hosts.get(p.to.slice(5));
      if (!h) return undefined;
      // The host's address on a segment the sender shares, else its first.
      const from = this.endpointNetns(p.from);
      const fromNs = from ? this.topo.netns.get(from) : undefined;
      const shared = h.nics.find((n) => fromNs?.ifaces.some((i) => i.domain === this.topo.nicDomain.get(`${h.name}/${n.name}`)));
      return (shared ?? h.nics[0])?.ip;
    }
    const c = this.index.containers.get(p.to);
    if (!c) return undefined;
    if (c.networkMode === "host") return this.index.hosts.get(c.host)?.nics[0]?.ip;
    if (p.network) return this.allocation.addresses.get(c.name, p.network);
    const from = p.from.startsWith("host:") ? undefined : this.index.containers.get(p.from);
    for (const a of c.attachments) {
      if (from?.attachments.some((b) => b.network === a.network)) {
        const x = this.allocation.addresses.get(c.name, a.network);
        if (x !== undefined) return x;
      }
    }
    for (const a of c.attachments) {
      const x = this.allocation.addresses.get(c.name, a.network);
      if (x !== undefined) return x;
    }
    return undefined;
  }
}


function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}

type Member = { name: string; host: string };

/** Two distinct members, one of each class, on the same host (or on different hosts). */
function representative(a: { list: Member[]; byHost: Map<string, Member[]> }, b: { list: Member[]; byHost: Map<string, Member[]> }, same: boolean): [Member, Member] | undefined {
  if (same) {
    for (const [host, xs] of a.byHost) {
      const ys = b.byHost.get(host);
      if (!ys) continue;
      for (const x of xs) {
        const y = ys.find((m) => m.name !== x.name);
        if (y) return [x, y];
      }
    }
    return undefined;
  }
  for (const x of a.list.slice(0, 2)) {
    const y = b.list.find((m) => m.host !== x.host);
    if (y) return [x, y];
  }
  return undefined;
}

