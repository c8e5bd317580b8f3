import { createHash } from "node:crypto";
import type { LabSpec } from "../spec.js";

/** Default parent of every lab directory. */
export const DEFAULT_LAB_ROOT = "/var/lib/crosshost/labs";
/** Prefix of every root-side link name; links are named cx<tag>s<k> (bridge) and cx<tag>h<i>n<j> (veth). */
export const LINK_PREFIX = "cx";
const SUN_PATH_MAX = 107; // sockaddr_un.sun_path holds 108 bytes including the NUL

export interface NicLayout {
  /** Name inside the host netns, as in the spec. */
  readonly name: string;
  readonly address: string;
  readonly prefix: number;
  readonly mtu: number;
  /** Root-side veth end (≤ 15 characters), the "cable" into the switch. */
  readonly rootVeth: string;
  /** Segment (switch) the NIC is plugged into, if any. */
  readonly segment?: string;
}

export interface HostLayout {
  readonly name: string;
  /** Netns name under /run/netns. */
  readonly netns: string;
  readonly dir: string;
  /** Bind mount of the host's persistent UTS namespace (its hostname). */
  readonly utsFile: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly socket: string;
  readonly pidfile: string;
  readonly logFile: string;
  readonly daemonJson: string;
  /** cgroup parent of this host's containers (absolute within every hierarchy). */
  readonly cgroupParent: string;
  readonly nics: readonly NicLayout[];
  readonly routes: readonly { to: string; via?: string; dev?: string }[];
}

export interface SegmentLayout {
  readonly name: string;
  readonly bridge: string;
  readonly mtu: number;
  readonly ports: readonly string[];
}

/** Every name and path of a lab, derived from the spec and the lab root alone (pure). */
export interface LabLayout {
  readonly lab: string;
  readonly labDir: string;
  readonly stateFile: string;
  /** Short hash of labDir that makes link names unique across labs. */
  readonly tag: string;
  readonly cgroupParent: string;
  readonly hosts: readonly HostLayout[];
  readonly segments: readonly SegmentLayout[];
}

export function labDirOf(root: string, lab: string): string {
  return `${root.replace(/\/+$/, "")}/${lab}`;
}

export function stateFileOf(root: string, lab: string): string {
  return `${labDirOf(root, lab)}/state.json`;
}

/** Derives the layout; the spec must already be valid (validateLabSpec). */
export function labLayout(spec: LabSpec, root: string): LabLayout {
  const labDir = labDirOf(root, spec.name);
  const tag = createHash("sha256").update(labDir).digest("hex").slice(0, 6);
  const cgroupParent = `/crosshost/${spec.name}`;
  const segmentOf = new Map<string, string>();
  for (const s of spec.segments) for (const m of s.members) segmentOf.set(`${m.host}/${m.nic}`, s.name);
  const safeNames = uniqueSafeNames(spec.hosts.map((h) => h.name));

  const hosts = spec.hosts.map((h, hi): HostLayout => {
    const safe = safeNames[hi] ?? `h${hi}`;
    const dir = `${labDir}/${safe}`;
    return {
      name: h.name,
      netns: `crosshost-${spec.name}-${safe}`,
      dir,
      utsFile: `${dir}/uts`,
      dataRoot: `${dir}/data`,
      execRoot: `${dir}/exec`,
      socket: `${dir}/docker.sock`,
      pidfile: `${dir}/docker.pid`,
      logFile: `${dir}/dockerd.log`,
      daemonJson: `${dir}/daemon.json`,
      cgroupParent: `${cgroupParent}/${safe}`,
      nics: h.nics.map((n, ni) => {
        const segment = segmentOf.get(`${h.name}/${n.name}`);
        return {
          name: n.name,
          address: n.address,
          prefix: n.prefix,
          mtu: n.mtu,
          rootVeth: `${LINK_PREFIX}${tag}h${hi}n${ni}`,
          ...(segment !== undefined ? { segment } : {}),
        };
      }),
      routes: h.routes ?? [],
    };
  });
  const segments = spec.segments.map((s, si): SegmentLayout => ({
    name: s.name,
    bridge: `${LINK_PREFIX}${tag}s${si}`,
    mtu: s.mtu,
    ports: hosts.flatMap((h) => h.nics.filter((n) => n.segment === s.name).map((n) => n.rootVeth)),
  }));
  return { lab: spec.name, labDir, stateFile: `${labDir}/state.json`, tag, cgroupParent, hosts, segments };
}

/** Problems with the layout that the spec check cannot see (name and socket-path lengths). */
export function layoutProblems(layout: LabLayout): string[] {
  const problems: string[] = [];
  if (!layout.labDir.startsWith("/")) problems.push(`lab root must be an absolute path, got ${layout.labDir}`);
  for (const h of layout.hosts) {
    const longest = `${h.execRoot}/containerd/containerd-debug.sock`;
    if (longest.length > SUN_PATH_MAX) {
      problems.push(`host ${h.name}: socket path ${longest} is ${longest.length} bytes, over the ${SUN_PATH_MAX}-byte unix socket limit; use a shorter lab root or lab id`);
    }
    for (const n of h.nics) if (n.rootVeth.length > 15) problems.push(`host ${h.name}: derived link name ${n.rootVeth} is over 15 characters (too many hosts or NICs)`);
  }
  for (const s of layout.segments) if (s.bridge.length > 15) problems.push(`segment ${s.name}: derived bridge name ${s.bridge} is over 15 characters`);
  return problems;
}

/** Lowercase [a-z0-9-] names, with a short hash appended where that changed the name or made two equal. */
function uniqueSafeNames(names: readonly string[]): string[] {
  const base = names.map((n) => n.toLowerCase().replace(/[^a-z0-9-]/g, "-"));
  return names.map((n, i) => {
    const b = base[i] ?? "h";
    const clash = base.filter((x) => x === b).length > 1;
    return b === n && !clash ? b : `${b}-${createHash("sha256").update(n).digest("hex").slice(0, 4)}`;
  });
}
