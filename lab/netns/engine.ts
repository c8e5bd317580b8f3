import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, open, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { basename } from "node:path";
import { LabError } from "./errors.js";
import type { HostLayout } from "./layout.js";
import {
  isRunning,
  listProcesses,
  nsInode,
  pidsInCgroup,
  pidsInNetns,
  processArgv,
  signalAll,
  sleep,
  tryRun,
  waitExited,
} from "./sys.js";

/** Binaries a lab engine consists of; only these are ever signalled by command-line match. */
const ENGINE_BINARIES = new Set(["dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "docker-proxy", "runc"]);

/** The dockerd command line of a lab host (run inside its netns and UTS namespace). */
export function dockerdArgv(h: HostLayout): string[] {
  return [
    "dockerd",
    // own daemon.json: the machine's /etc/docker/daemon.json (bridge, hosts, …) must not leak into the lab
    "--config-file", h.daemonJson,
    "--data-root", h.dataRoot,
    "--exec-root", h.execRoot,
    "-H", `unix://${h.socket}`,
    "--pidfile", h.pidfile,
    // containers land in a cgroup we can find and empty at teardown, even after a crash
    "--cgroup-parent", h.cgroupParent,
  ];
}

function isEngineProcess(argv: readonly string[], h: HostLayout): boolean {
  const bin = basename(argv[0] ?? "");
  // the engine's pid is nsenter for the instant before it execs dockerd
  const launcher = bin === "nsenter" && argv.includes("dockerd");
  return (launcher || ENGINE_BINARIES.has(bin)) && argv.some((a) => a.includes(`${h.dir}/`));
}

/** Pids of the host's dockerd, containerd and shims, found by command line (they all name the host dir). */
export async function engineProcesses(h: HostLayout): Promise<number[]> {
  return (await listProcesses()).filter((p) => isEngineProcess(p.argv, h)).map((p) => p.pid);
}

/** True if pid is still one of this host's engine processes (guards against pid reuse). */
export async function isEnginePid(pid: number, h: HostLayout): Promise<boolean> {
  const argv = await processArgv(pid);
  return argv !== undefined && isEngineProcess(argv, h) && (await isRunning(pid));
}

export interface StartEngineOptions {
  readonly timeoutMs?: number;
  /** Called with the pid right after spawn, before waiting for the API (record it!). */
  readonly onSpawned?: (pid: number) => Promise<void>;
}

/**
 * Starts the host's dockerd detached (it outlives this process) inside the host's netns and UTS namespace,
 * then waits until it answers. Uses nsenter, not `ip netns exec` (lab-notes 1b: that hides /sys/fs/cgroup).
 */
export async function startEngine(h: HostLayout, options: StartEngineOptions = {}): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const nsPath = `/run/netns/${h.netns}`;
  const [nsIno, rootIno] = await Promise.all([nsInode(nsPath), nsInode("/proc/1/ns/net")]);
  // never a dockerd in the root netns: it would take over the machine's docker0 (lab-notes 4b pitfall)
  if (nsIno === undefined) throw new LabError(`network namespace ${nsPath} does not exist`, { host: h.name });
  if (nsIno === rootIno) throw new LabError(`${nsPath} is the root network namespace; refusing to start dockerd there`, { host: h.name });

  await mkdir(h.dir, { recursive: true });
  // after a crash the pidfiles name dead (or zombie) processes, and dockerd then refuses to start or
  // waits for a containerd that never answers ("timeout waiting for containerd to start")
  await removeStalePidfile(h.pidfile, h);
  await removeStalePidfile(`${h.execRoot}/containerd/containerd.pid`, h);
  await writeFile(h.daemonJson, `${JSON.stringify({ "deprecated-key-path": `${h.dir}/key.json` }, null, 2)}\n`);
  const log = await open(h.logFile, "a");
  await log.write(`${LOG_MARK} ${new Date().toISOString()}\n`);
  const argv = ["nsenter", `--net=${nsPath}`, `--uts=${h.utsFile}`, "--", ...dockerdArgv(h)];
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let pid: number;
  try {
    const child = spawn(argv[0] ?? "nsenter", argv.slice(1), { detached: true, stdio: ["ignore", log.fd, log.fd] });
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    child.once("exit", (code, signal) => {
      exited = { code, signal };
    });
    if (child.pid === undefined) {
      throw new LabError(`could not spawn dockerd: ${(await spawnError).message}`, { host: h.name, command: argv, logFile: h.logFile });
    }
    pid = child.pid; // nsenter execs dockerd in place: this is dockerd's pid
    child.unref();
  } finally {
    await log.close();
  }
  await options.onSpawned?.(pid);

  const deadline = Date.now() + timeoutMs;
  while (!(await pingEngine(h.socket))) {
    if (exited) {
      throw new LabError(`dockerd exited before answering (${exited.signal ?? `exit ${exited.code}`}):\n${await logTail(h.logFile)}`, {
        host: h.name, command: argv, logFile: h.logFile,
      });
    }
    if (Date.now() > deadline) {
      throw new LabError(`dockerd (pid ${pid}) did not answer on ${h.socket} within ${timeoutMs / 1000} s:\n${await logTail(h.logFile)}`, {
        host: h.name, command: argv, logFile: h.logFile,
      });
    }
    await sleep(50);
  }
  const v = await tryRun(["docker", "-H", `unix://${h.socket}`, "version", "--format", "{{.Server.Version}}"], 15_000);
  if (v.code !== 0) {
    throw new LabError("dockerd answers /_ping but `docker version` fails", {
      host: h.name, command: ["docker", "-H", `unix://${h.socket}`, "version"], code: v.code, stderr: v.stderr, logFile: h.logFile,
    });
  }
  return pid;
}

async function removeStalePidfile(file: string, h: HostLayout): Promise<void> {
  const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
  if (pid > 0 && !(await isEnginePid(pid, h))) await rm(file, { force: true });
}

/** GET /_ping on the engine socket; true on "OK". Cheaper than spawning the docker CLI in a poll loop. */
export function pingEngine(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: "/_ping", method: "GET", timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

const LOG_MARK = "--- crosshost: starting dockerd";

/** The last lines of the latest dockerd run in the log, without grpc reconnect noise. */
export async function logTail(file: string, lines = 15): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    const run = text.slice(Math.max(0, text.lastIndexOf(LOG_MARK)));
    const useful = run.trimEnd().split("\n").filter((l) => !l.includes("module=grpc"));
    return useful.slice(-lines).map((l) => `    | ${l}`).join("\n");
  } catch {
    return `    (no log at ${file})`;
  }
}

