// The plan, as crosshost understands it after reading the file: every default filled in, every name
// checked, every address parsed to a number. Paths point back into the file for diagnostics.
import type { Cidr, Ip } from "./ip.js";
import type { PlanPath } from "./diagnostics.js";

export type Proto = "tcp" | "udp";
export type KernelFeature = "macvlan" | "ipvlan" | "vxlan" | "8021q" | "esp" | "bridge";
export const KERNEL_FEATURES: readonly KernelFeature[] = ["macvlan", "ipvlan", "vxlan", "8021q", "esp", "bridge"];

export interface Nic {
  readonly name: string;
  readonly ip: Ip;
  readonly cidr: Cidr;
  readonly mtu: number;
  readonly gateway?: Ip;
  readonly path: PlanPath;
}

export interface Route {
  readonly to: Cidr;
  readonly via?: Ip;
  readonly dev?: string;
  readonly path: PlanPath;
}

export interface FirewallRule {
  readonly proto: Proto | "esp" | "any";
  /** Inclusive port range; undefined for esp/any. */
  readonly ports?: readonly [number, number];
  /** Sources: host names or CIDRs; undefined means any source. */
  readonly from?: readonly (string | Cidr)[];
  readonly path: PlanPath;
}

export interface Firewall {
  /** Policy for inbound traffic not matched by a rule. */
  readonly inbound: "allow" | "deny";
  /** ICMP echo: allowed unless said otherwise, as ufw and firewalld do by default. */
  readonly icmp: "allow" | "deny";
  readonly allow: readonly FirewallRule[];
  readonly path: PlanPath;
}

export type PlatformKind = "bare-metal" | "vsphere" | "hyperv" | "kvm" | "virtualbox" | "openstack" | "aws" | "gcp" | "azure" | "other";
export const PUBLIC_CLOUDS: readonly PlatformKind[] = ["aws", "gcp", "azure"];

export interface Platform {
  readonly kind: PlatformKind;
  readonly promiscuous?: "accept" | "reject";
  readonly forgedTransmits?: "accept" | "reject";
  readonly macSpoofing?: boolean;
  /** vSphere: a standard vSwitch accepts forged transmits by default, a distributed one rejects them. */
  readonly vswitch?: "standard" | "distributed";
  /**
   * Public clouds: whether the provider drops packets whose address it did not assign to the NIC (AWS
   * source/destination check, GCP without can_ip_forward, Azure without IP forwarding). Default true.
   */
  readonly sourceCheck?: boolean;
  readonly path: PlanPath;
}

export interface Shim {
  readonly name: string;
  readonly parent: string;
  /** As written; when absent, shimDriver picks the driver of the networks on the same parent. */
  readonly type?: "macvlan" | "ipvlan";
  readonly ip: Ip;
  readonly cidr: Cidr;
  readonly routes: readonly Cidr[];
  readonly path: PlanPath;
}

export interface DockerEngine {
  readonly version: string;
  /** The default bridge (docker0). */
  readonly bridge: { readonly subnet: Cidr; readonly gateway: Ip; readonly mtu: number; readonly declared: boolean };
  /** docker_gwbridge, created at swarm init/join or first overlay attachment. */
  readonly gwbridge: { readonly subnet: Cidr; readonly gateway: Ip; readonly mtu: number; readonly declared: boolean };
  readonly path: PlanPath;
}

export interface SshTarget {
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly keyFile?: string;
  readonly agent: boolean;
  readonly passphraseEnv?: string;
  readonly passwordEnv?: string;
  readonly sudo: boolean;
  readonly jump?: string;
  readonly path: PlanPath;
}

export interface Host {
  readonly name: string;
  readonly nics: readonly Nic[];
  readonly routes: readonly Route[];
  readonly kernel: Readonly<Record<KernelFeature, boolean>>;
  readonly docker: DockerEngine;
  readonly firewall?: Firewall;
  readonly platform: Platform;
  readonly shims: readonly Shim[];
  /** UDP ports the underlay already uses for VXLAN (NSX, another fabric). */
  readonly underlayVxlanPorts: readonly number[];
  /** Ports already bound on the host by something outside the plan (from preflight or declared). */
  readonly portsInUse: readonly { port: number; proto: Proto }[];
  readonly ssh?: SshTarget;
  readonly path: PlanPath;
}

export interface Segment {
  readonly name: string;
  readonly mtu: number;
  readonly members: readonly { host: string; nic: string }[];
  /** Addresses on the segment that belong to routers or other devices outside the plan. */
  readonly routers: readonly Ip[];
  readonly implicit: boolean;
  readonly path: PlanPath;
}

export interface External {
  readonly name: string;
  readonly cidr: Cidr;
  readonly path: PlanPath;
}

