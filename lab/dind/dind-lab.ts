import { access, mkdir, readdir } from "node:fs/promises";
import { basename } from "node:path";
import { GenericContainer, Wait } from "testcontainers";
import type { Transport } from "../../src/drivers/transport.js";
import { DindTransport } from "../../src/drivers/transports/dind-transport.js";
import { runArgv, TIMEOUT_EXIT_CODE } from "../../src/drivers/transports/local-transport.js";
import { HASH_LABEL, OWNED_LABEL, type BuiltImage } from "../images.js";
import type { StartedLab } from "../lab.js";
import { LabError } from "../netns/errors.js";
import { disableIpv6, must } from "../netns/sys.js";
import { validateLabSpec, type LabSpec } from "../spec.js";
import { dockerArgv, dockerMust, dockerTry, runWithFileStdin } from "./docker.js";
import { defaultDindRoot, dindLayout, dindLayoutProblems, dindStateFileOf, LAB_LABEL, type DindHostLayout, type DindLayout } from "./layout.js";
import { engineStoreFile, ensureNodeImage, nodeRecipe, probePull, restoreEngineStore, saveEngineStore, type NodeImage } from "./node-image.js";
import {
  INNER_DOCKERD_LOG,
  LOAD_IMAGE_SCRIPT,
  NODE_HOST_DIR,
  NODE_READY,
  START_ENGINE_SCRIPT,
  STOP_ENGINE_SCRIPT,
  SUPERVISOR_SCRIPT,
  WIRE_SCRIPT,
} from "./node-scripts.js";
import { privateEnginePaths, probeMachineEngine, startPrivateEngine } from "./outer-engine.js";
import { apparmorEnabled, isCapsError, missingBoundingCaps } from "./privileges.js";
import {
  DindStateStore,
  newDindLabState,
  readDindLabState,
  type DindLabState,
  type DindRecordedRule,
  type NodeRule,
  type PrivateEngineState,
  type PrivilegeMode,
  type SwitchAccess,
} from "./state.js";
import { downFromState, switchArgv, type DindTeardownOptions, type DindTeardownReport } from "./teardown.js";
import { configureTestcontainers, ryukImage } from "./testcontainers-env.js";

export { downFromState, type DindTeardownOptions, type DindTeardownReport } from "./teardown.js";
export { LabError, LabTeardownError } from "../netns/errors.js";

export type DindProgressStep = "prepare" | "engine" | "testcontainers" | "image" | "switch" | "privileges" | "node" | "engine-ready" | "ready" | "rollback";

export interface DindProgressEvent {
  readonly step: DindProgressStep;
  /** Milliseconds since up() started. */
  readonly atMs: number;
  readonly message: string;
  readonly host?: string;
  readonly segment?: string;
}

export interface DindUpOptions {
  readonly onProgress?: (event: DindProgressEvent) => void;
  /** "machine": the machine's engine or fail; "private": always start our own; default "auto" (the machine's when one answers). */
  readonly engine?: "auto" | "machine" | "private";
  /** Node image: "build" never pulls docker:dind, "pull" never builds; default "auto". */
  readonly nodeImage?: "auto" | "build" | "pull";
  /** Image cache (default ${XDG_CACHE_HOME:-~/.cache}/crosshost). */
  readonly cacheDir?: string;
  /** Limit for each dockerd (outer and inner) to answer; default 60 s. */
  readonly engineTimeoutMs?: number;
  /** Leave a half-built lab in place when up fails (default: tear it down, then throw). */
  readonly keepOnFailure?: boolean;
}

export interface DindLabOptions {
  /** Parent of lab directories (state files); default /var/lib/crosshost/dind as root. */
  readonly root?: string;
}

export interface DindHostStatus {
  readonly name: string;
  readonly container: string;
  readonly running: boolean;
  readonly engineRunning: boolean;
  readonly cut: boolean;
}

export interface DindLabStatus {
  readonly lab: string;
  readonly stateFile: string;
  readonly exists: boolean;
  readonly engine?: string;
  readonly nodeImage?: string;
  readonly privileges?: PrivilegeMode;
  readonly hosts: readonly DindHostStatus[];
  readonly segments: readonly { readonly name: string; readonly network: string; readonly bridge: string; readonly mtu?: number }[];
}

export type PortProto = "tcp" | "udp";

type Say = (step: DindProgressStep, message: string, where?: { host?: string; segment?: string }) => void;

