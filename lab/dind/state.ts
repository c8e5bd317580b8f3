import { readFile } from "node:fs/promises";
import { StateStore } from "../state-store.js";
import type { LabSpec } from "../spec.js";
import type { DindLayout } from "./layout.js";

/**
 * Where the lab's Linux bridges live, and so where switch faults and FORWARD rules are applied:
 * - "netns": the private outer engine's own network namespace (entered with nsenter);
 * - "root": the machine's engine runs in this machine's root namespace (its bridges are visible here);
 * - "helper": the engine is elsewhere (a VM, a remote host): a short-lived `--network host` container of the node image.
 */
export type SwitchAccess = { readonly kind: "netns"; readonly netns: string } | { readonly kind: "root" } | { readonly kind: "helper"; readonly image: string };

export interface PrivateEngineState {
  readonly kind: "private";
  readonly dockerHost: string;
  readonly dir: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly socket: string;
  readonly pidfile: string;
  readonly logFile: string;
  readonly netns: string;
  readonly cgroupParent: string;
  netnsCreated: boolean;
  /** The data root is a tmpfs we mounted (lab-notes 4d measured the import as 3x faster there). */
  dataMounted: boolean;
  /** Every dockerd pid started (teardown re-checks each pid's command line before signalling it). */
  pids: number[];
  /** /run/docker and /run/containerd when they did not exist before: removed at teardown if empty. */
  sharedDirs: string[];
}

export interface MachineEngineState {
  readonly kind: "machine";
  readonly dockerHost: string;
}

export type EngineState = PrivateEngineState | MachineEngineState;

/** An iptables rule the lab inserted with `-I <chain> 1`; `where` says in which namespace. */
export interface DindRecordedRule {
  readonly where: SwitchAccess;
  readonly table: string;
  readonly chain: string;
  readonly rule: readonly string[];
}

/** A rule inside a node (blockPort); it dies with the node, but is recorded so unblock and status see it. */
export interface NodeRule {
  readonly host: string;
  readonly table: string;
  readonly chain: string;
  readonly rule: readonly string[];
}

export type PrivilegeMode =
  | { readonly mode: "privileged" }
  | { readonly mode: "pseudo"; readonly dropped: readonly string[]; readonly why: string };

/**
 * Everything a dind lab owns, written before each thing is created, so that teardown works from this file
 * alone after a crash. Teardown removes what is listed here (and what carries the lab's label), nothing else.
 */
export interface DindLabState {
  readonly version: 1;
  readonly backend: "dind";
  readonly createdAt: string;
  readonly spec: LabSpec;
  readonly layout: DindLayout;
  labDirCreated: boolean;
  engine?: EngineState;
  switchAccess?: SwitchAccess;
  nodeImage?: { readonly tag: string; readonly source: string; readonly baked: readonly string[] };
  privileges?: PrivilegeMode;
  /** Outer networks we created (names; the lab label marks them too). */
  networks: string[];
  /** Outer containers we created (names). */
  containers: string[];
  rules: DindRecordedRule[];
  nodeRules: NodeRule[];
  /** A testcontainers socket link (see testcontainers-env.ts) pointing at this lab's private engine. */
  tcLinks: string[];
  cut: string[];
  segmentMtu: Record<string, number>;
}

export function newDindLabState(spec: LabSpec, layout: DindLayout): DindLabState {
  return {
    version: 1,
    backend: "dind",
    createdAt: new Date().toISOString(),
    spec,
    layout,
    labDirCreated: false,
    networks: [],
    containers: [],
    rules: [],
    nodeRules: [],
    tcLinks: [],
    cut: [],
    segmentMtu: {},
  };
}

export async function readDindLabState(file: string): Promise<DindLabState> {
  const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<DindLabState>;
  if (parsed.version !== 1 || parsed.backend !== "dind" || !parsed.layout || !parsed.spec) {
    throw new Error(`${file} is not a crosshost dind lab state file (version 1)`);
  }
  return parsed as DindLabState;
}

export class DindStateStore extends StateStore<DindLabState> {}
