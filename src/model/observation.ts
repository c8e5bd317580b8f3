// What a driver reports after applying a plan: the simulator predicts it, the real drivers measure it,
// and `compare` lines the two up. Both sides fill the same shape; names, not addresses, identify things.

export type Endpoint = string; // "box1" (a container) or "host:docker-71"

export interface ProbeSpec {
  readonly from: Endpoint;
  /** A container name, "host:NAME", or an IPv4 address. */
  readonly to: string;
  /** The network whose address is used when `to` is a container reached by address. */
  readonly network?: string;
  readonly by: "address" | "name";
  /** ICMP payload (ping -s); IP packet = size + 28. */
  readonly size: number;
  readonly proto: "icmp" | "tcp" | "udp";
  readonly port?: number;
}

export interface ProbeResult extends ProbeSpec {
  readonly ok: boolean;
  /** The address actually probed. */
  readonly address?: string;
  /** Why not, one line (simulator: computed; real: what ping or the check said). */
  readonly reason?: string;
  /** Hop-by-hop explanation (simulator only). */
  readonly hops?: readonly { at: string; note: string }[];
}

export interface HostObservation {
  readonly up: boolean;
  readonly engine: boolean;
  /** `docker network ls` names (bridge/host/none left out). */
  readonly networks: readonly string[];
}

export interface ContainerObservation {
  readonly host: string;
  /** "unknown": the host's engine does not answer. */
  readonly state: "running" | "exited" | "absent" | "unknown";
  /** network → address, as `docker inspect` shows them. */
  readonly addresses: Readonly<Record<string, string>>;
  /** Why it is not running. */
  readonly error?: string;
}

export interface SwarmObservation {
  /** As a manager with a leader lists them (`docker node ls`); empty without a leader. */
  readonly nodes: readonly { host: string; role: "manager" | "worker"; status: "ready" | "down"; manager?: "leader" | "reachable" | "unreachable" }[];
  readonly leader: string | null;
  /** After a failover Raft elects any of these (randomized timeouts): the prediction cannot say which. */
  readonly leaderCandidates?: readonly string[];
  /** Which hosts are swarm members (docker info: Swarm active). */
  readonly active: readonly string[];
}

export interface ConsulAgentObservation {
  readonly running: boolean;
  /** `/v1/status/leader` from this agent: the leader's server address "ip:8300", or "" (no leader). */
  readonly leader: string;
  /** After a failover any of these may lead (Raft's randomized election): the prediction cannot say which. */
  readonly leaderCandidates?: readonly string[];
  /** `/v1/status/peers`. */
  readonly peers: readonly string[];
  /** `/v1/agent/members`: name → status (in clusters of more than 100 agents: only members not alive). */
  readonly members: Readonly<Record<string, "alive" | "failed" | "left">>;
  readonly memberCounts: { readonly alive: number; readonly failed: number; readonly left: number };
}

export interface ServiceObservation {
  readonly agent: string;
  readonly registered: boolean;
  /** Status of the service's check on its agent (no check: passing). */
  readonly health: "passing" | "warning" | "critical" | "unknown";
  readonly reason?: string;
}

/** Reachability summarized by equivalence class, for plans too large for a full matrix. */
export interface ClassMatrix {
  readonly classes: readonly { readonly id: string; readonly kind: "container" | "host"; readonly label: string; readonly members: readonly string[] }[];
  /** One cell per ordered pair of classes and host relation; `example` is the pair that was traced. */
  readonly cells: readonly {
    readonly from: string;
    readonly to: string;
    readonly sameHost: boolean;
    readonly example: string;
    readonly address: boolean;
    readonly large: boolean;
    readonly name?: boolean;
    readonly reason?: string;
  }[];
}

export interface Observation {
  readonly driver: string;
  readonly hosts: Readonly<Record<string, HostObservation>>;
  readonly containers: Readonly<Record<string, ContainerObservation>>;
  readonly swarm: SwarmObservation | null;
  /** Per agent, as seen from that agent. */
  readonly consul: Readonly<Record<string, ConsulAgentObservation>> | null;
  readonly services: Readonly<Record<string, ServiceObservation>>;
  readonly probes: readonly ProbeResult[];
  /** Large plans: the reachability matrix per equivalence class of endpoints. */
  readonly classes?: ClassMatrix;
}

export function probeKey(p: ProbeSpec): string {
  return `${p.from}→${p.to}${p.network ? `@${p.network}` : ""} ${p.by} ${p.proto}${p.port !== undefined ? `/${p.port}` : ""} ${p.size}`;
}
