import type { StartedLab } from "../lab.js";
import { importImage, type BuiltImage } from "../images.js";
import { access, mkdir, readdir, writeFile } from "node:fs/promises";
import { NetnsTransport } from "../../src/drivers/transports/netns-transport.js";
import type { Transport } from "../../src/drivers/transport.js";
import { validateLabSpec, type LabSpec } from "../spec.js";
import { isEnginePid, startEngine, stopEngine, type StopEngineOptions } from "./engine.js";
import { LabError } from "./errors.js";
import { DEFAULT_LAB_ROOT, labLayout, layoutProblems, stateFileOf, type HostLayout, type LabLayout } from "./layout.js";
import { LabStateStore, newLabState, readLabState, type LabState, type RecordedRule } from "./state.js";
import { disableIpv6, listLinks, must, netnsNames } from "./sys.js";
import { downFromState, type TeardownOptions, type TeardownReport } from "./teardown.js";

export { downFromState, type TeardownOptions, type TeardownReport } from "./teardown.js";
export { LabError, LabTeardownError } from "./errors.js";

export type LabProgressStep = "prepare" | "switch" | "host" | "engine-spawned" | "engine-ready" | "ready" | "rollback";

export interface LabProgressEvent {
  readonly step: LabProgressStep;
  /** Milliseconds since up() started. */
  readonly atMs: number;
  readonly message: string;
  readonly host?: string;
  readonly segment?: string;
}

export interface UpOptions {
  readonly onProgress?: (event: LabProgressEvent) => void;
  /** Per-engine limit for answering `docker version` (default 30 s). */
  readonly engineTimeoutMs?: number;
  /** Leave a half-built lab in place when up fails (default: tear it down, then throw). */
  readonly keepOnFailure?: boolean;
}

export interface NetnsLabOptions {
  /** Parent of lab directories; default /var/lib/crosshost/labs. */
  readonly root?: string;
}

export interface HostStatus {
  readonly name: string;
  readonly netns: string;
  readonly netnsPresent: boolean;
  readonly engine: { readonly pid?: number; readonly running: boolean; readonly dockerHost: string };
  readonly cut: boolean;
  readonly nics: readonly { readonly name: string; readonly rootVeth: string; readonly segment?: string; readonly rootUp: boolean }[];
}

export interface LabStatus {
  readonly lab: string;
  readonly stateFile: string;
  /** False when no state file exists (the lab is down). */
  readonly exists: boolean;
  readonly hosts: readonly HostStatus[];
  readonly segments: readonly { readonly name: string; readonly bridge: string; readonly present: boolean; readonly mtu?: number }[];
  readonly rules: number;
}

export type PortProto = "tcp" | "udp";

/** A lab of network namespaces on this machine: one netns + one dockerd per host, one Linux bridge per segment. */
export class NetnsLab {
  readonly root: string;

  constructor(options: NetnsLabOptions = {}) {
    this.root = options.root ?? DEFAULT_LAB_ROOT;
  }

  stateFileOf(lab: string): string {
    return stateFileOf(this.root, lab);
  }

