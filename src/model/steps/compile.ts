// Plan → ordered steps. The order respects what Docker, Swarm and Consul need: modules before networks,
// docker_gwbridge pinned before the swarm creates it, init before joins, overlays once a manager exists,
// networks before the containers on them, agents before registrations, faults last.
import { formatIp } from "../ip.js";
import { formatFault } from "../faults.js";
import { agentHttpAddress, indexPlan, shimDriver, type ConsulAgent, type Container, type KernelFeature, type Network, type Plan } from "../plan.js";
import type { ConsulAgentStep, ContainerRunStep, NetworkCreateStep, Step } from "./step.js";

const MODULES: Partial<Record<KernelFeature, string>> = { macvlan: "macvlan", ipvlan: "ipvlan", vxlan: "vxlan", "8021q": "8021q" };

export function compileSteps(plan: Plan, opts: { faults?: boolean } = {}): Step[] {
  const index = indexPlan(plan);
  const steps: Step[] = [];
  const ids = new Set<string>();
  const push = (s: Step) => {
    if (ids.has(s.id)) return;
    ids.add(s.id);
    steps.push(s);
  };
  const swarm = plan.swarm;
  const swarmHosts = new Set(swarm?.nodes.map((n) => n.host) ?? []);

  // Kernel modules the networks need, per host.
  const modulesOn = new Map<string, Map<string, string>>();
  const need = (host: string, f: KernelFeature, why: string) => {
    const m = MODULES[f];
    if (!m) return;
    let set = modulesOn.get(host);
    if (!set) modulesOn.set(host, (set = new Map()));
    if (!set.has(m)) set.set(m, why);
  };
  for (const n of plan.networks) {
    if (n.driver === "macvlan" || n.driver === "ipvlan") {
      for (const i of n.instances) {
        if (!i.host) continue;
        need(i.host, n.driver, `${n.driver} network "${n.name}"`);
        if (i.parent?.includes(".")) need(i.host, "8021q", `VLAN parent ${i.parent}`);
      }
    }
  }
  for (const h of plan.hosts) for (const sh of h.shims) need(h.name, shimDriver(plan, h.name, sh).type, `shim ${sh.name}`);
  for (const h of swarmHosts) need(h, "vxlan", "swarm overlay traffic (VXLAN)");
  for (const h of plan.hosts) {
    for (const [module, why] of modulesOn.get(h.name) ?? []) {
      push({ id: `kernel_module:${module}@${h.name}`, kind: "kernel_module", host: h.name, module, reason: `${why} needs the ${module} module`, after: [] });
    }
  }
  const modulesFor = (host: string) => [...(modulesOn.get(host)?.keys() ?? [])].map((m) => `kernel_module:${m}@${host}`);

  // Swarm: pinned docker_gwbridge, init, ingress, joins.
  if (swarm) {
    const gw = plan.networks.find((n) => n.name === "docker_gwbridge");
    for (const node of swarm.nodes) {
      const h = index.hosts.get(node.host)!;
      if (h.docker.gwbridge.declared) {
        const inst = gw?.instances.find((i) => i.host === h.name);
        push({
          id: `gwbridge_create@${h.name}`, kind: "gwbridge_create", host: h.name, after: [],
          reason: "docker_gwbridge must exist with the planned subnet before the host joins the swarm (moby/moby#27890)",
          subnet: h.docker.gwbridge.subnet.text, gateway: formatIp(inst?.gateway ?? h.docker.gwbridge.gateway), ...(h.docker.gwbridge.mtu !== 1500 ? { mtu: h.docker.gwbridge.mtu } : {}),
        });
      }
    }
    const init = swarm.nodes.find((n) => n.host === swarm.init)!;
    const initHost = index.hosts.get(init.host)!;
    const initAddr = init.advertiseAddr ?? initHost.nics[0]!.ip;
    const pre = (host: string) => [...modulesFor(host), ...(index.hosts.get(host)!.docker.gwbridge.declared ? [`gwbridge_create@${host}`] : [])];
    push({
      id: `swarm_init@${init.host}`, kind: "swarm_init", host: init.host, after: pre(init.host),
      reason: "the swarm's first manager; overlays need a swarm",
      advertiseAddr: formatIp(initAddr), ...(init.listenAddr !== undefined ? { listenAddr: formatIp(init.listenAddr) } : {}),
      dataPathPort: swarm.dataPathPort, defaultAddrPool: swarm.defaultAddrPool.map((c) => c.text), defaultAddrPoolMaskLength: swarm.defaultAddrPoolMaskLength,
    });
    const ingress = plan.networks.find((n) => n.ingress);
    const ingressInst = ingress?.instances[0];
    if (ingress && ingressInst && (ingressInst.subnetDeclared || ingress.mtu !== undefined)) {
      push({
        id: `ingress_replace@${init.host}`, kind: "ingress_replace", host: init.host, after: [`swarm_init@${init.host}`],
        reason: "the planned ingress subnet/MTU differs from Docker's default one: remove and recreate it before anything uses it",
        subnet: ingressInst.subnet.text, gateway: formatIp(ingressInst.gateway), ...(ingress.mtu !== undefined ? { mtu: ingress.mtu } : {}),
      });
    }
    let lastManager = `swarm_init@${init.host}`;
    const managerHostByAddr = new Map<number, string>([[initAddr, init.host]]);
    for (const node of swarm.nodes) {
      if (node.host === init.host) continue;
      const joinAddr = node.join ?? initAddr;
      const joinHost = managerHostByAddr.get(joinAddr) ?? plan.hosts.find((h) => h.nics.some((n) => n.ip === joinAddr))?.name ?? init.host;
      const id = `swarm_join@${node.host}`;
      push({
        id, kind: "swarm_join", host: node.host, after: [...pre(node.host), lastManager],
        reason: `joins the swarm as a ${node.role} through ${formatIp(joinAddr)}:2377`,
        role: node.role, join: `${formatIp(joinAddr)}:2377`, joinHost,
        ...(node.advertiseAddr !== undefined ? { advertiseAddr: formatIp(node.advertiseAddr) } : {}),
        ...(node.listenAddr !== undefined ? { listenAddr: formatIp(node.listenAddr) } : {}),
      });
      if (node.role === "manager") {
        lastManager = id;
        const h = index.hosts.get(node.host)!;
        managerHostByAddr.set(node.advertiseAddr ?? h.nics[0]!.ip, node.host);
      }
    }
  }
  const swarmReady = (host: string) => (swarm ? [swarm.init === host ? `swarm_init@${host}` : `swarm_join@${host}`] : []);

  // Networks.
  for (const n of plan.networks) {
    if (n.implicit) continue;
    if (n.scope === "swarm") {
      const host = n.createOn ?? swarm?.init ?? plan.hosts[0]!.name;
      push(networkStep(n, host, undefined, [...swarmReady(host), ...(steps.some((s) => s.kind === "ingress_replace") ? [`ingress_replace@${swarm!.init}`] : [])], `overlay for containers across hosts; created once on manager ${host}, the swarm spreads it`));
      continue;
    }
    for (const inst of n.instances) {
      if (!inst.host) continue;
      const deps = n.driver === "macvlan" || n.driver === "ipvlan" ? modulesFor(inst.host).filter((m) => !m.startsWith("kernel_module:vxlan")) : [];
      push(networkStep(n, inst.host, inst, deps, `${n.driver} network on ${inst.host} (local scope: every host creates its own)`));
    }
  }

  // Shims.
  for (const h of plan.hosts) {
    for (const s of h.shims) {
      const d = shimDriver(plan, h.name, s);
      push({
        id: `shim_create:${s.name}@${h.name}`, kind: "shim_create", host: h.name,
        // A VLAN parent (eth0.10) exists once Docker created it for a network on it: the shim comes after.
        after: [...modulesFor(h.name).filter((m) => m.startsWith(`kernel_module:${d.type}`) || (s.parent.includes(".") && m.startsWith("kernel_module:8021q"))),
          ...(s.parent.includes(".") ? plan.networks.filter((n) => n.instances.some((i) => i.host === h.name && i.parent === s.parent)).map((n) => `network_create:${n.name}@${h.name}`) : [])],
        reason: `lets ${h.name} reach its own ${d.type} containers through ${s.parent} (moby/libnetwork#1915)`,
        name: s.name, parent: s.parent, type: d.type, mode: d.mode, address: `${formatIp(s.ip)}/${s.cidr.prefix}`, routes: s.routes.map((r) => r.text),
      });
    }
  }

  // Consul agents, then workload containers.
  const netDeps = (c: Container) =>
    c.attachments.flatMap((a) => {
      const n = index.networks.get(a.network);
      if (!n || n.implicit) return n?.driver === "overlay" || a.network === "docker_gwbridge" ? swarmReady(c.host) : [];
      return [n.scope === "swarm" ? `network_create:${n.name}` : `network_create:${n.name}@${c.host}`];
    });
  // Agents that share a host get config and data directories of their own.
  const agentsOn = new Map<string, number>();
  for (const a of plan.consul?.agents ?? []) agentsOn.set(a.host, (agentsOn.get(a.host) ?? 0) + 1);
  for (const a of plan.consul?.agents ?? []) {
    const c = index.containers.get(a.name)!;
    push(agentStep(a, plan, [...netDeps(c)], (agentsOn.get(a.host) ?? 0) > 1));
  }
  for (const c of plan.containers) {
    if (c.agent) continue;
    const pools = c.attachments.map((a) => (index.networks.get(a.network)?.scope === "swarm" ? a.network : `${a.network}@${c.host}`));
    // Overlay containers also take a docker_gwbridge address on their host.
    if (c.attachments.some((a) => index.networks.get(a.network)?.driver === "overlay")) pools.push(`docker_gwbridge@${c.host}`);
    push(containerStep(c, [...netDeps(c), ...(c.attachments.some((a) => index.networks.get(a.network)?.driver === "overlay") ? swarmReady(c.host) : [])], pools));
  }

  // Service registrations.
  for (const s of plan.services) {
    const agent = index.agents.get(s.agent)!;
    push({
      id: `service_register:${s.id}`, kind: "service_register", host: agent.host,
      after: [`consul_agent:${agent.name}`, ...(s.provider ? [`container_run:${s.provider}`] : [])],
      reason: `registers ${s.name} (${s.id}) with agent ${agent.name}${s.check ? `, with a ${s.check.type} check` : ""}`,
      service: s.id, agent: agent.name, agentHttp: agentHttpAddress(agent), name: s.name, address: s.address, port: s.port, tags: s.tags,
      ...(s.check ? { check: { type: s.check.type, target: s.check.target, port: s.check.port, path: s.check.path, interval: s.check.interval, timeout: s.check.timeout } } : {}),
    });
  }

  if (opts.faults !== false) appendFaults(steps, plan.faults);
  return orderSteps(steps);
}