/**
 * A lab of docker-in-docker nodes: each plan host is a container (started with testcontainers) running its
 * own dockerd, on one internal Docker network per plan segment. Uses the machine's Docker engine when one
 * answers, else starts a private one in a network namespace of its own.
 */
export class DindLab {
  readonly root: string;

  constructor(options: DindLabOptions = {}) {
    this.root = options.root ?? defaultDindRoot();
  }

  static up(spec: LabSpec, options: DindUpOptions = {}): Promise<StartedDindLab> {
    return new DindLab().up(spec, options);
  }

  stateFileOf(lab: string): string {
    return dindStateFileOf(this.root, lab);
  }

  /** Builds the lab; on failure tears down what was built (unless keepOnFailure) and throws a LabError. */
  async up(spec: LabSpec, options: DindUpOptions = {}): Promise<StartedDindLab> {
    const t0 = Date.now();
    const say: Say = (step, message, where = {}) => options.onProgress?.({ step, atMs: Date.now() - t0, message, ...where });
    const specProblems = validateLabSpec(spec);
    if (specProblems.length > 0) throw new LabError(`invalid lab spec:\n  - ${specProblems.join("\n  - ")}`);
    const layout = dindLayout(spec, this.root);
    const layoutIssues = dindLayoutProblems(spec, layout);
    if (layoutIssues.length > 0) throw new LabError(`lab ${spec.name} cannot be laid out on Docker networks:\n  - ${layoutIssues.join("\n  - ")}`);

    await mkdir(this.root, { recursive: true });
    try {
      await mkdir(layout.labDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if ((await readdir(layout.labDir)).length > 0) {
        throw new LabError(`lab ${spec.name} already exists at ${layout.labDir}; tear it down first (state: ${layout.stateFile})`);
      }
    }
    const store = new DindStateStore(layout.stateFile, newDindLabState(spec, layout), false);
    await store.update((s) => {
      s.labDirCreated = true;
    });
    await store.enablePersistence();
    say("prepare", `state in ${layout.stateFile}`);

    try {
      await build(store, say, options, this.root);
    } catch (e) {
      if (options.keepOnFailure) throw e;
      say("rollback", `up failed, tearing down: ${(e as Error).message.split("\n")[0] ?? ""}`);
      try {
        await downFromState(layout.stateFile);
      } catch (down) {
        throw new LabError(`${(e as Error).message}\n  and the rollback failed too: ${(down as Error).message}`);
      }
      throw e;
    }
    say("ready", `lab ${spec.name} up in ${Date.now() - t0} ms`);
    return new StartedDindLab(store);
  }

  /** Reattaches to a lab that is up (e.g. from another process). */
  async attach(lab: string): Promise<StartedDindLab> {
    const file = this.stateFileOf(lab);
    const state = await readDindLabState(file).catch((e: unknown) => {
      throw new LabError(`dind lab ${lab} is not up here (no readable state at ${file}): ${(e as Error).message}`);
    });
    return new StartedDindLab(new DindStateStore(file, state, true));
  }

  async status(lab: string): Promise<DindLabStatus> {
    const file = this.stateFileOf(lab);
    if (!(await access(file).then(() => true, () => false))) return { lab, stateFile: file, exists: false, hosts: [], segments: [] };
    return statusOf(await readDindLabState(file), file);
  }

  down(lab: string, options: DindTeardownOptions = {}): Promise<DindTeardownReport> {
    return downFromState(this.stateFileOf(lab), options);
  }
}

async function build(store: DindStateStore, say: Say, options: DindUpOptions, root: string): Promise<void> {
  const { layout } = store.state;
  const engineTimeoutMs = options.engineTimeoutMs ?? 60_000;

  // 1. the outer engine
  const choice = options.engine ?? "auto";
  let dockerHost: string | undefined;
  let isPrivate = false;
  if (choice !== "private") {
    const probe = await probeMachineEngine();
    if (probe.ok) {
      dockerHost = probe.dockerHost;
      await store.update((s) => {
        s.engine = { kind: "machine", dockerHost: probe.dockerHost };
      });
      say("engine", `using the machine's Docker engine at ${probe.dockerHost} (${probe.version})`);
    } else if (choice === "machine") {
      throw new LabError(`the machine's Docker engine does not answer: ${probe.reason}`);
    } else {
      say("engine", `the machine has no Docker engine (${probe.reason}): starting a private dockerd in its own network namespace`);
    }
  }
  let storeFile: string | undefined;
  let restored = false;
  if (dockerHost === undefined) {
    const e = privateEnginePaths(layout);
    await store.update((s) => {
      s.engine = e;
    });
    const recorded = store.state.engine as PrivateEngineState;
    if (options.nodeImage !== "pull") storeFile = await engineStoreFile(await nodeRecipe(options.cacheDir, (m) => say("image", m)));
    const version = await startPrivateEngine(recorded, (fn) => store.update(() => fn(recorded)), engineTimeoutMs, async () => {
      const t = Date.now();
      if (storeFile !== undefined && (await restoreEngineStore(storeFile, e.dataRoot))) {
        restored = true;
        say("image", `node image store restored from ${storeFile} into the tmpfs data root (${Date.now() - t} ms)`);
      }
    });
    dockerHost = e.dockerHost;
    isPrivate = true;
    say("engine", `private dockerd ${version} answers on ${e.socket} (netns ${e.netns}, data root on tmpfs, log ${e.logFile})`);
  }
  const host = dockerHost;

  // 2. testcontainers' environment, only what this machine needs
  let pullable: boolean | undefined;
  const mayPull = async (): Promise<boolean> => (pullable ??= !isPrivate && (await probePull(host)));
  const ryukPresent = (await dockerTry(host, ["image", "inspect", ryukImage(), "--format", "{{.Id}}"], 30_000)).code === 0;
  const hasBridge = (await dockerTry(host, ["network", "inspect", "bridge", "--format", "{{.Id}}"], 30_000)).code === 0;
  const tc = await configureTestcontainers({
    dockerHost: host,
    ...(isPrivate ? { privateEngine: { root, socket: (store.state.engine as PrivateEngineState).socket } } : {}),
    ryukAvailable: ryukPresent || (await mayPull()),
    hasBridgeNetwork: hasBridge,
  });
  if (tc.link !== undefined) {
    const link = tc.link;
    await store.update((s) => s.tcLinks.push(link));
  }
  say("testcontainers", tc.settings.length > 0 ? `set ${tc.settings.join("; ")}` : "no environment needed");

  // 3. node image
  const image = await ensureNodeImage(host, {
    mayPull: await mayPull(),
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    ...(options.nodeImage !== undefined ? { prefer: options.nodeImage } : {}),
    onProgress: (m) => say("image", m),
  });
  await store.update((s) => {
    s.nodeImage = { tag: image.tag, source: image.source, baked: image.baked };
  });
  if (isPrivate && storeFile !== undefined && !restored && image.flavor === "debian" && (image.source === "cache" || image.source === "built")) {
    // now, while the data root holds the node image and nothing else
    const t = Date.now();
    await saveEngineStore((store.state.engine as PrivateEngineState).dataRoot, storeFile);
    say("image", `saved the image store to ${storeFile} for the next private engine (${Date.now() - t} ms)`);
  }
  say("image", `node image ${image.tag}: ${restored ? "built earlier, in the private engine's restored image store" : describeImageSource(image)} (${image.ms} ms)${image.notes.length > 0 ? `; ${image.notes.join("; ")}` : ""}`);

  // 4. switches: one internal network per segment
  for (const seg of layout.segments) {
    await store.update((s) => s.networks.push(seg.network));
    await dockerMust(host, [
      "network", "create", "--driver", "bridge", "--internal",
      "--subnet", seg.subnet, "--gateway", seg.gateway,
      "-o", `com.docker.network.bridge.name=${seg.bridge}`,
      "-o", `com.docker.network.driver.mtu=${seg.mtu}`,
      "--label", `${LAB_LABEL}=${layout.lab}`, "--label", `${OWNED_LABEL}=true`,
      seg.network,
    ], { host: `(switch ${seg.name})` });
    const access = await switchAccessFor(store.state, seg.bridge, image.tag);
    if (store.state.switchAccess === undefined) await store.update((s) => (s.switchAccess = access));
    if (access.kind !== "helper") {
      // the engine's netns takes no part in the lab: the bridge keeps no address (Docker gave it the gateway's)
      await must(switchArgv(access, host, ["ip", "addr", "flush", "dev", seg.bridge]), { host: `(switch ${seg.name})` });
      if (access.kind === "root") await disableIpv6(seg.bridge);
      // P1 (lab-notes 1a/4b): br_netfilter + a FORWARD policy of DROP (or Docker's isolation rules for
      // other subnets, as macvlan containers use) would drop traffic bridged between two nodes
      const rule: DindRecordedRule = {
        where: access,
        table: "filter",
        chain: "FORWARD",
        rule: ["-i", seg.bridge, "-o", seg.bridge, "-m", "comment", "--comment", `crosshost lab=${layout.lab} segment=${seg.name}`, "-j", "ACCEPT"],
      };
      await store.update((s) => s.rules.push(rule));
      await must(switchArgv(access, host, ["iptables", "-w", "-t", rule.table, "-I", rule.chain, "1", ...rule.rule]), { host: `(switch ${seg.name})` });
    }
    say("switch", `network ${seg.network}: ${seg.subnet}, mtu ${seg.mtu}, internal, bridge ${seg.bridge} (${describeAccess(access)})`, { segment: seg.name });
  }

  // 5. privileges, detected
  let privileges = await decidePrivileges(isPrivate);
  if (privileges !== "try") say("privileges", describePrivileges(privileges));

  // 6. nodes: the first alone when privileged mode has to be tried, then the rest in parallel
  const start = async (h: DindHostLayout, mode: PrivilegeMode): Promise<void> => {
    await startNode(store, host, image, h, mode, engineTimeoutMs);
    say("node", `container ${h.container} up (${mode.mode})`, { host: h.name });
  };
  const hosts = [...layout.hosts];
  if (privileges === "try") {
    const first = hosts.shift();
    if (first) {
      try {
        await start(first, { mode: "privileged" });
        privileges = { mode: "privileged" };
        say("privileges", "privileged containers work on this engine");
      } catch (e) {
        if (!isCapsError((e as Error).message)) throw e;
        await dockerTry(host, ["rm", "-f", first.container], 60_000);
        const missing = (await missingBoundingCaps()) ?? [];
        if (missing.length === 0) {
          throw new LabError(`privileged containers fail on ${host} (${(e as Error).message.split("\n")[0] ?? ""}) and this machine's bounding set lacks no capability to drop`);
        }
        privileges = { mode: "pseudo", dropped: missing, why: `privileged mode failed (${(e as Error).message.split("\n")[0] ?? ""})` };
        say("privileges", describePrivileges(privileges));
        await start(first, privileges);
      }
    }
  }
  const mode = privileges === "try" ? ({ mode: "privileged" } as const) : privileges;
  await store.update((s) => (s.privileges = mode));
  await settleAll(hosts.map((h) => start(h, mode)));

  // 7. wiring and inner engines, in parallel
  const lab = new StartedDindLab(store);
  await settleAll(
    layout.hosts.map(async (h) => {
      const t = Date.now();
      await wireNode(lab, host, h);
      await lab.startEngine(h.name, { timeoutMs: engineTimeoutMs });
      say("engine-ready", `${h.nics.map((n) => `${n.name} ${n.address}/${n.prefix}`).join(", ")}; inner dockerd answers after ${Date.now() - t} ms`, { host: h.name });
    }),
  );
}

/** Awaits all; throws the first failure only once nothing is still running (so rollback races nothing). */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

function describeImageSource(image: NodeImage): string {
  switch (image.source) {
    case "engine":
      return "built earlier, already in the engine";
    case "cache":
      return "built earlier, imported from the cached rootfs tar";
    case "built":
      return "built now from Debian packages with mmdebstrap, cached by content";
    case "present":
      return "the public docker:dind image, already in the engine";
    case "pulled":
      return "the public docker:dind image, pulled now";
  }
}

function describeAccess(a: SwitchAccess): string {
  switch (a.kind) {
    case "netns":
      return `in netns ${a.netns}`;
    case "root":
      return "in this machine's root netns";
    case "helper":
      return "engine not on this machine: switch faults through a --network host helper container";
  }
}

function describePrivileges(p: PrivilegeMode): string {
  return p.mode === "privileged"
    ? "privileged nodes"
    : `pseudo-privileged nodes (all capabilities but ${p.dropped.join(", ")}, seccomp unconfined, device cgroup rule, no masked paths, cgroups remounted rw): ${p.why}`;
}

/**
 * A private engine runs on this machine with our own bounding set, so reading CapBnd decides; for the
 * machine's engine (whose process may be out of reach) privileged mode is tried on the first node.
 */
async function decidePrivileges(isPrivate: boolean): Promise<PrivilegeMode | "try"> {
  if (!isPrivate) return "try";
  const missing = await missingBoundingCaps();
  if (missing === undefined) return "try";
  if (missing.length === 0) return { mode: "privileged" };
  return { mode: "pseudo", dropped: missing, why: `the capability bounding set lacks CAP_${missing.join(", CAP_")}, so --privileged cannot work` };
}

async function switchAccessFor(state: DindLabState, bridge: string, image: string): Promise<SwitchAccess> {
  const e = state.engine;
  if (e?.kind === "private") return { kind: "netns", netns: e.netns };
  const here = await runArgv(["ip", "link", "show", "dev", bridge], { timeoutMs: 10_000 });
  return here.code === 0 ? { kind: "root" } : { kind: "helper", image };
}

/** A testcontainers GenericContainer with a fixed address on its network (the name is recorded before it is created). */
class NodeContainer extends GenericContainer {
  /** Plan address and host-name alias on the first network (testcontainers has no builder for either). */
  onNetwork(network: string, address: string, alias: string): this {
    this.withNetworkMode(network);
    this.createOpts.NetworkingConfig = { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: address }, Aliases: [alias] } } };
    return this;
  }

  /** The pseudo-privileged recipe's parts that have no builder method (lab-notes 4c). */
  withHostConfig(extra: Record<string, unknown>): this {
    Object.assign(this.hostConfig, extra);
    return this;
  }
}