export interface StopEngineOptions {
  /** SIGTERM: the daemon shuts down as `systemctl stop docker` would; SIGKILL: it crashes. */
  readonly signal?: "SIGTERM" | "SIGKILL";
  /** How long SIGTERM may take before everything left is SIGKILLed. */
  readonly graceMs?: number;
  /** Teardown mode: SIGKILL the containers (no 10 s stop timeouts), then SIGTERM dockerd and its containerd together. */
  readonly killContainersFirst?: boolean;
  /** Extra dockerd pids recorded earlier (each re-checked by command line before it is signalled). */
  readonly recordedPids?: readonly number[];
}

// containerd 1.6 puts every shim's socket at /run/containerd/s/<sha256(address/namespace/id)>, outside the
// exec root; a killed shim leaves it behind
const SHIM_SOCKET_DIR = "/run/containerd/s";

/** Shim socket paths this host's containerd has used or may have used (live shims, task dirs, containers). */
async function shimSockets(h: HostLayout): Promise<string[]> {
  const address = `${h.execRoot}/containerd/containerd.sock`;
  const keys = new Set<string>();
  const taskRoot = `${h.execRoot}/containerd/daemon/io.containerd.runtime.v2.task`;
  for (const ns of await readdir(taskRoot).catch(() => [] as string[])) {
    for (const id of await readdir(`${taskRoot}/${ns}`).catch(() => [] as string[])) keys.add(`${ns}/${id}`);
  }
  for (const id of await readdir(`${h.dataRoot}/containers`).catch(() => [] as string[])) keys.add(`moby/${id}`);
  for (const p of await listProcesses()) {
    const flag = (f: string): string | undefined => p.argv[p.argv.indexOf(f) + 1];
    if (basename(p.argv[0] ?? "").startsWith("containerd-shim") && flag("-address") === address) keys.add(`${flag("-namespace")}/${flag("-id")}`);
  }
  return [...keys].map((k) => `${SHIM_SOCKET_DIR}/${createHash("sha256").update(`${address}/${k}`).digest("hex")}`);
}

/**
 * Stops the host's engine and everything it ran: dockerd, its containerd, shims and the containers
 * (found by the host's cgroup parent), then removes the sockets its shims left. Returns the pids that would not die.
 */
export async function stopEngine(h: HostLayout, options: StopEngineOptions = {}): Promise<number[]> {
  const graceMs = options.graceMs ?? 20_000;
  const sockets = await shimSockets(h);
  if (options.killContainersFirst) {
    const containers = await pidsInCgroup(h.cgroupParent);
    signalAll(containers, "SIGKILL");
  }
  const dockerds: number[] = [];
  const pidfilePid = Number((await readFile(h.pidfile, "utf8").catch(() => "")).trim());
  for (const pid of new Set([...(options.recordedPids ?? []), ...(pidfilePid > 0 ? [pidfilePid] : [])])) {
    if (await isEnginePid(pid, h)) dockerds.push(pid);
  }
  // teardown: containerd gets SIGTERM together with dockerd, which otherwise waits about 1 s for it to exit
  const targets = options.killContainersFirst ? [...new Set([...dockerds, ...(await engineProcesses(h))])] : dockerds;
  if (options.signal === "SIGKILL") {
    signalAll(targets, "SIGKILL");
  } else {
    signalAll(targets, "SIGTERM");
    const left = await waitExited(targets, graceMs);
    signalAll(left, "SIGKILL");
  }
  // whatever is left: containerd, shims, containers
  const stragglers = new Set([...(await engineProcesses(h)), ...(await pidsInCgroup(h.cgroupParent))]);
  signalAll(stragglers, "SIGKILL");
  const stuck = await waitExited([...new Set([...dockerds, ...stragglers])], 5_000);
  if (stuck.length === 0) await Promise.all(sockets.map((f) => rm(f, { force: true })));
  return stuck;
}

/** Kills every process still inside the host's netns (they would keep it and its veth alive). */
export async function killNetnsProcesses(h: HostLayout): Promise<number[]> {
  const pids = await pidsInNetns(`/run/netns/${h.netns}`);
  signalAll(pids, "SIGKILL");
  return waitExited(pids, 5_000);
}
