import { access, readdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { runArgv } from "../src/drivers/transports/local-transport.js";
import {
  BUSYBOX_BINARY,
  CONSUL_VERSION,
  aptUpdateBullseye,
  bullseyeApt,
  bullseyeListsPresent,
  crosshostCacheDir,
  elfInfo,
} from "./images.js";
import { canBuildNode, probePull } from "./dind/node-image.js";
import { probeMachineEngine } from "./dind/outer-engine.js";

/** One detected capability: present, with a detail (a version), or missing, with the reason. */
export type Capability = { readonly ok: true; readonly detail?: string } | { readonly ok: false; readonly reason: string };

export interface NetnsLabCaps {
  readonly root: Capability;
  readonly netns: Capability;
  readonly bridge: Capability;
  readonly veth: Capability;
  readonly macvlan: Capability;
  readonly vxlan: Capability;
  readonly ipvlan: Capability;
  readonly vlan8021q: Capability;
  readonly nsenter: Capability;
  readonly dockerd: Capability;
  readonly dockerCli: Capability;
  readonly busyboxStatic: Capability;
  readonly iptables: Capability;
  /** iputils ping (needed for `-M do` DF pings in tests). */
  readonly ping: Capability;
  /** Consul 1.8.7 cached, or the bullseye archive reachable through apt. */
  readonly consul: Capability;
}

/** Capabilities the netns lab cannot work without; the rest are reported and gate individual features. */
export const REQUIRED_CAPS = ["root", "netns", "bridge", "veth", "nsenter", "dockerd", "dockerCli", "busyboxStatic", "iptables"] as const;

export type NetnsLabDetection =
  | { readonly ok: true; readonly caps: NetnsLabCaps }
  | { readonly ok: false; readonly reasons: string[]; readonly caps: NetnsLabCaps };

export interface DetectOptions {
  /** Probe apt for consul when it is not cached (runs `apt-get update` on our own bullseye list once). Default true. */
  readonly probeConsul?: boolean;
  readonly cacheDir?: string;
}

const yes = (detail?: string): Capability => (detail !== undefined ? { ok: true, detail } : { ok: true });
const no = (reason: string): Capability => ({ ok: false, reason });

/** Detects what the netns lab needs, creating and deleting only a throwaway netns of its own. Never throws. */
export async function detectNetnsLab(options: DetectOptions = {}): Promise<NetnsLabDetection> {
  const root = process.getuid?.() === 0 ? yes() : no("not running as root (uid " + String(process.getuid?.()) + ")");
  const [tools, links, consul] = await Promise.all([
    detectTools(),
    root.ok ? detectLinkKinds() : Promise.resolve(undefined),
    detectConsul(options),
  ]);
  const notRoot = no("needs root to test");
  const caps: NetnsLabCaps = {
    root,
    netns: links?.netns ?? notRoot,
    bridge: links?.bridge ?? notRoot,
    veth: links?.veth ?? notRoot,
    macvlan: links?.macvlan ?? notRoot,
    vxlan: links?.vxlan ?? notRoot,
    ipvlan: links?.ipvlan ?? notRoot,
    vlan8021q: links?.vlan8021q ?? notRoot,
    ...tools,
    consul,
  };
  const reasons = REQUIRED_CAPS.flatMap((k) => {
    const c = caps[k];
    return c.ok ? [] : [`${k}: ${c.reason}`];
  });
  return reasons.length === 0 ? { ok: true, caps } : { ok: false, reasons, caps };
}

async function version(argv: string[], pattern: RegExp): Promise<Capability> {
  const r = await runArgv(argv, { timeoutMs: 15_000 });
  if (r.code === 127) return no(`${argv[0]} not found`);
  const text = `${r.stdout}${r.stderr}`;
  const m = text.match(pattern);
  return r.code === 0 && m ? yes(m[1] ?? m[0]) : no(`${argv.join(" ")} exited ${r.code}: ${text.trim().split("\n")[0] ?? ""}`);
}

async function detectTools(): Promise<Pick<NetnsLabCaps, "nsenter" | "dockerd" | "dockerCli" | "busyboxStatic" | "iptables" | "ping">> {
  const [nsenter, dockerd, dockerCli, iptables, ping, busyboxStatic] = await Promise.all([
    version(["nsenter", "--version"], /util-linux ([\d.]+)/),
    version(["dockerd", "--version"], /Docker version (\S+?),/),
    version(["docker", "--version"], /Docker version (\S+?),/),
    (async () => {
      const v = await version(["iptables", "--version"], /(v[\d.]+(?: \(\w+\))?)/);
      if (!v.ok) return v;
      const s = await runArgv(["iptables", "-w", "-S", "FORWARD"], { timeoutMs: 15_000 });
      return s.code === 0 ? v : no(`iptables -S FORWARD failed: ${s.stderr.trim()}`);
    })(),
    version(["ping", "-V"], /iputils[- ](\S+)/),
    (async (): Promise<Capability> => {
      try {
        const elf = await elfInfo(BUSYBOX_BINARY);
        if (elf.interpreter !== undefined) return no(`${BUSYBOX_BINARY} is dynamically linked; install busybox-static`);
        return yes(BUSYBOX_BINARY);
      } catch (e) {
        return no(`${BUSYBOX_BINARY}: ${(e as Error).message} (Debian package busybox-static)`);
      }
    })(),
  ]);
  return { nsenter, dockerd, dockerCli, iptables, ping, busyboxStatic };
}

type LinkCaps = Pick<NetnsLabCaps, "netns" | "bridge" | "veth" | "macvlan" | "vxlan" | "ipvlan" | "vlan8021q">;

/** Creates each link kind inside a throwaway netns (so the root netns never sees it), then deletes the netns. */
async function detectLinkKinds(): Promise<LinkCaps> {
  const ns = `crosshost-detect-${randomBytes(4).toString("hex")}`;
  const add = await runArgv(["ip", "netns", "add", ns], { timeoutMs: 15_000 });
  if (add.code !== 0) {
    const reason = `ip netns add failed: ${add.stderr.trim()}`;
    const n = no(reason);
    return { netns: n, bridge: n, veth: n, macvlan: n, vxlan: n, ipvlan: n, vlan8021q: n };
  }
  try {
    const ip = async (...args: string[]): Promise<Capability> => {
      const r = await runArgv(["ip", "-n", ns, "link", "add", ...args], { timeoutMs: 15_000 });
      if (r.code === 0) return yes();
      const err = r.stderr.trim();
      return no(/Unknown device type|not supported/i.test(err) ? `not in this kernel (ip: ${err})` : `ip link add failed: ${err}`);
    };
    const veth = await ip("p0", "type", "veth", "peer", "name", "p1");
    const bridge = await ip("b0", "type", "bridge");
    const vxlan = await ip("x0", "type", "vxlan", "id", "42", "dstport", "4789");
    const parentMissing = no("no veth to use as parent");
    const macvlan = veth.ok ? await ip("m0", "link", "p0", "type", "macvlan", "mode", "bridge") : parentMissing;
    const ipvlan = veth.ok ? await ip("i0", "link", "p0", "type", "ipvlan", "mode", "l2") : parentMissing;
    const vlan8021q = veth.ok ? await ip("p0.10", "link", "p0", "type", "vlan", "id", "10") : parentMissing;
    return { netns: yes(), bridge, veth, macvlan, vxlan, ipvlan, vlan8021q };
  } finally {
    await runArgv(["ip", "netns", "del", ns], { timeoutMs: 15_000 });
  }
}

async function detectConsul(options: DetectOptions): Promise<Capability> {
  const cacheDir = options.cacheDir ?? crosshostCacheDir();
  const bin = `${cacheDir}/consul/${CONSUL_VERSION}/consul`;
  if (await access(bin).then(() => true, () => false)) return yes(`cached at ${bin}`);
  if ((await runArgv(["apt-get", "--version"], { timeoutMs: 15_000 })).code !== 0) return no("not cached and apt-get is not available");
  try {
    const apt = await bullseyeApt(cacheDir);
    if (await bullseyeListsPresent(apt.dir)) return yes(`bullseye lists cached (mirror ${apt.mirror.uri})`);
    if (options.probeConsul === false) return yes(`not fetched yet (mirror ${apt.mirror.uri})`);
    await aptUpdateBullseye(apt, 60_000);
    return yes(`bullseye reachable via ${apt.mirror.uri}`);
  } catch (e) {
    return no(`not cached and Debian bullseye not reachable through apt: ${(e as Error).message.split("\n")[0] ?? ""}`);
  }
}

// ---------- docker-in-docker lab (lab/dind) ----------

export interface DindLabCaps {
  readonly dockerCli: Capability;
  /** The machine's engine answers, or a private one can be started (root, dockerd, network namespaces). */
  readonly engine: Capability;
  readonly testcontainers: Capability;
  /** A node image is cached, can be built (mmdebstrap) or pulled (docker:dind). */
  readonly nodeImage: Capability;
  readonly busyboxStatic: Capability;
  readonly consul: Capability;
}

/** Capabilities the dind lab cannot work without; the rest gate individual features. */
export const DIND_REQUIRED_CAPS = ["dockerCli", "engine", "testcontainers", "nodeImage"] as const;

export type DindLabDetection =
  | { readonly ok: true; readonly caps: DindLabCaps; readonly engine: "machine" | "private" }
  | { readonly ok: false; readonly reasons: string[]; readonly caps: DindLabCaps };

/** Detects what the dind lab needs, starting and creating nothing. Never throws. */
export async function detectDindLab(options: DetectOptions = {}): Promise<DindLabDetection> {
  const [dockerCli, machine, tools, consul, testcontainers] = await Promise.all([
    version(["docker", "--version"], /Docker version (\S+?),/),
    probeMachineEngine(),
    detectTools(),
    detectConsul(options),
    import("testcontainers").then(
      (): Capability => yes("testcontainers importable"),
      (e: unknown) => no(`the npm package testcontainers does not load: ${(e as Error).message.split("\n")[0] ?? ""}`),
    ),
  ]);

  let engine: Capability;
  let kind: "machine" | "private" | undefined;
  if (machine.ok) {
    engine = yes(`the machine's engine at ${machine.dockerHost} (${machine.version})`);
    kind = "machine";
  } else {
    const lacks = [
      ...(process.getuid?.() === 0 ? [] : ["root"]),
      ...(tools.dockerd.ok ? [] : [`dockerd (${tools.dockerd.reason})`]),
      ...(tools.nsenter.ok ? [] : [`nsenter (${tools.nsenter.reason})`]),
    ];
    engine = lacks.length === 0
      ? yes(`no machine engine (${machine.reason}); a private dockerd ${tools.dockerd.ok ? (tools.dockerd.detail ?? "") : ""} will be started`)
      : no(`no machine engine (${machine.reason}), and a private one needs ${lacks.join(", ")}`);
    if (lacks.length === 0) kind = "private";
  }

  const cacheDir = options.cacheDir ?? crosshostCacheDir();
  const cached = (await readdir(`${cacheDir}/images`).catch(() => [] as string[])).filter((f) => /^node-[0-9a-f]{16}\.tar$/.test(f));
  let nodeImage: Capability;
  const build = await canBuildNode();
  if (build.ok) nodeImage = yes(cached.length > 0 ? `built node image cached (${cached.join(", ")}); mmdebstrap can rebuild it` : "buildable with mmdebstrap");
  else if (kind === "machine" && (await probePull(machine.dockerHost))) nodeImage = yes("docker:dind can be pulled");
  else nodeImage = no(`${build.reason}${kind === "machine" ? ", and docker:dind cannot be pulled" : ""}`);

  const caps: DindLabCaps = { dockerCli, engine, testcontainers, nodeImage, busyboxStatic: tools.busyboxStatic, consul };
  const reasons = DIND_REQUIRED_CAPS.flatMap((k) => {
    const c = caps[k];
    return c.ok ? [] : [`${k}: ${c.reason}`];
  });
  return reasons.length === 0 && kind !== undefined ? { ok: true, caps, engine: kind } : { ok: false, reasons, caps };
}

export type BackendChoice =
  | { readonly ok: true; readonly backend: "netns" | "dind"; readonly why: string }
  | { readonly ok: false; readonly why: string };

/**
 * Picks the lab backend for `--backend dind|netns|auto` and says why. auto prefers netns (no images, the
 * fastest bring-up, lab-notes "Recommendation") and falls back to dind (any machine with a Docker engine).
 */
export async function chooseBackend(requested: "dind" | "netns" | "auto" = "auto", options: DetectOptions = {}): Promise<BackendChoice> {
  const netns = requested === "dind" ? undefined : await detectNetnsLab({ probeConsul: false, ...options });
  if (requested === "netns") {
    return netns?.ok ? { ok: true, backend: "netns", why: "requested; network namespaces, bridges and dockerd are available" } : { ok: false, why: `netns backend requested but unusable: ${netns && !netns.ok ? netns.reasons.join("; ") : ""}` };
  }
  if (requested === "auto" && netns?.ok) return { ok: true, backend: "netns", why: "auto: root with network namespaces and dockerd here, the faster backend" };
  const dind = await detectDindLab({ probeConsul: false, ...options });
  const engineDetail = dind.caps.engine.ok ? (dind.caps.engine.detail ?? "") : "";
  if (dind.ok) {
    const why = requested === "dind" ? `requested; ${engineDetail}` : `auto: netns unusable (${netns && !netns.ok ? netns.reasons.join("; ") : "?"}); dind on ${engineDetail}`;
    return { ok: true, backend: "dind", why };
  }
  const dindWhy = dind.reasons.join("; ");
  return requested === "dind"
    ? { ok: false, why: `dind backend requested but unusable: ${dindWhy}` }
    : { ok: false, why: `no lab backend works here: netns: ${netns && !netns.ok ? netns.reasons.join("; ") : "?"}; dind: ${dindWhy}` };
}