  /** Builds the lab; on failure tears down what was built (unless keepOnFailure) and throws a LabError. */
  async up(spec: LabSpec, options: UpOptions = {}): Promise<StartedNetnsLab> {
    const t0 = Date.now();
    const say = (step: LabProgressStep, message: string, where: { host?: string; segment?: string } = {}): void =>
      options.onProgress?.({ step, atMs: Date.now() - t0, message, ...where });

    const specProblems = validateLabSpec(spec);
    if (specProblems.length > 0) throw new LabError(`invalid lab spec:\n  - ${specProblems.join("\n  - ")}`);
    const layout = labLayout(spec, this.root);
    const layoutIssues = layoutProblems(layout);
    if (layoutIssues.length > 0) throw new LabError(`lab ${spec.name} cannot be laid out:\n  - ${layoutIssues.join("\n  - ")}`);
    if (process.getuid?.() !== 0) throw new LabError("a netns lab needs root (network namespaces, bridges, iptables, dockerd)");
    await assertNothingInTheWay(layout);

    const store = new LabStateStore(layout.stateFile, newLabState(spec, layout), false);
    await mkdir(this.root, { recursive: true });
    try {
      await mkdir(layout.labDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if ((await readdir(layout.labDir)).length > 0) {
        throw new LabError(`lab ${spec.name} already exists at ${layout.labDir}; tear it down first (state: ${layout.stateFile})`);
      }
    }
    await store.update((s) => {
      s.labDirCreated = true;
    });
    await store.enablePersistence();
    say("prepare", `state in ${layout.stateFile}`);

    try {
      await build(layout, store, say, options);
    } catch (e) {
      if (options.keepOnFailure) throw e;
      say("rollback", `up failed, tearing down: ${(e as Error).message.split("\n")[0] ?? ""}`);
      try {
        await downFromState(layout.stateFile);
      } catch (down) {
        throw new LabError(`${(e as Error).message}\n  and the rollback failed too: ${(down as Error).message}`);
      }
      if (e instanceof LabError && e.context.logFile !== undefined) {
        throw new LabError(`${e.message}\n  (rolled back: the log is gone with the lab dir; up(spec, { keepOnFailure: true }) keeps it)`);
      }
      throw e;
    }
    say("ready", `lab ${spec.name} up in ${Date.now() - t0} ms`);
    return new StartedNetnsLab(store);
  }

  /** Reattaches to a lab that is up (e.g. from another process). */
  async attach(lab: string): Promise<StartedNetnsLab> {
    const file = this.stateFileOf(lab);
    const state = await readLabState(file).catch((e: unknown) => {
      throw new LabError(`lab ${lab} is not up here (no readable state at ${file}): ${(e as Error).message}`);
    });
    return new StartedNetnsLab(new LabStateStore(file, state, true));
  }

  async status(lab: string): Promise<LabStatus> {
    const file = this.stateFileOf(lab);
    try {
      await access(file);
    } catch {
      return { lab, stateFile: file, exists: false, hosts: [], segments: [], rules: 0 };
    }
    return statusOf(await readLabState(file), file);
  }

  down(lab: string, options: TeardownOptions = {}): Promise<TeardownReport> {
    return downFromState(this.stateFileOf(lab), options);
  }
}

/** A running lab; every fault primitive records what it changes in the state file. */
export class StartedNetnsLab implements StartedLab {
  readonly backend = "netns" as const;
  readonly name: string;
  readonly hosts: readonly string[];
  readonly labDir: string;
  readonly stateFile: string;
  readonly #store: LabStateStore;
  readonly #transports = new Map<string, NetnsTransport>();

  constructor(store: LabStateStore) {
    this.#store = store;
    const { layout } = store.state;
    this.name = layout.lab;
    this.hosts = layout.hosts.map((h) => h.name);
    this.labDir = layout.labDir;
    this.stateFile = layout.stateFile;
  }

  get layout(): LabLayout {
    return this.#store.state.layout;
  }

  /** Runs commands inside the host's netns and UTS namespace with DOCKER_HOST set to the host's dockerd. */
  transport(host: string): Transport {
    let t = this.#transports.get(host);
    if (!t) {
      const h = this.#host(host);
      t = new NetnsTransport({ host, netns: h.netns, utsFile: h.utsFile, dockerHost: this.dockerHost(host) });
      this.#transports.set(host, t);
    }
    return t;
  }

  async loadImage(host: string, image: BuiltImage): Promise<boolean> {
    return importImage(this, host, image);
  }

  /** Files crosshost writes for a host (Consul configuration) live under the host's lab directory. */
  hostDir(host: string): string {
    return `${this.#host(host).dir}/files`;
  }

  /** "unix:///…/docker.sock" of the host's own dockerd. */
  dockerHost(host: string): string {
    return `unix://${this.#host(host).socket}`;
  }

  netnsOf(host: string): string {
    return this.#host(host).netns;
  }

