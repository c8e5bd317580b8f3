import { readFile } from "node:fs/promises";
import { StateStore } from "../state-store.js";
import type { LabSpec } from "../spec.js";
import type { LabLayout } from "./layout.js";

/** An iptables rule the lab inserted: `iptables -t <table> -I <chain> 1 <rule…>`, in netns `netns` or the root netns. */
export interface RecordedRule {
  readonly netns?: string;
  readonly table: string;
  readonly chain: string;
  readonly rule: readonly string[];
}

/**
 * Everything a lab owns, written to disk before each thing is created, so that teardown works from this
 * file alone after a crash. Teardown removes exactly what is listed here, nothing else.
 */
export interface LabState {
  readonly version: 1;
  readonly createdAt: string;
  readonly spec: LabSpec;
  readonly layout: LabLayout;
  /** The lab directory (with the state file inside); removed last. */
  labDirCreated: boolean;
  /** Netns names we created (/run/netns/<name>). */
  netns: string[];
  /** Root-namespace links we created: bridges and root-side veth ends. */
  links: string[];
  /** Bind mounts we created (UTS namespace files); anything else mounted under the lab dir is unmounted too. */
  mounts: string[];
  rules: RecordedRule[];
  /** cgroup parent of all the lab's containers, in every hierarchy. */
  cgroups: string[];
  /** Shared runtime dirs (/run/docker, /run/containerd) absent before this lab; removed at teardown only if empty. */
  sharedDirs: string[];
  /** Every dockerd pid ever started per host (teardown re-checks each pid's command line before signalling it). */
  enginePids: Record<string, number[]>;
  /** Hosts whose cable is pulled (cutHost). */
  cut: string[];
}

export function newLabState(spec: LabSpec, layout: LabLayout): LabState {
  return {
    version: 1,
    createdAt: new Date().toISOString(),
    spec,
    layout,
    labDirCreated: false,
    netns: [],
    links: [],
    mounts: [],
    rules: [],
    cgroups: [],
    sharedDirs: [],
    enginePids: {},
    cut: [],
  };
}

export async function readLabState(file: string): Promise<LabState> {
  const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<LabState>;
  if (parsed.version !== 1 || !parsed.layout || !parsed.spec) throw new Error(`${file} is not a crosshost lab state file (version 1)`);
  return parsed as LabState;
}

export class LabStateStore extends StateStore<LabState> {}