export type NetworkDriver = "bridge" | "macvlan" | "ipvlan" | "overlay";

/** A network as it exists on one host (local scope) or swarm-wide (overlay, host = undefined). */
export interface NetworkInstance {
  readonly network: string;
  readonly host?: string;
  readonly subnet: Cidr;
  readonly gateway: Ip;
  /** Whether subnet/gateway were written in the plan or predicted by crosshost. */
  readonly subnetDeclared: boolean;
  readonly gatewayDeclared: boolean;
  readonly ipRange?: Cidr;
  /** An ip_range outside the subnet (ip_range_outside_subnet): Docker refuses to create this instance. */
  readonly invalidRange?: Cidr;
  readonly auxAddresses: readonly { name: string; ip: Ip; path: PlanPath }[];
  readonly parent?: string;
  readonly path: PlanPath;
}

export interface Network {
  readonly name: string;
  readonly driver: NetworkDriver;
  readonly scope: "local" | "swarm";
  /** Networks Docker creates by itself: bridge (docker0), docker_gwbridge, ingress. */
  readonly implicit: boolean;
  readonly attachable: boolean;
  readonly encrypted: boolean;
  readonly internal: boolean;
  readonly ingress: boolean;
  /** com.docker.network.driver.mtu; undefined means the driver default. */
  readonly mtu?: number;
  readonly mode?: string;
  /** The host whose engine runs `docker network create` for a swarm network. */
  readonly createOn?: string;
  readonly instances: readonly NetworkInstance[];
  readonly path: PlanPath;
}

export interface Attachment {
  readonly network: string;
  readonly ip?: Ip;
  readonly aliases: readonly string[];
  readonly path: PlanPath;
}

export interface Publish {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly proto: Proto;
  readonly hostIp?: Ip;
  readonly path: PlanPath;
}

export interface Container {
  readonly name: string;
  readonly host: string;
  readonly image: string;
  readonly networkMode: "networks" | "host";
  readonly attachments: readonly Attachment[];
  readonly publish: readonly Publish[];
  /** Ports the workload listens on; `ip` when it binds one address only (a Consul agent's client_addr). */
  readonly listen: readonly { port: number; proto: Proto; ip?: Ip }[];
  readonly command?: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Some of its networks could not be read (reported): findings that depend on them say nothing. */
  readonly networksIncomplete?: boolean;
  /** A Consul agent's container: its name is the agent's. */
  readonly agent?: string;
  readonly path: PlanPath;
}

/** Consul's listener ports; -1 turns a client listener off (dns, http, https, grpc), as in Consul's own config. */
export interface ConsulPorts {
  readonly dns: number;
  readonly http: number;
  readonly https?: number;
  readonly grpc?: number;
  readonly serfLan: number;
  readonly serfWan: number;
  readonly server: number;
}

export interface ConsulAgentConfig {
  readonly server?: boolean;
  readonly bootstrapExpect?: number;
  readonly bootstrap?: boolean;
  readonly bindAddr?: string;
  readonly advertiseAddr?: string;
  readonly clientAddr?: string;
  readonly retryJoin?: readonly string[];
  readonly startJoin?: readonly string[];
  readonly datacenter?: string;
  readonly ui?: boolean;
  readonly nodeName?: string;
}

export type AgentAddressKind = "bind" | "advertise" | "client";

export interface ConsulAgent {
  readonly name: string;
  readonly host: string;
  readonly datacenter: string;
  readonly server: boolean;
  readonly bootstrapExpect?: number;
  readonly bootstrap: boolean;
  /** Effective values: the config file's, overridden (scalars) or extended (lists) by command-line flags. */
  readonly bindAddr?: Ip;
  readonly advertiseAddr?: Ip;
  readonly clientAddr: string;
  /** Addresses given as go-sockaddr templates crosshost could not evaluate: left to Consul. */
  readonly addressTemplates?: readonly AgentAddressKind[];
  /** A template naming an interface the host does not have: Consul resolves it to nothing and exits. */
  readonly unresolvableTemplate?: AgentAddressKind;
  readonly retryJoin: readonly string[];
  readonly startJoin: readonly string[];
  readonly ports: ConsulPorts;
  readonly leaveOnTerminate: boolean;
  readonly ui: boolean;
  /** The host directory mounted at /consul/data (the seed's /opt/consul/data by default). */
  readonly dataDir: string;
  /** data_dir was written in the plan: the config file repeats it as written (the seed does), else it names the mount. */
  readonly dataDirDeclared?: boolean;
  readonly logLevel: string;
  readonly image: string;
  /** "host" for --net=host, otherwise the Docker network the agent's container joins. */
  readonly network: "host" | { readonly network: string; readonly ip?: Ip; readonly publish: readonly Publish[] };
  /** The data dir holds Raft state written while the server advertised this address. */
  readonly previousAdvertiseAddr?: Ip;
  readonly configFile: string;
  /** As written in the config file and on the command line, for rendering. */
  readonly fileConfig: ConsulAgentConfig;
  readonly flags: ConsulAgentConfig;
  readonly path: PlanPath;
}