async function startNode(store: DindStateStore, dockerHost: string, image: NodeImage, h: DindHostLayout, mode: PrivilegeMode, timeoutMs: number): Promise<void> {
  const { layout } = store.state;
  if (!store.state.containers.includes(h.container)) await store.update((s) => s.containers.push(h.container));
  const firstNic = h.nics.find((n) => n.segment !== undefined);
  const firstSeg = layout.segments.find((s) => s.name === firstNic?.segment);
  const c = new NodeContainer(image.tag)
    .withName(h.container)
    .withHostname(h.name)
    .withLabels({ [LAB_LABEL]: layout.lab, [OWNED_LABEL]: "true" })
    // overlay2 for the inner engine (lab-notes 4d): overlay on overlay fails, overlay on tmpfs works
    .withTmpFs({ "/var/lib/docker": "rw,exec" })
    .withEntrypoint(["sh", "-c", SUPERVISOR_SCRIPT, "crosshost-node", mode.mode === "pseudo" ? "1" : "0"])
    .withCommand([])
    .withWaitStrategy(Wait.forLogMessage(NODE_READY))
    .withStartupTimeout(timeoutMs);
  if (firstNic && firstSeg) c.onNetwork(firstSeg.network, firstNic.address, h.name);
  else c.withNetworkMode("none");
  if (mode.mode === "privileged") {
    c.withPrivilegedMode();
  } else {
    c.withAddedCapabilities("ALL")
      .withDroppedCapabilities(...mode.dropped)
      .withSecurityOpt("seccomp=unconfined", ...((await apparmorEnabled()) ? ["apparmor=unconfined"] : []))
      // `--security-opt systempaths=unconfined` exists only in the CLI, which sends these two (lab-notes 4c)
      .withHostConfig({ DeviceCgroupRules: ["a *:* rwm"], MaskedPaths: [], ReadonlyPaths: [] });
  }
  try {
    await c.start();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new LabError(`node container ${h.container} did not start: ${msg}`, { host: h.name, command: dockerArgv(dockerHost, ["run", image.tag]) });
  }
}