/** Fault steps, after everything else, in the order given. */
export function appendFaults(steps: Step[], faults: Plan["faults"]): void {
  let prev: string | undefined;
  faults.forEach((f, i) => {
    const id = `fault:${i + 1}:${formatFault(f)}`;
    const host = "host" in f ? f.host : "from" in f ? f.to : "agent" in f ? f.agent : "container" in f ? f.container : "segment" in f ? f.segment : "*";
    steps.push({ id, kind: "fault", host, fault: f, reason: "fault from the plan or the command line", after: prev ? [prev] : [] });
    prev = id;
  });
}

function networkStep(n: Network, host: string, inst: Network["instances"][number] | undefined, after: string[], reason: string): NetworkCreateStep {
  const i = inst ?? n.instances[0]!;
  return {
    id: n.scope === "swarm" ? `network_create:${n.name}` : `network_create:${n.name}@${host}`,
    kind: "network_create", host, after, reason,
    network: n.name, driver: n.driver, subnet: i.subnet.text, gateway: formatIp(i.gateway),
    // As written, even outside the subnet: Docker refuses it then ("no matching subnet for range"), as the simulator does.
    ...(i.ipRange ?? i.invalidRange ? { ipRange: (i.ipRange ?? i.invalidRange)!.text } : {}),
    auxAddresses: i.auxAddresses.map((a) => ({ name: a.name, ip: formatIp(a.ip) })),
    ...(i.parent !== undefined ? { parent: i.parent } : {}),
    ...(n.mode !== undefined ? { mode: n.mode } : {}),
    internal: n.internal, attachable: n.attachable, encrypted: n.encrypted,
    ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
  };
}

