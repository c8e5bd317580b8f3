// A step is one idempotent operation on one host, with the reason it is needed. Steps are plain,
// serialisable values: `crosshost plan` prints them, every driver applies them.
import type { AddressRef, Fault, Proto } from "../plan.js";

export type StepKind =
  | "kernel_module"
  | "gwbridge_create"
  | "swarm_init"
  | "ingress_replace"
  | "swarm_join"
  | "network_create"
  | "shim_create"
  | "consul_agent"
  | "container_run"
  | "service_register"
  | "fault";

interface StepBase {
  /** Stable id, unique in a plan: "network_create:macvlan-test@docker-71". */
  readonly id: string;
  readonly kind: StepKind;
  /** The host whose engine or kernel the step changes. */
  readonly host: string;
  /** Why the plan needs it. */
  readonly reason: string;
  /** Ids of the steps that must have run first. */
  readonly after: readonly string[];
}

export interface KernelModuleStep extends StepBase {
  readonly kind: "kernel_module";
  readonly module: string;
}

export interface GwbridgeCreateStep extends StepBase {
  readonly kind: "gwbridge_create";
  readonly subnet: string;
  readonly gateway: string;
  readonly mtu?: number;
}

export interface SwarmInitStep extends StepBase {
  readonly kind: "swarm_init";
  readonly advertiseAddr: string;
  readonly listenAddr?: string;
  readonly dataPathPort: number;
  readonly defaultAddrPool: readonly string[];
  readonly defaultAddrPoolMaskLength: number;
}

export interface IngressReplaceStep extends StepBase {
  readonly kind: "ingress_replace";
  readonly subnet: string;
  readonly gateway: string;
  readonly mtu?: number;
}

export interface SwarmJoinStep extends StepBase {
  readonly kind: "swarm_join";
  readonly role: "manager" | "worker";
  /** The manager address joined, with port. */
  readonly join: string;
  /** The host that manager runs on (where the join token comes from). */
  readonly joinHost: string;
  readonly advertiseAddr?: string;
  readonly listenAddr?: string;
}

export interface NetworkCreateStep extends StepBase {
  readonly kind: "network_create";
  readonly network: string;
  readonly driver: "bridge" | "macvlan" | "ipvlan" | "overlay";
  readonly subnet: string;
  readonly gateway: string;
  readonly ipRange?: string;
  readonly auxAddresses: readonly { name: string; ip: string }[];
  readonly parent?: string;
  readonly mode?: string;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly encrypted: boolean;
  readonly mtu?: number;
}

export interface ShimCreateStep extends StepBase {
  readonly kind: "shim_create";
  readonly name: string;
  readonly parent: string;
  /** The link type (shimDriver): macvlan in bridge mode, or ipvlan in the mode of the ipvlan networks on the parent. */
  readonly type: "macvlan" | "ipvlan";
  readonly mode: string;
  readonly address: string;
  readonly routes: readonly string[];
}

export interface ConsulAgentStep extends StepBase {
  readonly kind: "consul_agent";
  readonly agent: string;
  readonly image: string;
  readonly configFile: string;
  /** The agent's JSON configuration file, as written. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Command-line flags after `agent -config-dir=…`, in order. */
  readonly flags: readonly string[];
  readonly network: "host" | { readonly network: string; readonly ip?: string; readonly publish: readonly string[] };
  readonly dataDir: string;
  /**
   * The host directories mounted at /consul/config and /consul/data: the seed's /etc/consul and data_dir when the
   * agent is alone on its host, a directory of its own under them when it shares the host with other agents
   * (two agents on one config dir would each load the other's JSON file; on one data dir, one node-id).
   */
  readonly hostConfigDir: string;
  readonly hostDataDir: string;
}

export interface ContainerRunStep extends StepBase {
  readonly kind: "container_run";
  readonly container: string;
  readonly image: string;
  readonly networkMode: "networks" | "host";
  readonly networks: readonly { network: string; ip?: string; aliases: readonly string[] }[];
  readonly publish: readonly { hostPort: number; containerPort: number; proto: Proto; hostIp?: string }[];
  readonly labels: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly listen: readonly { port: number; proto: Proto }[];
  /** The address pools it takes addresses from ("net" swarm-wide, "net@host" local): its start order matters only against containers on the same pools. */
  readonly pools: readonly string[];
}

export interface ServiceRegisterStep extends StepBase {
  readonly kind: "service_register";
  readonly service: string;
  readonly agent: string;
  /** The agent's HTTP API as `ip:port`, seen from inside the agent's container (agentHttpAddress). */
  readonly agentHttp: string;
  readonly name: string;
  readonly address: AddressRef;
  readonly port: number;
  readonly tags: readonly string[];
  readonly check?: { readonly type: "http" | "tcp"; readonly target: AddressRef; readonly port: number; readonly path: string; readonly interval: string; readonly timeout: string };
}

export interface FaultStep extends StepBase {
  readonly kind: "fault";
  readonly fault: Fault;
}

export type Step =
  | KernelModuleStep | GwbridgeCreateStep | SwarmInitStep | IngressReplaceStep | SwarmJoinStep | NetworkCreateStep
  | ShimCreateStep | ConsulAgentStep | ContainerRunStep | ServiceRegisterStep | FaultStep;

/** What applying a step did. `unchanged`: its effect was already there (idempotence). */
export interface StepResult {
  readonly id: string;
  readonly status: "done" | "unchanged" | "failed" | "skipped";
  /** One line; for failures, what the engine (or simulator) said. */
  readonly message: string;
}

/** The label crosshost puts on everything it creates; teardown removes only what carries it. */
export const OWNER_LABEL = "crosshost.owned";
export const PLAN_LABEL = "crosshost.plan";