async function wireNode(lab: StartedDindLab, dockerHost: string, h: DindHostLayout): Promise<void> {
  const { layout } = lab;
  const firstNic = h.nics.find((n) => n.segment !== undefined);
  const words: string[] = [];
  for (const n of h.nics) {
    const seg = layout.segments.find((s) => s.name === n.segment);
    if (!seg) {
      words.push("dummy", n.address, String(n.prefix), n.name, String(n.mtu));
      continue;
    }
    if (n !== firstNic) {
      await dockerMust(dockerHost, ["network", "connect", "--ip", n.address, "--alias", h.name, seg.network, h.container], { host: h.name });
    }
    words.push("nic", n.address, n.name, String(n.mtu));
  }
  for (const r of h.routes) words.push("route", r.to, r.via ?? "-", r.dev ?? "-");
  const t = lab.transport(h.name);
  const r = await t.exec(["sh", "-c", WIRE_SCRIPT, "crosshost-wire", ...words], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new LabError("wiring the node's NICs failed", { host: h.name, command: shown(["sh", "-c", WIRE_SCRIPT, "crosshost-wire", ...words]), code: r.code, stderr: r.stderr });
}

/** A running dind lab; every fault primitive records what it changes in the state file. */
export class StartedDindLab implements StartedLab {
  readonly backend = "dind" as const;
  readonly name: string;
  readonly hosts: readonly string[];
  readonly labDir: string;
  readonly stateFile: string;
  readonly #store: DindStateStore;
  readonly #transports = new Map<string, DindTransport>();

  constructor(store: DindStateStore) {
    this.#store = store;
    const { layout } = store.state;
    this.name = layout.lab;
    this.hosts = layout.hosts.map((h) => h.name);
    this.labDir = layout.labDir;
    this.stateFile = layout.stateFile;
  }

  get layout(): DindLayout {
    return this.#store.state.layout;
  }

  /** The outer engine ("unix:///…"): the machine's, or the lab's private one. */
  get dockerHost(): string {
    const e = this.#store.state.engine;
    if (!e) throw new LabError(`lab ${this.name} has no outer engine recorded`);
    return e.dockerHost;
  }

  get engineKind(): "machine" | "private" | undefined {
    return this.#store.state.engine?.kind;
  }

  get nodeImage(): string | undefined {
    return this.#store.state.nodeImage?.tag;
  }

  get privileges(): PrivilegeMode | undefined {
    return this.#store.state.privileges;
  }

  get switchAccess(): SwitchAccess | undefined {
    return this.#store.state.switchAccess;
  }

  /** Name of the host's node container in the outer engine. */
  containerOf(host: string): string {
    return this.#host(host).container;
  }

  /** Runs argv inside the host's node with `docker exec`; `docker` there reaches the node's own dockerd. */
  transport(host: string): Transport {
    let t = this.#transports.get(host);
    if (!t) {
      t = new DindTransport({ host, container: this.#host(host).container, dockerHost: this.dockerHost });
      this.#transports.set(host, t);
    }
    return t;
  }

  /**
   * `docker import`s the image inside the node: from the tar baked into the node image when it is there
   * (no copying), else streamed from this machine's cache through `docker exec -i`.
   */
  async loadImage(host: string, image: BuiltImage): Promise<boolean> {
    const h = this.#host(host);
    const changes = image.changes.flatMap((c) => ["--change", c]);
    const baked = `/opt/crosshost/images/${basename(image.tar)}`;
    const argv = ["sh", "-c", LOAD_IMAGE_SCRIPT, "crosshost-load", image.tag, image.contentHash, baked, HASH_LABEL, ...changes];
    const r = await this.transport(host).exec(argv, { timeoutMs: 300_000 });
    if (r.code === 3) return false;
    if (r.code === 0) return true;
    if (r.code !== 4) throw new LabError(`docker import of ${image.tag} inside the node failed`, { host, command: shown(argv), code: r.code, stderr: r.stderr });
    const stream = dockerArgv(this.dockerHost, ["exec", "-i", h.container, "docker", "import", ...changes, "-", image.tag]);
    const s = await runWithFileStdin(stream, image.tar, 600_000);
    if (s.code !== 0) throw new LabError(`streaming ${image.tar} into the node's engine failed`, { host, command: stream, code: s.code, stderr: s.stderr });
    return true;
  }

  /** A directory inside the node (its own filesystem view) for files crosshost writes there. */
  hostDir(host: string): string {
    this.#host(host);
    return NODE_HOST_DIR;
  }

  status(): Promise<DindLabStatus> {
    return statusOf(this.#store.state, this.stateFile);
  }

  async down(options: DindTeardownOptions = {}): Promise<DindTeardownReport> {
    await Promise.all([...this.#transports.values()].map((t) => t.close()));
    this.#transports.clear();
    return downFromState(this.stateFile, options);
  }

  /**
   * Stops the node's dockerd: SIGTERM as a service stop (default), SIGKILL as a crash; either way what is
   * left of the engine (containerd, shims, its containers) is then killed. The node itself keeps running.
   */
  async stopEngine(host: string, options: { signal?: "SIGTERM" | "SIGKILL"; graceMs?: number } = {}): Promise<void> {
    const sig = options.signal === "SIGKILL" ? "KILL" : "TERM";
    const grace = Math.ceil((options.graceMs ?? 20_000) / 1000);
    const argv = ["sh", "-c", STOP_ENGINE_SCRIPT, "crosshost-stop-engine", sig, String(grace)];
    const r = await this.transport(host).exec(argv, { timeoutMs: (grace + 15) * 1000 });
    if (r.code !== 0) throw new LabError("stopping the node's dockerd failed", { host, command: shown(argv), code: r.code, stderr: r.stderr });
  }

  /** Starts the node's dockerd again (its data on the node's tmpfs survives: images, containers, swarm state). */
  async startEngine(host: string, options: { timeoutMs?: number } = {}): Promise<void> {
    const seconds = Math.ceil((options.timeoutMs ?? 60_000) / 1000);
    const argv = ["sh", "-c", START_ENGINE_SCRIPT, "crosshost-start-engine", String(seconds)];
    const r = await this.transport(host).exec(argv, { timeoutMs: (seconds + 10) * 1000 });
    if (r.code === 2) throw new LabError("dockerd already runs", { host, command: shown(argv), stderr: r.stderr });
    if (r.code !== 0) {
      throw new LabError(r.code === TIMEOUT_EXIT_CODE ? "the node's dockerd did not start in time" : "the node's dockerd did not start", {
        host, command: shown(argv), code: r.code, stderr: `${r.stderr}\n(log inside the node: ${INNER_DOCKERD_LOG})`,
      });
    }
  }

  /** Pulls the host's cables: its switch ports (the outer veth ends) go down; its address stays. */
  async cutHost(host: string): Promise<void> {
    for (const port of await this.#ports(host)) await this.#switch(["ip", "link", "set", "dev", port, "down"], host);
    await this.#store.update((s) => {
      if (!s.cut.includes(host)) s.cut.push(host);
    });
  }

  /** Plugs the cables back in and returns once the node's NICs see carrier again (the kernel takes up to about 1 s). */
  async restoreHost(host: string): Promise<void> {
    for (const port of await this.#ports(host)) await this.#switch(["ip", "link", "set", "dev", port, "up"], host);
    await this.#store.update((s) => {
      s.cut = s.cut.filter((x) => x !== host);
    });
    const nics = this.#host(host).nics.filter((n) => n.segment !== undefined).map((n) => `/sys/class/net/${n.name}/operstate`);
    const wait = ["sh", "-c", 'for i in $(seq 50); do grep -qv "^up$" "$@" || exit 0; sleep 0.1; done; exit 1', "sh", ...nics];
    const r = await this.transport(host).exec(wait, { timeoutMs: 15_000 });
    if (r.code !== 0) throw new LabError("the node's NICs did not come back up within 5 s", { host, command: wait, code: r.code, stderr: r.stderr });
  }

  /** Sets the switch MTU: the outer bridge and all its ports, so larger frames are dropped as by a real switch. */
  async setSegmentMtu(segment: string, mtu: number): Promise<void> {
    const seg = this.layout.segments.find((s) => s.name === segment);
    if (!seg) throw new LabError(`no segment ${JSON.stringify(segment)} in lab ${this.name}`);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new LabError(`MTU ${mtu} out of range`);
    const ports = JSON.parse((await this.#switch(["ip", "-j", "link", "show", "master", seg.bridge])).stdout || "[]") as { ifname: string }[];
    for (const p of ports) await this.#switch(["ip", "link", "set", "dev", p.ifname, "mtu", String(mtu)]);
    await this.#switch(["ip", "link", "set", "dev", seg.bridge, "mtu", String(mtu)]);
    await this.#store.update((s) => {
      s.segmentMtu[segment] = mtu;
    });
  }

  /** Drops packets from fromHost's addresses to proto/port on toHost (raw PREROUTING inside toHost's node). */
  async blockPort(fromHost: string, toHost: string, proto: PortProto, port: number): Promise<void> {
    for (const rule of this.#blockRules(fromHost, toHost, proto, port)) {
      if (this.#store.state.nodeRules.some((r) => sameRule(r, rule))) continue;
      await this.#store.update((s) => s.nodeRules.push(rule));
      await this.#nodeMust(toHost, ["iptables", "-w", "-t", rule.table, "-I", rule.chain, "1", ...rule.rule]);
    }
  }

  async unblockPort(fromHost: string, toHost: string, proto: PortProto, port: number): Promise<void> {
    for (const rule of this.#blockRules(fromHost, toHost, proto, port)) {
      if (!this.#store.state.nodeRules.some((r) => sameRule(r, rule))) continue;
      await this.#nodeMust(toHost, ["iptables", "-w", "-t", rule.table, "-D", rule.chain, ...rule.rule]);
      await this.#store.update((s) => {
        s.nodeRules = s.nodeRules.filter((r) => !sameRule(r, rule));
      });
    }
  }

  #blockRules(fromHost: string, toHost: string, proto: PortProto, port: number): NodeRule[] {
    const from = this.#host(fromHost);
    this.#host(toHost);
    if (proto !== "tcp" && proto !== "udp") throw new LabError(`protocol must be tcp or udp, got ${String(proto)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LabError(`port ${port} out of range`);
    return from.nics.map((n) => ({
      host: toHost,
      table: "raw",
      chain: "PREROUTING",
      rule: ["-s", `${n.address}/32`, "-p", proto, "--dport", String(port), "-m", "comment", "--comment", `crosshost lab=${this.name} block from=${fromHost}`, "-j", "DROP"],
    }));
  }

  async #nodeMust(host: string, argv: string[]): Promise<void> {
    const r = await this.transport(host).exec(argv, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new LabError("command inside the node failed", { host, command: argv, code: r.code, stderr: r.stderr });
  }

  /** The outer veth ends of the host's segment NICs: found by the peer index each NIC reports inside the node. */
  async #ports(host: string): Promise<string[]> {
    const h = this.#host(host);
    const links = JSON.parse((await this.#switch(["ip", "-j", "link", "show"], host)).stdout || "[]") as { ifindex: number; ifname: string }[];
    const ports: string[] = [];
    for (const n of h.nics) {
      if (n.segment === undefined) continue;
      const r = await this.transport(host).exec(["cat", `/sys/class/net/${n.name}/iflink`], { timeoutMs: 15_000 });
      const index = Number(r.stdout.trim());
      const port = links.find((l) => l.ifindex === index)?.ifname;
      if (r.code !== 0 || port === undefined) {
        throw new LabError(`cannot find the switch port of ${n.name}`, { host, command: ["cat", `/sys/class/net/${n.name}/iflink`], code: r.code, stderr: r.stderr || `no link with index ${index} at the switch` });
      }
      ports.push(port);
    }
    return ports;
  }

  async #switch(argv: readonly string[], host?: string): Promise<{ stdout: string }> {
    const access = this.#store.state.switchAccess;
    if (!access) throw new LabError(`lab ${this.name} has no switch recorded`);
    return must(switchArgv(access, this.dockerHost, argv), { host: host ?? "(switch)" });
  }

  #host(host: string): DindHostLayout {
    const h = this.layout.hosts.find((x) => x.name === host);
    if (!h) throw new LabError(`no host ${JSON.stringify(host)} in lab ${this.name} (hosts: ${this.hosts.join(", ")})`);
    return h;
  }
}

/** argv for error messages: a script passed with `sh -c` is shown by its name, not its text. */
function shown(argv: readonly string[]): string[] {
  return argv.map((a, i) => (a.includes("\n") ? `<${argv[i + 1] ?? "script"} script>` : a));
}

function sameRule(a: NodeRule, b: NodeRule): boolean {
  return a.host === b.host && a.table === b.table && a.chain === b.chain && a.rule.join("\0") === b.rule.join("\0");
}

async function statusOf(state: DindLabState, stateFile: string): Promise<DindLabStatus> {
  const { layout } = state;
  const dockerHost = state.engine?.dockerHost;
  const hosts = await Promise.all(
    layout.hosts.map(async (h): Promise<DindHostStatus> => {
      let running = false;
      let engineRunning = false;
      if (dockerHost !== undefined) {
        running = (await dockerTry(dockerHost, ["inspect", "--format", "{{.State.Running}}", h.container], 15_000)).stdout.trim() === "true";
        if (running) engineRunning = (await dockerTry(dockerHost, ["exec", h.container, "docker", "version", "--format", "{{.Server.Version}}"], 15_000)).code === 0;
      }
      return { name: h.name, container: h.container, running, engineRunning, cut: state.cut.includes(h.name) };
    }),
  );
  const segments = await Promise.all(
    layout.segments.map(async (s) => {
      let mtu: number | undefined;
      if (state.switchAccess) {
        const r = await runArgv(switchArgv(state.switchAccess, dockerHost, ["ip", "-j", "link", "show", "dev", s.bridge]), { timeoutMs: 30_000 });
        if (r.code === 0) mtu = (JSON.parse(r.stdout || "[]") as { mtu: number }[])[0]?.mtu;
      }
      return { name: s.name, network: s.network, bridge: s.bridge, ...(mtu !== undefined ? { mtu } : {}) };
    }),
  );
  return {
    lab: layout.lab,
    stateFile,
    exists: true,
    ...(dockerHost !== undefined ? { engine: `${state.engine?.kind} ${dockerHost}` } : {}),
    ...(state.nodeImage ? { nodeImage: `${state.nodeImage.tag} (${state.nodeImage.source})` } : {}),
    ...(state.privileges ? { privileges: state.privileges } : {}),
    hosts,
    segments,
  };
}

