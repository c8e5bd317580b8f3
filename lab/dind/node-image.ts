import { createHash, randomBytes } from "node:crypto";
import { access, mkdir, rename, rm } from "node:fs/promises";
import { basename } from "node:path";
import { shellQuote } from "../../src/drivers/transport.js";
import { runArgv } from "../../src/drivers/transports/local-transport.js";
import {
  buildBusyboxImage,
  buildConsulImage,
  crosshostCacheDir,
  HASH_LABEL,
  IMAGE_PATH,
  OWNED_LABEL,
  readAptMirror,
  type BuiltImage,
} from "../images.js";
import { LabError } from "../netns/errors.js";
import { dockerMust, dockerTry, engineGet } from "./docker.js";

/** The public image used where the engine can pull it. */
export const PULL_IMAGE = "docker:dind";
/** Debian suite and packages of a locally built node (lab-notes 4a), plus iputils-ping for DF pings. */
export const NODE_SUITE = "bookworm";
export const NODE_PACKAGES = ["docker.io", "iproute2", "iptables", "busybox", "iputils-ping"] as const;
/** Where workload image tars are baked into a built node, for `docker import` inside it without copying. */
export const BAKED_DIR = "/opt/crosshost/images";
// bump when the recipe changes in a way the inputs below do not capture
const NODE_RECIPE_VERSION = "1";
// docker.io ships tools the lab never runs; dropping them makes every import of the node image faster
const REMOVED = ["/usr/bin/ctr", "/usr/bin/dnet", "/usr/sbin/ovrouter", "/usr/bin/containerd-shim", "/usr/bin/containerd-shim-runc-v1"];
const EXCLUDED = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*"];

export interface NodeImage {
  readonly tag: string;
  /**
   * engine: already in the outer engine; cache: imported from the cached rootfs tar; built: built now with
   * mmdebstrap; present: the public docker:dind image was already there; pulled: pulled now.
   */
  readonly source: "engine" | "cache" | "built" | "present" | "pulled";
  readonly flavor: "debian" | "docker-dind";
  /** Paths inside the node of the baked workload tars. */
  readonly baked: readonly string[];
  readonly ms: number;
  readonly notes: readonly string[];
}

export interface NodeImageOptions {
  readonly cacheDir?: string;
  readonly onProgress?: (message: string) => void;
  /** False for an engine that cannot reach any registry (a private engine has no network at all). */
  readonly mayPull: boolean;
  /** "build" never pulls, "pull" never builds; default "auto". */
  readonly prefer?: "auto" | "build" | "pull";
  /** Milliseconds for the pull probe (default 5000). */
  readonly pullProbeMs?: number;
}

export interface NodeRecipe {
  readonly tag: string;
  readonly hash: string;
  readonly tar: string;
  readonly workloads: readonly BuiltImage[];
  readonly notes: readonly string[];
}