/** The agent's JSON file (the plan's config-file settings) and its command-line flags, as the seed writes them. */
export function agentStep(a: ConsulAgent, plan: Plan, after: string[], sharesHost = false): ConsulAgentStep {
  const f = a.fileConfig;
  const config: Record<string, unknown> = { datacenter: f.datacenter ?? plan.consul?.datacenter ?? a.datacenter, data_dir: a.dataDirDeclared ? a.dataDir : "/consul/data", log_level: a.logLevel, node_name: a.name, server: f.server ?? a.server };
  if (f.bootstrapExpect !== undefined) config.bootstrap_expect = f.bootstrapExpect;
  if (f.bootstrap !== undefined) config.bootstrap = f.bootstrap;
  if (f.bindAddr !== undefined) config.bind_addr = f.bindAddr;
  if (f.clientAddr !== undefined) config.client_addr = f.clientAddr;
  if (f.advertiseAddr !== undefined) config.advertise_addr = f.advertiseAddr;
  if (f.ui !== undefined) config.ui = f.ui;
  if (f.retryJoin !== undefined) config.retry_join = f.retryJoin;
  if (f.startJoin !== undefined) config.start_join = f.startJoin;
  config.leave_on_terminate = a.leaveOnTerminate;
  config.ports = { dns: a.ports.dns, http: a.ports.http, ...(a.ports.https !== undefined ? { https: a.ports.https } : {}), ...(a.ports.grpc !== undefined ? { grpc: a.ports.grpc } : {}), serf_lan: a.ports.serfLan, ...(a.server ? { serf_wan: a.ports.serfWan } : {}), server: a.ports.server };
  const fl = a.flags;
  const flags: string[] = [];
  if (fl.nodeName !== undefined) flags.push(`-node=${fl.nodeName}`);
  if (fl.bindAddr !== undefined) flags.push(`-bind=${fl.bindAddr}`);
  if (fl.advertiseAddr !== undefined) flags.push(`-advertise=${fl.advertiseAddr}`);
  if (fl.clientAddr !== undefined) flags.push(`-client=${fl.clientAddr}`);
  if (fl.datacenter !== undefined) flags.push(`-datacenter=${fl.datacenter}`);
  if (fl.server) flags.push("-server");
  if (fl.bootstrapExpect !== undefined) flags.push(`-bootstrap-expect=${fl.bootstrapExpect}`);
  if (fl.bootstrap) flags.push("-bootstrap");
  for (const j of fl.retryJoin ?? []) flags.push(`-retry-join=${j}`);
  for (const j of fl.startJoin ?? []) flags.push(`-join=${j}`);
  if (fl.ui) flags.push("-ui");
  const net = a.network;
  return {
    id: `consul_agent:${a.name}`, kind: "consul_agent", host: a.host, after,
    reason: `Consul ${a.server ? "server" : "client"} agent ${a.name}${a.bootstrapExpect ? ` (bootstrap_expect ${a.bootstrapExpect})` : ""}`,
    agent: a.name, image: a.image, configFile: a.configFile, config, flags, dataDir: a.dataDir,
    ...agentHostDirs(a, sharesHost),
    network: net === "host" ? "host" : { network: net.network, ...(net.ip !== undefined ? { ip: formatIp(net.ip) } : {}), publish: net.publish.map((p) => `${p.hostIp !== undefined ? `${formatIp(p.hostIp)}:` : ""}${p.hostPort}:${p.containerPort}/${p.proto}`) },
  };
}