export interface Consul {
  readonly datacenter: string;
  readonly image: string;
  readonly agents: readonly ConsulAgent[];
  readonly path: PlanPath;
}

export type AddressRef =
  | { readonly kind: "ip"; readonly ip: Ip; readonly path: PlanPath }
  | { readonly kind: "container"; readonly container: string; readonly network?: string; readonly path: PlanPath }
  | { readonly kind: "host"; readonly host: string; readonly path: PlanPath };

export interface HealthCheck {
  readonly type: "http" | "tcp";
  readonly target: AddressRef;
  readonly port: number;
  readonly path: string;
  readonly interval: string;
  readonly timeout: string;
  readonly planPath: PlanPath;
}

export interface ServiceRegistration {
  readonly id: string;
  readonly name: string;
  readonly agent: string;
  readonly address: AddressRef;
  readonly port: number;
  readonly tags: readonly string[];
  readonly check?: HealthCheck;
  /** The container that provides it, when known. */
  readonly provider?: string;
  readonly consumers: readonly Endpoint[];
  readonly path: PlanPath;
}

/** Who sends a probe: a container, or a host's own network namespace. */
export type Endpoint =
  | { readonly kind: "container"; readonly container: string; readonly path: PlanPath }
  | { readonly kind: "host"; readonly host: string; readonly path: PlanPath };

/** Where a probe goes: an address, a container (by its address or by name) or a host. */
export type Target =
  | { readonly kind: "ip"; readonly ip: Ip; readonly path: PlanPath }
  | { readonly kind: "container"; readonly container: string; readonly network?: string; readonly path: PlanPath }
  | { readonly kind: "host"; readonly host: string; readonly path: PlanPath };

export type Expectation =
  | {
      readonly kind: "reach";
      readonly from: Endpoint;
      readonly to: Target;
      readonly by: "address" | "name";
      readonly size: number;
      readonly proto: "icmp" | Proto;
      readonly port?: number;
      readonly reach: boolean;
      readonly path: PlanPath;
    }
  | { readonly kind: "consul_leader"; readonly leader: string | boolean; readonly path: PlanPath }
  | { readonly kind: "swarm_leader"; readonly leader: string | boolean; readonly path: PlanPath }
  | { readonly kind: "service_health"; readonly service: string; readonly health: "passing" | "critical"; readonly path: PlanPath }
  | { readonly kind: "sees_network"; readonly host: string; readonly network: string; readonly sees: boolean; readonly path: PlanPath };

export type Fault =
  | { readonly kind: "stop_host" | "start_host" | "stop_engine" | "start_engine" | "cut_host" | "restore_host"; readonly host: string; readonly path: PlanPath }
  | { readonly kind: "stop_agent" | "start_agent"; readonly agent: string; readonly path: PlanPath }
  | { readonly kind: "stop_container" | "start_container"; readonly container: string; readonly path: PlanPath }
  | { readonly kind: "partition"; readonly groups: readonly (readonly string[])[]; readonly path: PlanPath }
  | { readonly kind: "heal_partition"; readonly path: PlanPath }
  | { readonly kind: "block_port" | "unblock_port"; readonly from: string; readonly to: string; readonly proto: Proto; readonly port: number; readonly path: PlanPath }
  | { readonly kind: "set_mtu"; readonly segment: string; readonly mtu: number; readonly path: PlanPath };

export interface SwarmNode {
  readonly host: string;
  readonly role: "manager" | "worker";
  readonly advertiseAddr?: Ip;
  readonly advertisePort: number;
  readonly listenAddr?: Ip;
  /** The manager address this node joins (the init node joins nothing). */
  readonly join?: Ip;
  readonly path: PlanPath;
}

export interface Swarm {
  readonly init: string;
  readonly nodes: readonly SwarmNode[];
  readonly dataPathPort: number;
  readonly defaultAddrPool: readonly Cidr[];
  readonly defaultAddrPoolMaskLength: number;
  readonly path: PlanPath;
}

export interface Plan {
  readonly name: string;
  readonly description?: string;
  readonly hosts: readonly Host[];
  readonly segments: readonly Segment[];
  readonly externals: readonly External[];
  readonly networks: readonly Network[];
  readonly swarm?: Swarm;
  readonly consul?: Consul;
  /** Workload containers and, appended, one per Consul agent (agent set). */
  readonly containers: readonly Container[];
  readonly services: readonly ServiceRegistration[];
  readonly expectations: readonly Expectation[];
  readonly faults: readonly Fault[];
}