/** The built node's identity: a hash over the recipe and the workload images baked into it. */
export async function nodeRecipe(cacheDir = crosshostCacheDir(), onProgress?: (m: string) => void): Promise<NodeRecipe> {
  const notes: string[] = [];
  const workloads: BuiltImage[] = [];
  for (const [name, build] of [["busybox", buildBusyboxImage], ["consul", buildConsulImage]] as const) {
    try {
      workloads.push(await build({ cacheDir, ...(onProgress ? { onProgress } : {}) }));
    } catch (e) {
      notes.push(`${name} image not baked into the node (loadImage will stream it): ${(e as Error).message.split("\n")[0] ?? ""}`);
    }
  }
  const hash = createHash("sha256")
    .update(
      [
        `crosshost-node ${NODE_RECIPE_VERSION}`,
        `suite ${NODE_SUITE}`,
        `packages ${NODE_PACKAGES.join(",")}`,
        `excluded ${EXCLUDED.join(",")}`,
        `removed ${REMOVED.join(",")}`,
        ...workloads.map((w) => `baked ${basename(w.tar)} ${w.contentHash}`),
      ].join("\n"),
    )
    .digest("hex");
  return { tag: `crosshost/node:${hash.slice(0, 16)}`, hash, tar: `${cacheDir}/images/node-${hash.slice(0, 16)}.tar`, workloads, notes };
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** mmdebstrap is there (a node can be built here). */
export async function canBuildNode(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const r = await runArgv(["mmdebstrap", "--version"], { timeoutMs: 15_000 });
  if (r.code !== 0) return { ok: false, reason: "mmdebstrap is not installed (Debian package mmdebstrap)" };
  if (!(await readAptMirror())) return { ok: false, reason: "no Debian mirror in /etc/apt/sources.list(.d) to build a node image from" };
  return { ok: true };
}

/** Can the engine pull docker:dind? Asks the registry for the manifest only, with a short timeout. */
export async function probePull(dockerHost: string, timeoutMs = 5_000): Promise<boolean> {
  return (await engineGet(dockerHost, `/distribution/${PULL_IMAGE}/json`, timeoutMs)) === 200;
}

/**
 * Makes a node image available in the outer engine and says which one and where it came from. Prefers
 * the built Debian node when it is already in the engine or cached, then docker:dind when it is there or
 * can be pulled, then builds the Debian node (mmdebstrap about 25-50 s, cached by content from then on).
 */
export async function ensureNodeImage(dockerHost: string, options: NodeImageOptions): Promise<NodeImage> {
  const t0 = Date.now();
  const cacheDir = options.cacheDir ?? crosshostCacheDir();
  const say = options.onProgress ?? (() => undefined);
  const prefer = options.prefer ?? "auto";
  const reasons: string[] = [];
  const recipe = prefer === "pull" ? undefined : await nodeRecipe(cacheDir, say);
  const debian = (source: NodeImage["source"]): NodeImage => ({
    tag: recipe?.tag ?? "",
    source,
    flavor: "debian",
    baked: (recipe?.workloads ?? []).map((w) => `${BAKED_DIR}/${basename(w.tar)}`),
    ms: Date.now() - t0,
    notes: recipe?.notes ?? [],
  });

  if (recipe) {
    const have = await dockerTry(dockerHost, ["image", "inspect", recipe.tag, "--format", `{{index .Config.Labels "${HASH_LABEL}"}}`], 30_000);
    if (have.code === 0 && have.stdout.trim() === recipe.hash) return debian("engine");
    if (await exists(recipe.tar)) {
      await importNode(dockerHost, recipe, say);
      return debian("cache");
    }
  }
  if (prefer !== "build") {
    const present = await dockerTry(dockerHost, ["image", "inspect", PULL_IMAGE, "--format", "{{.Id}}"], 30_000);
    if (present.code === 0) return { tag: PULL_IMAGE, source: "present", flavor: "docker-dind", baked: [], ms: Date.now() - t0, notes: [] };
    if (!options.mayPull) reasons.push("the engine cannot pull (a private engine has no network)");
    else if (!(await probePull(dockerHost, options.pullProbeMs))) reasons.push(`${PULL_IMAGE} cannot be pulled (no registry answered within ${(options.pullProbeMs ?? 5_000) / 1000} s)`);
    else {
      say(`pulling ${PULL_IMAGE}`);
      await dockerMust(dockerHost, ["pull", PULL_IMAGE], { timeoutMs: 600_000 });
      return { tag: PULL_IMAGE, source: "pulled", flavor: "docker-dind", baked: [], ms: Date.now() - t0, notes: [] };
    }
  }
  if (recipe) {
    const can = await canBuildNode();
    if (can.ok) {
      await buildNodeRootfs(recipe, say);
      await importNode(dockerHost, recipe, say);
      return debian("built");
    }
    reasons.push(can.reason);
  }
  throw new LabError(`no node image: ${reasons.join("; ")}`);
}

/** Builds the node rootfs tar with mmdebstrap from the mirror this machine's apt already uses (never a hard-coded one). */
export async function buildNodeRootfs(recipe: NodeRecipe, say: (m: string) => void): Promise<void> {
  const mirror = await readAptMirror();
  if (!mirror) throw new LabError("no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/ (needed to build the node image)");
  await mkdir(`${recipe.tar.slice(0, recipe.tar.lastIndexOf("/"))}`, { recursive: true });
  // mmdebstrap picks its output format from the name: keep ".tar" at the end and say so explicitly
  const tmp = `${recipe.tar.replace(/\.tar$/, "")}.tmp-${randomBytes(4).toString("hex")}.tar`;
  const source = `deb ${mirror.signedBy !== undefined ? `[signed-by=${mirror.signedBy}] ` : ""}${mirror.uri} ${NODE_SUITE} main`;
  const bake = recipe.workloads.map((w) => shellQuote(w.tar)).join(" ");
  const argv = [
    "mmdebstrap",
    "--variant=minbase",
    "--mode=root",
    "--format=tar",
    `--include=${NODE_PACKAGES.join(",")}`,
    '--aptopt=APT::Install-Recommends "false"',
    ...EXCLUDED.map((p) => `--dpkgopt=path-exclude=${p}`),
    `--customize-hook=rm -f ${REMOVED.map((p) => `"$1"${p}`).join(" ")}`,
    `--customize-hook=mkdir -p "$1"${BAKED_DIR}${bake !== "" ? ` && cp -- ${bake} "$1"${BAKED_DIR}/` : ""}`,
    NODE_SUITE,
    tmp,
    source,
  ];
  say(`building ${recipe.tag} with mmdebstrap (${NODE_SUITE} from ${mirror.uri}, read from ${mirror.from})`);
  try {
    const r = await runArgv(argv, { timeoutMs: 900_000 });
    if (r.code !== 0) throw new LabError("mmdebstrap failed to build the node image", { command: argv, code: r.code, stderr: (r.stderr || r.stdout).split("\n").slice(-15).join("\n") });
    await rename(tmp, recipe.tar);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function importNode(dockerHost: string, recipe: NodeRecipe, say: (m: string) => void): Promise<void> {
  say(`importing ${recipe.tag} into the outer engine`);
  const changes = [`LABEL ${OWNED_LABEL}=true`, `LABEL ${HASH_LABEL}=${recipe.hash}`, `ENV PATH=${IMAGE_PATH}`, `CMD ["sh"]`];
  await dockerMust(dockerHost, ["import", ...changes.flatMap((c) => ["--change", c]), recipe.tar, recipe.tag], { timeoutMs: 600_000 });
}

// ---------- a private engine's image store, cached (the node image without `docker import`) ----------

/**
 * Cache file of a private engine's image store holding just the node image: `image/` and `overlay2/` of a
 * data root right after the import. `docker import` of the 400 MB node takes about 6 s here; unpacking the
 * store into the new engine's tmpfs data root takes under 1 s. Keyed by recipe and dockerd version.
 */
export async function engineStoreFile(recipe: NodeRecipe): Promise<string | undefined> {
  const v = await runArgv(["dockerd", "--version"], { timeoutMs: 15_000 });
  const version = v.stdout.match(/Docker version ([^\s,]+)/)?.[1];
  if (v.code !== 0 || version === undefined) return undefined;
  return recipe.tar.replace(/\.tar$/, `.store-${version.replace(/[^A-Za-z0-9.+-]/g, "_")}.tar`);
}

/** Unpacks a cached image store into an empty data root; false when there is none. */
export async function restoreEngineStore(file: string, dataRoot: string): Promise<boolean> {
  if (!(await exists(file))) return false;
  const argv = ["tar", "-C", dataRoot, "-xf", file];
  const r = await runArgv(argv, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new LabError("could not unpack the cached node image store", { command: argv, code: r.code, stderr: r.stderr });
  return true;
}

/** Saves the image store of a data root that holds the freshly imported node image and nothing else yet. */
export async function saveEngineStore(dataRoot: string, file: string): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  const argv = ["tar", "-C", dataRoot, "-cf", tmp, "image", "overlay2"];
  try {
    const r = await runArgv(argv, { timeoutMs: 300_000 });
    if (r.code !== 0) throw new LabError("could not save the node image store", { command: argv, code: r.code, stderr: r.stderr });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}