function agentHostDirs(a: ConsulAgent, shared: boolean): { hostConfigDir: string; hostDataDir: string } {
  return shared
    ? { hostConfigDir: `/etc/consul/${a.name}`, hostDataDir: `${a.dataDir.replace(/\/+$/, "")}/${a.name}` }
    : { hostConfigDir: "/etc/consul", hostDataDir: a.dataDir };
}

function containerStep(c: Container, after: string[], pools: string[]): ContainerRunStep {
  return {
    id: `container_run:${c.name}`, kind: "container_run", host: c.host, after: [...new Set(after)],
    reason: `runs ${c.name} (${c.image})${c.attachments.length > 0 ? ` on ${c.attachments.map((a) => a.network).join(", ")}` : ""}`,
    container: c.name, image: c.image, networkMode: c.networkMode,
    networks: c.attachments.map((a) => ({ network: a.network, ...(a.ip !== undefined ? { ip: formatIp(a.ip) } : {}), aliases: a.aliases })),
    publish: c.publish.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, proto: p.proto, ...(p.hostIp !== undefined ? { hostIp: formatIp(p.hostIp) } : {}) })),
    labels: c.labels, listen: c.listen.map((l) => ({ port: l.port, proto: l.proto })), pools,
    ...(c.command ? { command: c.command } : {}),
  };
}

/**
 * Stable topological order: a step comes after everything in its `after`, and otherwise keeps the
 * order it was compiled in. Unknown dependencies (a step that was not compiled) are ignored.
 */
export function orderSteps(steps: Step[]): Step[] {
  const byId = new Map(steps.map((s) => [s.id, s] as const));
  const done = new Set<string>();
  const out: Step[] = [];
  const visiting = new Set<string>();
  const visit = (s: Step) => {
    if (done.has(s.id) || visiting.has(s.id)) return;
    visiting.add(s.id);
    for (const d of s.after) {
      const dep = byId.get(d);
      if (dep) visit(dep);
    }
    visiting.delete(s.id);
    done.add(s.id);
    out.push(s);
  };
  for (const s of steps) visit(s);
  return out;
}