  status(): Promise<LabStatus> {
    return statusOf(this.#store.state, this.stateFile);
  }

  async down(options: TeardownOptions = {}): Promise<TeardownReport> {
    await Promise.all([...this.#transports.values()].map((t) => t.close()));
    this.#transports.clear();
    return downFromState(this.stateFile, options);
  }

  /** Stops the host's dockerd and everything it ran (SIGTERM as a service stop; SIGKILL as a crash). */
  async stopEngine(host: string, options: Pick<StopEngineOptions, "signal" | "graceMs"> = {}): Promise<void> {
    const h = this.#host(host);
    const stuck = await stopEngine(h, { ...options, recordedPids: this.#store.state.enginePids[host] ?? [] });
    if (stuck.length > 0) throw new LabError(`engine processes ${stuck.join(", ")} did not exit`, { host, logFile: h.logFile });
  }

  /** Starts the host's dockerd again (same data root: images, containers and swarm state survive). */
  async startEngine(host: string, options: { timeoutMs?: number } = {}): Promise<void> {
    const h = this.#host(host);
    for (const pid of this.#store.state.enginePids[host] ?? []) {
      if (await isEnginePid(pid, h)) throw new LabError(`dockerd already runs (pid ${pid})`, { host, logFile: h.logFile });
    }
    await startEngine(h, { ...options, onSpawned: (pid) => this.#recordPid(host, pid) });
  }

  /** Pulls the host's cables: its root-side veth ends go down, so it drops off every switch. */
  async cutHost(host: string): Promise<void> {
    const h = this.#host(host);
    for (const n of h.nics) if (n.segment !== undefined) await must(["ip", "link", "set", "dev", n.rootVeth, "down"], { host });
    await this.#store.update((s) => {
      if (!s.cut.includes(host)) s.cut.push(host);
    });
  }

  async restoreHost(host: string): Promise<void> {
    const h = this.#host(host);
    for (const n of h.nics) if (n.segment !== undefined) await must(["ip", "link", "set", "dev", n.rootVeth, "up"], { host });
    await this.#store.update((s) => {
      s.cut = s.cut.filter((x) => x !== host);
    });
  }

  /** Sets the switch MTU: the bridge and all its ports (the hosts' own NIC MTUs stay as they are). */
  async setSegmentMtu(segment: string, mtu: number): Promise<void> {
    const seg = this.layout.segments.find((s) => s.name === segment);
    if (!seg) throw new LabError(`no segment ${JSON.stringify(segment)} in lab ${this.name}`);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new LabError(`MTU ${mtu} out of range`);
    for (const port of seg.ports) await must(["ip", "link", "set", "dev", port, "mtu", String(mtu)]);
    await must(["ip", "link", "set", "dev", seg.bridge, "mtu", String(mtu)]);
  }

  /** Drops packets from any address of fromHost to proto/port on toHost (raw PREROUTING in toHost's netns, so published ports are covered too). */
  async blockPort(fromHost: string, toHost: string, proto: PortProto, port: number): Promise<void> {
    const to = this.#host(toHost);
    for (const rule of this.#blockRules(fromHost, toHost, proto, port)) {
      if (this.#store.state.rules.some((r) => sameRule(r, rule))) continue;
      await this.#store.update((s) => s.rules.push(rule));
      await must(["nsenter", `--net=/run/netns/${to.netns}`, "--", "iptables", "-w", "-t", rule.table, "-I", rule.chain, "1", ...rule.rule], { host: toHost });
    }
  }

  async unblockPort(fromHost: string, toHost: string, proto: PortProto, port: number): Promise<void> {
    const to = this.#host(toHost);
    for (const rule of this.#blockRules(fromHost, toHost, proto, port)) {
      if (!this.#store.state.rules.some((r) => sameRule(r, rule))) continue;
      await must(["nsenter", `--net=/run/netns/${to.netns}`, "--", "iptables", "-w", "-t", rule.table, "-D", rule.chain, ...rule.rule], { host: toHost });
      await this.#store.update((s) => {
        s.rules = s.rules.filter((r) => !sameRule(r, rule));
      });
    }
  }

  #blockRules(fromHost: string, toHost: string, proto: PortProto, port: number): RecordedRule[] {
    const from = this.#host(fromHost);
    const to = this.#host(toHost);
    if (proto !== "tcp" && proto !== "udp") throw new LabError(`protocol must be tcp or udp, got ${String(proto)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LabError(`port ${port} out of range`);
    return from.nics.map((n) => ({
      netns: to.netns,
      table: "raw",
      chain: "PREROUTING",
      rule: ["-s", `${n.address}/32`, "-p", proto, "--dport", String(port), "-m", "comment", "--comment", `crosshost lab=${this.name} block from=${fromHost}`, "-j", "DROP"],
    }));
  }

  #host(host: string): HostLayout {
    const h = this.layout.hosts.find((x) => x.name === host);
    if (!h) throw new LabError(`no host ${JSON.stringify(host)} in lab ${this.name} (hosts: ${this.hosts.join(", ")})`);
    return h;
  }

  #recordPid(host: string, pid: number): Promise<void> {
    return this.#store.update((s) => {
      s.enginePids[host] = [...(s.enginePids[host] ?? []), pid];
    });
  }
}

function sameRule(a: RecordedRule, b: RecordedRule): boolean {
  return a.netns === b.netns && a.table === b.table && a.chain === b.chain && a.rule.join("\0") === b.rule.join("\0");
}

/** Refuses to start if any derived name is taken: we never adopt (and later delete) something that is not ours. */
async function assertNothingInTheWay(layout: LabLayout): Promise<void> {
  const [links, nss] = await Promise.all([listLinks(), netnsNames()]);
  const taken = new Set([...links.map((l) => l.ifname)]);
  const clashes = [
    ...layout.segments.filter((s) => taken.has(s.bridge)).map((s) => `link ${s.bridge} (segment ${s.name})`),
    ...layout.hosts.flatMap((h) => h.nics.filter((n) => taken.has(n.rootVeth)).map((n) => `link ${n.rootVeth} (host ${h.name} ${n.name})`)),
    ...layout.hosts.filter((h) => nss.includes(h.netns)).map((h) => `netns ${h.netns} (host ${h.name})`),
  ];
  if (clashes.length > 0) {
    throw new LabError(`lab ${layout.lab}: these names already exist on this machine and are not in a state file: ${clashes.join(", ")}`);
  }
}

type Say = (step: LabProgressStep, message: string, where?: { host?: string; segment?: string }) => void;

async function build(layout: LabLayout, store: LabStateStore, say: Say, options: UpOptions): Promise<void> {
  const lab = layout.lab;
  const record = (fn: (s: LabState) => void): Promise<void> => store.update(fn);

  for (const dir of ["/run/docker", "/run/containerd"]) {
    const exists = await access(dir).then(() => true, () => false);
    if (!exists) await record((s) => s.sharedDirs.push(dir));
  }
  await record((s) => s.cgroups.push(layout.cgroupParent));

  // switches
  for (const seg of layout.segments) {
    const ctx = { host: `(switch ${seg.name})` };
    await record((s) => s.links.push(seg.bridge));
    await must(["ip", "link", "add", seg.bridge, "mtu", String(seg.mtu), "type", "bridge", "stp_state", "0"], ctx);
    await must(["ip", "link", "set", "dev", seg.bridge, "alias", `crosshost lab=${lab} segment=${seg.name}`], ctx);
    await disableIpv6(seg.bridge); // no address at all in the root netns: the lab stays isolated from the machine
    // P1 (lab-notes 1a): br_netfilter + a FORWARD policy of DROP drops traffic bridged between two ports
    const rule: RecordedRule = {
      table: "filter",
      chain: "FORWARD",
      rule: ["-i", seg.bridge, "-o", seg.bridge, "-m", "comment", "--comment", `crosshost lab=${lab} segment=${seg.name}`, "-j", "ACCEPT"],
    };
    await record((s) => s.rules.push(rule));
    await must(["iptables", "-w", "-t", rule.table, "-I", rule.chain, "1", ...rule.rule], ctx);
    await must(["ip", "link", "set", "dev", seg.bridge, "up"], ctx);
    say("switch", `bridge ${seg.bridge} mtu ${seg.mtu}`, { segment: seg.name });
  }

  // hosts: netns, cables, addresses, hostname
  for (const h of layout.hosts) {
    const ctx = { host: h.name };
    await mkdir(h.dir, { recursive: true });
    await record((s) => s.netns.push(h.netns));
    await must(["ip", "netns", "add", h.netns], ctx);
    await must(["ip", "-n", h.netns, "link", "set", "lo", "up"], ctx);
    for (const n of h.nics) {
      const seg = layout.segments.find((s) => s.name === n.segment);
      await record((s) => s.links.push(n.rootVeth));
      await must(
        ["ip", "link", "add", n.rootVeth, "mtu", String(seg?.mtu ?? n.mtu), "type", "veth", "peer", "name", n.name, "mtu", String(n.mtu), "netns", h.netns],
        ctx,
      );
      await must(["ip", "link", "set", "dev", n.rootVeth, "alias", `crosshost lab=${lab} host=${h.name} nic=${n.name}`], ctx);
      await disableIpv6(n.rootVeth);
      if (seg) await must(["ip", "link", "set", "dev", n.rootVeth, "master", seg.bridge, "up"], ctx);
      await must(["ip", "-n", h.netns, "addr", "add", `${n.address}/${n.prefix}`, "dev", n.name], ctx);
      await must(["ip", "-n", h.netns, "link", "set", "dev", n.name, "up"], ctx);
    }
    // no default route, on purpose: nothing leaves the lab
    for (const r of h.routes) {
      await must(["ip", "-n", h.netns, "route", "add", r.to, ...(r.via ? ["via", r.via] : []), ...(r.dev ? ["dev", r.dev] : [])], ctx);
    }
    // a persistent UTS namespace per host: dockerd and every transport command see the host's own hostname
    await record((s) => s.mounts.push(h.utsFile));
    await writeFile(h.utsFile, "");
    await must(["unshare", `--uts=${h.utsFile}`, "hostname", h.name], ctx);
    say("host", `netns ${h.netns}: ${h.nics.map((n) => `${n.name} ${n.address}/${n.prefix}`).join(", ")}`, { host: h.name });
  }

  // engines, in parallel; all settle before a failure is thrown, so no engine is still being spawned during rollback
  const results = await Promise.allSettled(
    layout.hosts.map(async (h) => {
      const t = Date.now();
      await startEngine(h, {
        timeoutMs: options.engineTimeoutMs,
        onSpawned: async (pid) => {
          await store.update((s) => {
            s.enginePids[h.name] = [...(s.enginePids[h.name] ?? []), pid];
          });
          say("engine-spawned", `dockerd pid ${pid}, log ${h.logFile}`, { host: h.name });
        },
      });
      say("engine-ready", `dockerd answers on unix://${h.socket} after ${Date.now() - t} ms`, { host: h.name });
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function statusOf(state: LabState, stateFile: string): Promise<LabStatus> {
  const { layout } = state;
  const [links, nss] = await Promise.all([listLinks(), netnsNames()]);
  const byName = new Map(links.map((l) => [l.ifname, l]));
  const hosts = await Promise.all(
    layout.hosts.map(async (h): Promise<HostStatus> => {
      let pid: number | undefined;
      for (const p of state.enginePids[h.name] ?? []) if (await isEnginePid(p, h)) pid = p;
      return {
        name: h.name,
        netns: h.netns,
        netnsPresent: nss.includes(h.netns),
        engine: { ...(pid !== undefined ? { pid } : {}), running: pid !== undefined, dockerHost: `unix://${h.socket}` },
        cut: state.cut.includes(h.name),
        nics: h.nics.map((n) => ({
          name: n.name,
          rootVeth: n.rootVeth,
          ...(n.segment !== undefined ? { segment: n.segment } : {}),
          rootUp: byName.get(n.rootVeth)?.flags.includes("UP") ?? false,
        })),
      };
    }),
  );
  const segments = layout.segments.map((s) => {
    const l = byName.get(s.bridge);
    return { name: s.name, bridge: s.bridge, present: l !== undefined, ...(l ? { mtu: l.mtu } : {}) };
  });
  return { lab: layout.lab, stateFile, exists: true, hosts, segments, rules: state.rules.length };
}
