import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, chmod, copyFile, mkdir, open, readFile, readdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname } from "node:path";
import { runArgv } from "../src/drivers/transports/local-transport.js";
import { LabError } from "./netns/errors.js";

export const BUSYBOX_IMAGE = "crosshost/busybox:latest";
export const CONSUL_IMAGE = "crosshost/consul:1.8.7";
export const CONSUL_VERSION = "1.8.7";
/** Label on every image the project builds; teardown and the driver treat only such images as their own. */
export const OWNED_LABEL = "crosshost.owned";
/**
 * Workload images carry this, not OWNED_LABEL: labels of an image are inherited by every container run
 * from it, and a user's container must never look like one crosshost owns.
 */
export const IMAGE_LABEL = "crosshost.image";
export const HASH_LABEL = "crosshost.content-hash";
// bump when the recipe changes in a way the manifest does not capture
const RECIPE_VERSION = "1";
export const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** An image rootfs tar in the cache, ready for `docker import`. */
export interface BuiltImage {
  readonly tag: string;
  readonly tar: string;
  /** sha256 over the rootfs manifest (paths, modes, link targets, file contents); names the cached tar. */
  readonly contentHash: string;
  /** `docker import --change` instructions (labels, ENV, CMD). */
  readonly changes: readonly string[];
  /** True when the tar came from the cache. */
  readonly cached: boolean;
  readonly ms: number;
}

export interface ImageBuildOptions {
  /** Default `${XDG_CACHE_HOME:-$HOME/.cache}/crosshost`. */
  readonly cacheDir?: string;
  readonly onProgress?: (message: string) => void;
}

export function crosshostCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return `${xdg && xdg.startsWith("/") ? xdg : `${homedir()}/.cache`}/crosshost`;
}

// ---------- rootfs manifests ----------

type RootfsEntry =
  | { readonly kind: "dir"; readonly path: string; readonly mode: number }
  | { readonly kind: "file"; readonly path: string; readonly mode: number; readonly source: string; readonly sha256: string }
  | { readonly kind: "text"; readonly path: string; readonly mode: number; readonly text: string }
  | { readonly kind: "symlink"; readonly path: string; readonly target: string };

/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX_BINARY = "/bin/busybox";

