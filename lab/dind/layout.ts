import { createHash } from "node:crypto";
import { homedir } from "node:os";
import type { LabSpec } from "../spec.js";

/** Parent of every dind lab directory: /var/lib/crosshost/dind as root, else under $XDG_STATE_HOME (or ~/.local/state). */
export function defaultDindRoot(): string {
  if (process.getuid?.() === 0) return "/var/lib/crosshost/dind";
  const xdg = process.env.XDG_STATE_HOME;
  return `${xdg && xdg.startsWith("/") ? xdg : `${homedir()}/.local/state`}/crosshost/dind`;
}

/** Prefix of the outer bridges' names: cd<tag>s<k>, distinct from the netns lab's "cx". */
export const BRIDGE_PREFIX = "cd";
/** Label on every container and network a dind lab creates; its value is the lab name. */
export const LAB_LABEL = "crosshost.lab";

export interface DindNicLayout {
  readonly name: string;
  readonly address: string;
  readonly prefix: number;
  readonly mtu: number;
  readonly segment?: string;
}

export interface DindHostLayout {
  readonly name: string;
  /** Outer container name of the node. */
  readonly container: string;
  readonly nics: readonly DindNicLayout[];
  readonly routes: readonly { to: string; via?: string; dev?: string }[];
}

export interface DindSegmentLayout {
  readonly name: string;
  /** Outer Docker network that plays the switch. */
  readonly network: string;
  /** Its Linux bridge, named by us so faults can find it. */
  readonly bridge: string;
  /** "192.168.1.0/24": the plan subnet of every member NIC. */
  readonly subnet: string;
  /** Docker insists on a gateway address: the highest address of the subnet that no lab NIC uses. */
  readonly gateway: string;
  readonly mtu: number;
  readonly members: readonly { readonly host: string; readonly nic: string; readonly address: string }[];
}

/** Every name and path of a dind lab, derived from the spec and the lab root alone (pure). */
export interface DindLayout {
  readonly lab: string;
  readonly labDir: string;
  readonly stateFile: string;
  readonly tag: string;
  /** Directory of the private outer engine (used only when the machine has no engine of its own). */
  readonly engineDir: string;
  /** Network namespace of the private outer engine. */
  readonly engineNetns: string;
  /** cgroup parent of the private outer engine's containers (the nodes and all they run). */
  readonly cgroupParent: string;
  readonly hosts: readonly DindHostLayout[];
  readonly segments: readonly DindSegmentLayout[];
}

export function dindLabDirOf(root: string, lab: string): string {
  return `${root.replace(/\/+$/, "")}/${lab}`;
}

export function dindStateFileOf(root: string, lab: string): string {
  return `${dindLabDirOf(root, lab)}/state.json`;
}

/** Derives the layout; the spec must already be valid (validateLabSpec). Problems that only dind has are in dindLayoutProblems. */
export function dindLayout(spec: LabSpec, root: string): DindLayout {
  const labDir = dindLabDirOf(root, spec.name);
  const tag = createHash("sha256").update(labDir).digest("hex").slice(0, 6);
  const segmentOf = new Map<string, string>();
  for (const s of spec.segments) for (const m of s.members) segmentOf.set(`${m.host}/${m.nic}`, s.name);
  const used = new Set(spec.hosts.flatMap((h) => h.nics.map((n) => n.address)));
  const hosts = spec.hosts.map(
    (h): DindHostLayout => ({
      name: h.name,
      container: `crosshost-${spec.name}-${h.name}`,
      nics: h.nics.map((n) => {
        const segment = segmentOf.get(`${h.name}/${n.name}`);
        return { name: n.name, address: n.address, prefix: n.prefix, mtu: n.mtu, ...(segment !== undefined ? { segment } : {}) };
      }),
      routes: (h.routes ?? []).map((r) => ({ ...r })),
    }),
  );
  const segments = spec.segments.map((s, k): DindSegmentLayout => {
    const members = s.members.map((m) => {
      const nic = spec.hosts.find((h) => h.name === m.host)?.nics.find((n) => n.name === m.nic);
      return { host: m.host, nic: m.nic, address: nic?.address ?? "", prefix: nic?.prefix ?? 0 };
    });
    const first = members[0];
    const subnet = first ? `${intToIp(networkOf(ipToInt(first.address), first.prefix))}/${first.prefix}` : "";
    return {
      name: s.name,
      network: `crosshost-${spec.name}-s${k}-${s.name.replace(/[^A-Za-z0-9_.-]/g, "_")}`.slice(0, 120),
      bridge: `${BRIDGE_PREFIX}${tag}s${k}`,
      subnet,
      gateway: first ? freeGateway(first.address, first.prefix, used) ?? "" : "",
      mtu: s.mtu,
      members: members.map(({ host, nic, address }) => ({ host, nic, address })),
    };
  });
  return {
    lab: spec.name,
    labDir,
    stateFile: `${labDir}/state.json`,
    tag,
    engineDir: `${labDir}/engine`,
    engineNetns: `crosshost-dind-${spec.name}`,
    cgroupParent: `/crosshost-dind/${spec.name}`,
    hosts,
    segments,
  };
}

/** What the spec asks for that Docker networks cannot give; empty when the layout is usable. */
export function dindLayoutProblems(spec: LabSpec, layout: DindLayout): string[] {
  const problems: string[] = [];
  spec.segments.forEach((s, k) => {
    const seg = layout.segments[k];
    if (!seg) return;
    if (s.members.length === 0) problems.push(`segment ${s.name}: has no members (a Docker network needs a subnet)`);
    const subnets = new Set(
      s.members.map((m) => {
        const nic = spec.hosts.find((h) => h.name === m.host)?.nics.find((n) => n.name === m.nic);
        return nic ? `${intToIp(networkOf(ipToInt(nic.address), nic.prefix))}/${nic.prefix}` : "?";
      }),
    );
    if (subnets.size > 1) {
      problems.push(`segment ${s.name}: members are in different subnets (${[...subnets].join(", ")}); a Docker network has one subnet`);
    }
    if (s.members.length > 0 && seg.gateway === "") problems.push(`segment ${s.name}: no free address left in ${seg.subnet} for the Docker network's gateway`);
  });
  const seen = new Map<string, string>();
  for (const seg of layout.segments) {
    if (seg.subnet === "") continue;
    const other = seen.get(seg.subnet);
    if (other !== undefined) problems.push(`segments ${other} and ${seg.name} share subnet ${seg.subnet}; Docker networks of one engine cannot overlap`);
    seen.set(seg.subnet, seg.name);
  }
  return problems;
}

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function networkOf(ip: number, prefix: number): number {
  const size = 2 ** (32 - prefix);
  return ip - (ip % size);
}

function freeGateway(address: string, prefix: number, used: ReadonlySet<string>): string | undefined {
  if (prefix > 30) return undefined;
  const net = networkOf(ipToInt(address), prefix);
  const broadcast = net + 2 ** (32 - prefix) - 1;
  for (let a = broadcast - 1; a > net; a--) {
    const ip = intToIp(a);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}