/** Name → element indexes, built once after reading, shared by all rules. */
export interface PlanIndex {
  readonly hosts: ReadonlyMap<string, Host>;
  readonly networks: ReadonlyMap<string, Network>;
  readonly containers: ReadonlyMap<string, Container>;
  readonly agents: ReadonlyMap<string, ConsulAgent>;
  readonly services: ReadonlyMap<string, ServiceRegistration>;
  readonly segments: ReadonlyMap<string, Segment>;
  /** "host/nic" → segment name. */
  readonly segmentOfNic: ReadonlyMap<string, string>;
  readonly swarmNodes: ReadonlyMap<string, SwarmNode>;
}

export function indexPlan(plan: Plan): PlanIndex {
  // A loop rather than new Map(xs.map(...)): no 100k throw-away [key, value] pairs for the collector.
  const byName = <T extends { name: string }>(xs: readonly T[]): Map<string, T> => {
    const m = new Map<string, T>();
    for (const x of xs) m.set(x.name, x);
    return m;
  };
  const segmentOfNic = new Map<string, string>();
  for (const s of plan.segments) for (const m of s.members) segmentOfNic.set(`${m.host}/${m.nic}`, s.name);
  return {
    hosts: byName(plan.hosts),
    networks: byName(plan.networks),
    containers: byName(plan.containers),
    agents: byName(plan.consul?.agents ?? []),
    services: new Map(plan.services.map((s) => [s.id, s] as const)),
    segments: byName(plan.segments),
    segmentOfNic,
    swarmNodes: new Map((plan.swarm?.nodes ?? []).map((n) => [n.host, n] as const)),
  };
}

const instanceMaps = new WeakMap<Network, Map<string, NetworkInstance>>();

/** The instance of `n` on `host` (local scope) or its single instance (swarm scope); O(1) after the first call. */
export function instanceOn(n: Network, host: string): NetworkInstance | undefined {
  if (n.scope === "swarm") return n.instances[0];
  let m = instanceMaps.get(n);
  if (!m) {
    m = new Map();
    for (const i of n.instances) if (i.host !== undefined && !m.has(i.host)) m.set(i.host, i);
    instanceMaps.set(n, m);
  }
  return m.get(host);
}

/**
 * Where the agent's HTTP API answers, as `ip:port` seen from the agent's own network namespace: the first
 * client_addr (Consul listens on each address of a space-separated list), with the wildcard 0.0.0.0 reached
 * on loopback. The seed registers services this way: `docker exec AGENT … curl http://127.0.0.1:8500/…`.
 */
export function agentHttpAddress(a: Pick<ConsulAgent, "clientAddr" | "ports">): string {
  const first = a.clientAddr.trim().split(/\s+/)[0] ?? "";
  const host = first === "" || first === "0.0.0.0" || first === "::" ? "127.0.0.1" : first;
  return `${host}:${a.ports.http}`;
}

/**
 * The link type a host shim needs: the kernel lets one parent carry macvlan or ipvlan children, never both
 * (`ip link add … type macvlan` on an ipvlan master answers "Device or resource busy", containernetworking/cni#7),
 * so the shim follows the networks on its parent. An ipvlan shim takes their mode too: ipvlan's mode belongs
 * to the master, shared by every child on it.
 */
export function shimDriver(plan: Plan, host: string, shim: Shim): { type: "macvlan" | "ipvlan"; mode: string } {
  const ipvlan = plan.networks.find((n) => n.driver === "ipvlan" && n.instances.some((i) => i.host === host && i.parent === shim.parent));
  const type = shim.type ?? (ipvlan ? "ipvlan" : "macvlan");
  return type === "ipvlan" ? { type, mode: ipvlan?.mode ?? "l2" } : { type, mode: "bridge" };
}

/** A host port a container holds: a listener of a host-network container, or a published port. */
export interface HostPortBinding {
  readonly port: number;
  readonly proto: Proto;
  /** One address only; absent: all of them. */
  readonly ip?: Ip;
  readonly published: boolean;
  readonly path: PlanPath;
}

export function hostPortBindings(c: Container): HostPortBinding[] {
  return [
    ...(c.networkMode === "host" ? c.listen.map((l) => ({ port: l.port, proto: l.proto, ...(l.ip !== undefined ? { ip: l.ip } : {}), published: false, path: c.path })) : []),
    ...c.publish.map((p) => ({ port: p.hostPort, proto: p.proto, ...(p.hostIp !== undefined ? { ip: p.hostIp } : {}), published: true, path: p.path })),
  ];
}