async function busyboxEntries(): Promise<RootfsEntry[]> {
  const elf = await elfInfo(BUSYBOX_BINARY).catch((e: unknown) => {
    throw new LabError(`busybox not found at ${BUSYBOX_BINARY} (Debian package busybox-static): ${(e as Error).message}`);
  });
  if (elf.interpreter !== undefined) {
    throw new LabError(`${BUSYBOX_BINARY} is dynamically linked (${elf.interpreter}); install Debian's busybox-static instead of busybox`);
  }
  const list = await runArgv([BUSYBOX_BINARY, "--list-full"], { timeoutMs: 10_000 });
  if (list.code !== 0) throw new LabError("busybox --list-full failed", { command: [BUSYBOX_BINARY, "--list-full"], code: list.code, stderr: list.stderr });
  const entries: RootfsEntry[] = [
    ...["/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/etc", "/root", "/var", "/var/www", "/proc", "/sys", "/dev", "/home"].map(
      (path): RootfsEntry => ({ kind: "dir", path, mode: path === "/root" ? 0o700 : 0o755 }),
    ),
    { kind: "dir", path: "/tmp", mode: 0o1777 },
    { kind: "file", path: "/bin/busybox", mode: 0o755, source: BUSYBOX_BINARY, sha256: await sha256File(BUSYBOX_BINARY) },
    { kind: "text", path: "/etc/passwd", mode: 0o644, text: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" },
    { kind: "text", path: "/etc/group", mode: 0o644, text: "root:x:0:\nnogroup:x:65534:\n" },
    { kind: "text", path: "/var/www/index.html", mode: 0o644, text: "<!doctype html><title>crosshost</title><p>crosshost busybox httpd</p>\n" },
  ];
  for (const applet of list.stdout.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const path = `/${applet}`;
    if (path === "/bin/busybox" || path === "/linuxrc") continue;
    entries.push({ kind: "symlink", path, target: "/bin/busybox" });
  }
  return entries;
}

function manifestHash(entries: readonly RootfsEntry[]): string {
  const canonical = [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => {
      switch (e.kind) {
        case "dir":
          return `d ${e.path} ${e.mode.toString(8)}`;
        case "file":
          return `f ${e.path} ${e.mode.toString(8)} ${e.sha256}`;
        case "text":
          return `f ${e.path} ${e.mode.toString(8)} ${createHash("sha256").update(e.text).digest("hex")}`;
        case "symlink":
          return `l ${e.path} ${e.target}`;
      }
    });
  return createHash("sha256").update(`crosshost-rootfs ${RECIPE_VERSION}\n${canonical.join("\n")}`).digest("hex");
}

/** Returns the cached tar for these entries, or builds it (staging dir + GNU tar, deterministic order, owner root). */
async function tarFor(name: string, tag: string, entries: readonly RootfsEntry[], changes: string[], opts: ImageBuildOptions, t0: number): Promise<BuiltImage> {
  const cache = opts.cacheDir ?? crosshostCacheDir();
  const hash = manifestHash(entries);
  const tar = `${cache}/images/${name}-${hash.slice(0, 16)}.tar`;
  const allChanges = [`LABEL ${IMAGE_LABEL}=true`, `LABEL ${HASH_LABEL}=${hash}`, `ENV PATH=${IMAGE_PATH}`, ...changes];
  if (await exists(tar)) return { tag, tar, contentHash: hash, changes: allChanges, cached: true, ms: Date.now() - t0 };

  opts.onProgress?.(`building ${tag} rootfs (${entries.length} entries)`);
  await mkdir(`${cache}/images`, { recursive: true });
  const stage = `${cache}/images/.stage-${name}-${randomBytes(4).toString("hex")}`;
  try {
    await mkdir(stage);
    for (const e of [...entries].sort((a, b) => a.path.split("/").length - b.path.split("/").length)) {
      const p = `${stage}${e.path}`;
      await mkdir(dirname(p), { recursive: true });
      switch (e.kind) {
        case "dir":
          await mkdir(p, { recursive: true });
          await chmod(p, e.mode);
          break;
        case "file":
          await copyFile(e.source, p);
          await chmod(p, e.mode);
          break;
        case "text":
          await writeFile(p, e.text);
          await chmod(p, e.mode);
          break;
        case "symlink":
          await symlink(e.target, p);
          break;
      }
    }
    const tmp = `${tar}.tmp-${randomBytes(4).toString("hex")}`;
    const argv = ["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", stage, "-cf", tmp, "."];
    const r = await runArgv(argv, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new LabError(`could not pack the ${tag} rootfs`, { command: argv, code: r.code, stderr: r.stderr });
    await rename(tmp, tar);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  return { tag, tar, contentHash: hash, changes: allChanges, cached: false, ms: Date.now() - t0 };
}

/**
 * The workload image crosshost/busybox:latest: Debian's static busybox with its applet links, minimal
 * /etc/passwd and /etc/group, /tmp, and /var/www/index.html so `httpd -f -p 80 -h /var/www` answers 200.
 */
export async function buildBusyboxImage(opts: ImageBuildOptions = {}): Promise<BuiltImage> {
  const t0 = Date.now();
  return tarFor("busybox", BUSYBOX_IMAGE, await busyboxEntries(), [`CMD ["sh"]`], opts, t0);
}

/**
 * crosshost/consul:1.8.7: the busybox rootfs plus Debian bullseye's consul binary at /bin/consul (and its
 * shared libraries when it is dynamically linked, as the bullseye build is), /consul/data, /consul/config.
 */
export async function buildConsulImage(opts: ImageBuildOptions = {}): Promise<BuiltImage> {
  const t0 = Date.now();
  const cache = opts.cacheDir ?? crosshostCacheDir();
  const consul = await ensureConsulBinary(cache, opts.onProgress);
  const entries = await busyboxEntries();
  entries.push(
    { kind: "file", path: "/bin/consul", mode: 0o755, source: consul, sha256: await sha256File(consul) },
    { kind: "dir", path: "/consul", mode: 0o755 },
    { kind: "dir", path: "/consul/data", mode: 0o755 },
    { kind: "dir", path: "/consul/config", mode: 0o755 },
  );
  const elf = await elfInfo(consul);
  if (elf.interpreter !== undefined) {
    const seen = new Set(entries.map((e) => e.path));
    for (const lib of await sharedLibraries(consul)) {
      for (const dir of parentDirs(lib)) {
        if (!seen.has(dir)) entries.push({ kind: "dir", path: dir, mode: 0o755 });
        seen.add(dir);
      }
      // copy the resolved file under the name the loader asks for (the host's paths may be symlinks)
      entries.push({ kind: "file", path: lib, mode: 0o755, source: lib, sha256: await sha256File(lib) });
      seen.add(lib);
    }
  }
  return tarFor("consul", CONSUL_IMAGE, entries, [`CMD ["consul", "version"]`], opts, t0);
}

/** Anything that can name a lab host's engine socket (StartedNetnsLab does). */
export interface DockerHostResolver {
  dockerHost(host: string): string;
}

/**
 * `docker import`s the image (a built image, or any rootfs tar by path) into the host's engine as `tag`,
 * labelled as ours, unless an image with that tag and the same content hash is already there.
 * Returns whether it imported.
 */
export async function importImage(lab: DockerHostResolver, host: string, imageOrTar: BuiltImage | string, tag?: string): Promise<boolean> {
  const image = typeof imageOrTar === "string" ? await plainTar(imageOrTar, tag) : imageOrTar;
  tag ??= image.tag;
  const dockerHost = lab.dockerHost(host);
  const have = await runArgv(["docker", "-H", dockerHost, "image", "inspect", tag, "--format", `{{index .Config.Labels "${HASH_LABEL}"}}`], { timeoutMs: 30_000 });
  if (have.code === 0 && have.stdout.trim() === image.contentHash) return false;
  const argv = ["docker", "-H", dockerHost, "import", ...image.changes.flatMap((c) => ["--change", c]), image.tar, tag];
  const r = await runArgv(argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new LabError(`docker import of ${tag} failed`, { host, command: argv, code: r.code, stderr: r.stderr });
  return true;
}

async function plainTar(tar: string, tag: string | undefined): Promise<BuiltImage> {
  if (tag === undefined) throw new LabError(`importImage: a tag is needed to import ${tar}`);
  const hash = await sha256File(tar);
  return { tag, tar, contentHash: hash, changes: [`LABEL ${IMAGE_LABEL}=true`, `LABEL ${HASH_LABEL}=${hash}`, `ENV PATH=${IMAGE_PATH}`], cached: true, ms: 0 };
}

/** Imports the image into every host's engine at once. */
export async function importImageEverywhere(lab: DockerHostResolver & { readonly hosts: readonly string[] }, image: BuiltImage): Promise<void> {
  await Promise.all(lab.hosts.map((h) => importImage(lab, h, image)));
}

// ---------- consul from Debian bullseye (lab-notes section 6) ----------

export interface AptMirror {
  readonly uri: string;
  readonly signedBy?: string;
  /** The file it was read from. */
  readonly from: string;
}

/** The Debian mirror URI this machine's own apt sources use (never hard-coded: read from /etc/apt). */
export async function readAptMirror(etcApt = "/etc/apt"): Promise<AptMirror | undefined> {
  const codename = (await readFile("/etc/os-release", "utf8").catch(() => "")).match(/^VERSION_CODENAME=(\S+)/m)?.[1];
  const candidates: { uri: string; suites: string[]; components: string[]; signedBy?: string; from: string }[] = [];
  const files = await readdir(`${etcApt}/sources.list.d`).catch(() => [] as string[]);
  for (const f of files.sort()) {
    const path = `${etcApt}/sources.list.d/${f}`;
    if (f.endsWith(".sources")) candidates.push(...parseDeb822(await readFile(path, "utf8").catch(() => ""), path));
    else if (f.endsWith(".list")) candidates.push(...parseOneLine(await readFile(path, "utf8").catch(() => ""), path));
  }
  candidates.push(...parseOneLine(await readFile(`${etcApt}/sources.list`, "utf8").catch(() => ""), `${etcApt}/sources.list`));
  const main = candidates.filter((c) => c.components.includes("main") && c.suites.some((s) => !/-(security|updates|backports)$|\/updates$/.test(s)));
  const best = main.find((c) => codename !== undefined && c.suites.includes(codename)) ?? main[0];
  if (!best) return undefined;
  return { uri: best.uri, from: best.from, ...(best.signedBy !== undefined ? { signedBy: best.signedBy } : {}) };
}

function parseDeb822(text: string, from: string): { uri: string; suites: string[]; components: string[]; signedBy?: string; from: string }[] {
  const out: { uri: string; suites: string[]; components: string[]; signedBy?: string; from: string }[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^\s/.test(line) && last !== undefined) {
        fields.set(last, `${fields.get(last) ?? ""}\n${line.trim()}`);
        continue;
      }
      const m = line.match(/^([A-Za-z-]+):\s*(.*)$/);
      if (m?.[1] !== undefined) {
        last = m[1].toLowerCase();
        fields.set(last, m[2] ?? "");
      }
    }
    if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
    if ((fields.get("enabled") ?? "yes").trim() === "no") continue;
    const signedBy = fields.get("signed-by")?.trim();
    for (const uri of (fields.get("uris") ?? "").split(/\s+/).filter(Boolean)) {
      out.push({
        uri,
        suites: (fields.get("suites") ?? "").split(/\s+/).filter(Boolean),
        components: (fields.get("components") ?? "").split(/\s+/).filter(Boolean),
        ...(signedBy !== undefined && signedBy.startsWith("/") && !signedBy.includes("\n") ? { signedBy } : {}),
        from,
      });
    }
  }
  return out;
}

function parseOneLine(text: string, from: string): { uri: string; suites: string[]; components: string[]; signedBy?: string; from: string }[] {
  const out: { uri: string; suites: string[]; components: string[]; signedBy?: string; from: string }[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = line.match(/^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/);
    if (!m?.[2] || !m[3]) continue;
    const signedBy = m[1]?.match(/signed-by=(\S+)/)?.[1];
    out.push({ uri: m[2], suites: [m[3]], components: (m[4] ?? "").split(/\s+/).filter(Boolean), ...(signedBy ? { signedBy } : {}), from });
  }
  return out;
}

/** apt configured to use only our own bullseye list and cache dirs: the machine's apt state stays untouched. */
export async function bullseyeApt(cacheDir = crosshostCacheDir()): Promise<{ dir: string; options: string[]; mirror: AptMirror }> {
  const mirror = await readAptMirror();
  if (!mirror) throw new LabError("no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/ (needed to fetch consul from bullseye)");
  const dir = `${cacheDir}/apt-bullseye`;
  await mkdir(`${dir}/lists/partial`, { recursive: true });
  await mkdir(`${dir}/cache/archives/partial`, { recursive: true });
  const line = `deb ${mirror.signedBy !== undefined ? `[signed-by=${mirror.signedBy}] ` : ""}${mirror.uri} bullseye main\n`;
  await writeFile(`${dir}/sources.list`, line);
  const options = [
    ["Dir::Etc::SourceList", `${dir}/sources.list`],
    ["Dir::Etc::SourceParts", "/dev/null"],
    ["Dir::Etc::Preferences", "/dev/null"],
    ["Dir::Etc::PreferencesParts", "/dev/null"],
    ["Dir::State::Lists", `${dir}/lists`],
    ["Dir::Cache", `${dir}/cache`],
    ["APT::Sandbox::User", "root"],
    ["Acquire::Retries", "2"],
  ].flatMap(([k, v]) => ["-o", `${k}=${v}`]);
  return { dir, options, mirror };
}

/** True when our bullseye package lists are already downloaded. */
export async function bullseyeListsPresent(dir: string): Promise<boolean> {
  const files = await readdir(`${dir}/lists`).catch(() => [] as string[]);
  return files.some((f) => /bullseye_main_binary-[^_]+_Packages/.test(f));
}

export async function aptUpdateBullseye(apt: { options: string[]; mirror: AptMirror }, timeoutMs = 120_000): Promise<void> {
  const argv = ["apt-get", ...apt.options, "-q", "update"];
  const r = await runArgv(argv, { timeoutMs });
  if (r.code !== 0 || /^(E|W): Failed to fetch/m.test(r.stdout + r.stderr)) {
    throw new LabError(`apt-get update of bullseye from ${apt.mirror.uri} (read from ${apt.mirror.from}) failed`, { command: argv, code: r.code, stderr: r.stderr || r.stdout });
  }
}

/** Path of the cached consul binary, fetching Debian bullseye's consul .deb with apt the first time. */
export async function ensureConsulBinary(cacheDir = crosshostCacheDir(), onProgress?: (m: string) => void): Promise<string> {
  const bin = `${cacheDir}/consul/${CONSUL_VERSION}/consul`;
  if (await exists(bin)) return bin;
  const apt = await bullseyeApt(cacheDir);
  if (!(await bullseyeListsPresent(apt.dir))) {
    onProgress?.(`apt-get update (bullseye from ${apt.mirror.uri})`);
    await aptUpdateBullseye(apt);
  }
  const debs = `${apt.dir}/debs`;
  await rm(debs, { recursive: true, force: true });
  await mkdir(debs, { recursive: true });
  onProgress?.("apt-get download consul");
  const download = async (): Promise<{ code: number; stderr: string; argv: string[] }> => {
    const argv = ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", debs, "apt-get", ...apt.options, "-q", "download", "consul"];
    const r = await runArgv(argv, { timeoutMs: 300_000 });
    return { code: r.code, stderr: r.stderr || r.stdout, argv };
  };
  let d = await download();
  if (d.code !== 0) {
    await aptUpdateBullseye(apt); // stale lists: the .deb moved on the mirror
    d = await download();
  }
  if (d.code !== 0) throw new LabError("apt-get download consul failed", { command: d.argv, code: d.code, stderr: d.stderr });
  const deb = (await readdir(debs)).find((f) => f.startsWith("consul_") && f.endsWith(".deb"));
  if (!deb) throw new LabError(`apt-get download consul left no consul_*.deb in ${debs}`);
  const root = `${apt.dir}/extract`;
  await rm(root, { recursive: true, force: true });
  const x = await runArgv(["dpkg-deb", "-x", `${debs}/${deb}`, root], { timeoutMs: 120_000 });
  if (x.code !== 0) throw new LabError(`dpkg-deb -x ${deb} failed`, { command: ["dpkg-deb", "-x", `${debs}/${deb}`, root], code: x.code, stderr: x.stderr });
  const v = await runArgv([`${root}/usr/bin/consul`, "version"], { timeoutMs: 30_000 });
  if (!v.stdout.includes(`Consul v${CONSUL_VERSION}`)) {
    throw new LabError(`${deb} is not Consul ${CONSUL_VERSION}: ${(v.stdout || v.stderr).split("\n")[0] ?? ""}`);
  }
  await mkdir(dirname(bin), { recursive: true });
  await copyFile(`${root}/usr/bin/consul`, `${bin}.tmp`);
  await chmod(`${bin}.tmp`, 0o755);
  await rename(`${bin}.tmp`, bin);
  await writeFile(`${dirname(bin)}/SOURCE`, `${deb} from ${apt.mirror.uri} bullseye main\n`);
  await rm(root, { recursive: true, force: true });
  return bin;
}

// ---------- ELF and libraries ----------

/** PT_INTERP of an ELF file: undefined for a static executable. */
export async function elfInfo(path: string): Promise<{ interpreter?: string }> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
    const is64 = head[4] === 2;
    if (head[5] !== 1) throw new Error(`${path}: big-endian ELF not supported`);
    const phoff = is64 ? Number(head.readBigUInt64LE(0x20)) : head.readUInt32LE(0x1c);
    const phentsize = head.readUInt16LE(is64 ? 0x36 : 0x2a);
    const phnum = head.readUInt16LE(is64 ? 0x38 : 0x2c);
    const ph = Buffer.alloc(phentsize * phnum);
    await fh.read(ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const base = i * phentsize;
      if (ph.readUInt32LE(base) !== 3) continue; // PT_INTERP
      const off = is64 ? Number(ph.readBigUInt64LE(base + 8)) : ph.readUInt32LE(base + 4);
      const size = is64 ? Number(ph.readBigUInt64LE(base + 32)) : ph.readUInt32LE(base + 16);
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, off);
      return { interpreter: buf.toString("utf8").replace(/\0.*$/s, "") };
    }
    return {};
  } finally {
    await fh.close();
  }
}

/** Absolute paths of the shared objects `ldd` resolves for a dynamic executable, loader included. */
async function sharedLibraries(path: string): Promise<string[]> {
  const r = await runArgv(["ldd", path], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new LabError(`ldd ${path} failed`, { command: ["ldd", path], code: r.code, stderr: r.stderr || r.stdout });
  const libs: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m?.[1]) libs.push(m[1]);
    else if (/not found/.test(line)) throw new LabError(`${path} needs a library this machine does not have: ${line.trim()}`);
  }
  return libs;
}

function parentDirs(path: string): string[] {
  const parts = path.split("/").filter(Boolean).slice(0, -1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
