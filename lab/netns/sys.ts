import { readFile, readdir, readlink, stat, writeFile } from "node:fs/promises";
import { runArgv } from "../../src/drivers/transports/local-transport.js";
import type { ExecResult } from "../../src/drivers/transport.js";
import { LabError } from "./errors.js";

/** Runs argv on the machine (no shell); throws a LabError naming the host, command and stderr on a non-zero exit. */
export async function must(
  argv: readonly string[],
  ctx: { host?: string; logFile?: string; stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ExecResult> {
  const r = await runArgv(argv, { stdin: ctx.stdin, timeoutMs: ctx.timeoutMs ?? 60_000, env: ctx.env });
  if (r.code !== 0) {
    throw new LabError(r.code === 124 ? "command timed out" : "command failed", {
      host: ctx.host,
      command: argv,
      code: r.code,
      stderr: r.stderr || r.stdout,
      logFile: ctx.logFile,
    });
  }
  return r;
}

/** Runs argv and returns the result whatever the exit code. */
export function tryRun(argv: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
  return runArgv(argv, { timeoutMs });
}

// ---------- processes ----------

export interface ProcInfo {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** Every process with a readable command line (kernel threads have none and are skipped). */
export async function listProcesses(): Promise<ProcInfo[]> {
  const entries = await readdir("/proc");
  const out: ProcInfo[] = [];
  await Promise.all(
    entries.map(async (e) => {
      if (!/^\d+$/.test(e)) return;
      try {
        const raw = await readFile(`/proc/${e}/cmdline`, "utf8");
        if (raw === "") return;
        out.push({ pid: Number(e), argv: raw.replace(/\0$/, "").split("\0") });
      } catch {
        // exited meanwhile
      }
    }),
  );
  return out;
}

export async function processArgv(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return raw === "" ? undefined : raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie (a zombie still answers kill(pid, 0)). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

export function signalAll(pids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Polls until every pid has exited or the timeout passes; returns the pids still running. */
export async function waitExited(pids: readonly number[], timeoutMs: number, pollMs = 20): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = [...pids];
  for (;;) {
    const states = await Promise.all(left.map(isRunning));
    left = left.filter((_, i) => states[i]);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(pollMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Inode of a namespace file (/run/netns/x, /proc/pid/ns/net), or undefined if it does not exist. */
export async function nsInode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

/** Pids of all processes whose network namespace is the one bound at nsPath (as `ip netns pids`). */
export async function pidsInNetns(nsPath: string): Promise<number[]> {
  const ino = await nsInode(nsPath);
  if (ino === undefined) return [];
  const entries = await readdir("/proc");
  const want = `net:[${ino}]`;
  const hits = await Promise.all(
    entries.map(async (e) => {
      if (!/^\d+$/.test(e)) return undefined;
      try {
        return (await readlink(`/proc/${e}/ns/net`)) === want ? Number(e) : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return hits.filter((p): p is number => p !== undefined && p !== process.pid);
}

// ---------- mounts ----------

export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
}

/** Mounts of this process's mount namespace, from /proc/self/mountinfo (octal escapes decoded). */
export async function listMounts(): Promise<MountEntry[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const [pre, post] = line.split(" - ");
    const fields = pre?.split(" ") ?? [];
    const mp = fields[4];
    if (mp === undefined) continue;
    out.push({ mountPoint: unescapeMount(mp), fsType: post?.split(" ")[0] ?? "" });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

/** Mount points at or under dir, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const ms = await listMounts();
  return [...new Set(ms.map((m) => m.mountPoint).filter((m) => isUnder(m, dir)))].sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything at or under dir; returns the mount points still there afterwards. */
export async function unmountAllUnder(dir: string): Promise<string[]> {
  for (let round = 0; round < 3; round++) {
    const mps = await mountsUnder(dir);
    if (mps.length === 0) return [];
    // one umount call for all: parents detach their children, so "not mounted" errors are expected
    await tryRun(["umount", "-l", ...mps]);
  }
  return mountsUnder(dir);
}

// ---------- cgroups ----------

/** Mount points of every cgroup (v1) and cgroup2 hierarchy. */
export async function cgroupRoots(): Promise<string[]> {
  const ms = await listMounts();
  return ms.filter((m) => m.fsType === "cgroup" || m.fsType === "cgroup2").map((m) => m.mountPoint);
}

/** Directories of the cgroup `rel` (absolute within the hierarchy) and its descendants in all hierarchies, deepest first. */
export async function cgroupDirs(rel: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) await walk(`${dir}/${e.name}`);
    out.push(dir);
  };
  for (const root of await cgroupRoots()) await walk(`${root}${rel}`);
  return out;
}

/** Pids in the cgroup `rel` or below, in any hierarchy. */
export async function pidsInCgroup(rel: string): Promise<number[]> {
  const pids = new Set<number>();
  for (const dir of await cgroupDirs(rel)) {
    try {
      for (const l of (await readFile(`${dir}/cgroup.procs`, "utf8")).split("\n")) if (l) pids.add(Number(l));
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

// ---------- links ----------

export interface LinkInfo {
  readonly ifname: string;
  readonly mtu: number;
  readonly flags: readonly string[];
  readonly operstate: string;
  readonly ifalias?: string;
  readonly master?: string;
}

/** Links of the root network namespace (or of netns `ns`), from `ip -j link show`. */
export async function listLinks(ns?: string): Promise<LinkInfo[]> {
  const r = await must(["ip", ...(ns !== undefined ? ["-n", ns] : []), "-j", "-d", "link", "show"]);
  return JSON.parse(r.stdout || "[]") as LinkInfo[];
}

export async function netnsNames(): Promise<string[]> {
  try {
    return await readdir("/run/netns");
  } catch {
    return [];
  }
}

/** Turns IPv6 off on a root-side lab link so the root namespace gets no address on the lab at all. */
export async function disableIpv6(ifname: string): Promise<void> {
  try {
    await writeFile(`/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, "1");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // no IPv6 in this kernel: nothing to turn off
  }
}
