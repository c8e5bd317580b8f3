import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { access, mkdir, open, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { runArgv } from "../../src/drivers/transports/local-transport.js";
import { logTail, pingEngine } from "../netns/engine.js";
import { LabError } from "../netns/errors.js";
import { isRunning, listProcesses, must, nsInode, pidsInCgroup, processArgv, signalAll, sleep, waitExited } from "../netns/sys.js";
import type { DindLayout } from "./layout.js";
import type { PrivateEngineState } from "./state.js";
import { userDockerHost } from "./testcontainers-env.js";

export type EngineProbe =
  | { readonly ok: true; readonly dockerHost: string; readonly version: string }
  | { readonly ok: false; readonly dockerHost: string; readonly reason: string };

/**
 * The engine the machine's own docker CLI would use: $DOCKER_HOST as it was when crosshost started, else the
 * current docker context's endpoint, else /var/run/docker.sock.
 */
export async function machineDockerHost(): Promise<string> {
  const user = userDockerHost();
  if (user !== undefined && user !== "") return user;
  const ctx = await runArgv(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], { timeoutMs: 5_000 });
  const host = ctx.stdout.trim();
  if (ctx.code === 0 && /^(unix|tcp|npipe|ssh):\/\//.test(host)) return host;
  return "unix:///var/run/docker.sock";
}

/** Does the machine's engine answer (`docker version` within timeoutMs)? */
export async function probeMachineEngine(timeoutMs = 5_000): Promise<EngineProbe> {
  const dockerHost = await machineDockerHost();
  if (dockerHost.startsWith("unix://") && !(await access(dockerHost.slice(7)).then(() => true, () => false))) {
    return { ok: false, dockerHost, reason: `no engine socket at ${dockerHost.slice(7)}` };
  }
  const r = await runArgv(["docker", "-H", dockerHost, "version", "--format", "{{.Server.Version}}"], { timeoutMs });
  if (r.code === 127) return { ok: false, dockerHost, reason: "the docker CLI is not installed" };
  if (r.code !== 0) {
    const why = r.code === 124 ? `no answer within ${timeoutMs / 1000} s` : (r.stderr.trim().split("\n").pop() ?? `exit ${r.code}`);
    return { ok: false, dockerHost, reason: `${dockerHost}: ${why}` };
  }
  return { ok: true, dockerHost, version: r.stdout.trim() };
}

export function privateEnginePaths(layout: DindLayout): PrivateEngineState {
  const dir = layout.engineDir;
  return {
    kind: "private",
    dockerHost: `unix://${dir}/docker.sock`,
    dir,
    dataRoot: `${dir}/data`,
    execRoot: `${dir}/exec`,
    socket: `${dir}/docker.sock`,
    pidfile: `${dir}/docker.pid`,
    logFile: `${dir}/dockerd.log`,
    netns: layout.engineNetns,
    cgroupParent: layout.cgroupParent,
    netnsCreated: false,
    dataMounted: false,
    pids: [],
    sharedDirs: [],
  };
}

/** The private outer dockerd's command line (run inside its own netns). */
export function privateDockerdArgv(e: PrivateEngineState): string[] {
  return [
    "dockerd",
    "--config-file", `${e.dir}/daemon.json`,
    "--data-root", e.dataRoot,
    "--exec-root", e.execRoot,
    "-H", `unix://${e.socket}`,
    "--pidfile", e.pidfile,
    // nothing of the lab is NATed or forwarded anywhere; the lab networks are --internal as well
    "--iptables=false",
    "--ip-masq=false",
    "--ip-forward=false",
    // no docker0: safe only because this daemon has a network namespace of its own (lab-notes 4b pitfall)
    "--bridge=none",
    "--userland-proxy=false",
    "--cgroup-parent", e.cgroupParent,
  ];
}

/** True if pid is still a process of this private engine (dockerd, its containerd or a shim: they all name its dir). */
async function isPrivateEnginePid(pid: number, e: PrivateEngineState): Promise<boolean> {
  const argv = await processArgv(pid);
  return argv !== undefined && isPrivateEngineArgv(argv, e) && (await isRunning(pid));
}

function isPrivateEngineArgv(argv: readonly string[], e: PrivateEngineState): boolean {
  const bin = basename(argv[0] ?? "");
  const known = ["nsenter", "dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc", "docker-proxy"].includes(bin);
  return known && argv.some((a) => a.startsWith(`${e.dir}/`));
}

export async function privateEngineProcesses(e: PrivateEngineState): Promise<number[]> {
  return (await listProcesses()).filter((p) => isPrivateEngineArgv(p.argv, e)).map((p) => p.pid);
}

/**
 * Starts the private outer dockerd in a network namespace of its own, with its data root on a tmpfs.
 * `record` is called before each thing is created so a crash leaves a state teardown can follow.
 */
export async function startPrivateEngine(
  e: PrivateEngineState,
  record: (fn: (e: PrivateEngineState) => void) => Promise<void>,
  timeoutMs = 30_000,
  /** Runs on the empty data root before dockerd starts (to restore a cached image store). */
  beforeStart?: () => Promise<void>,
): Promise<string> {
  if (process.getuid?.() !== 0) throw new LabError("starting a private Docker engine needs root (network namespace, tmpfs mount, dockerd)");
  const ctx = { host: "(outer engine)" };
  await mkdir(e.dataRoot, { recursive: true });
  await mkdir(e.execRoot, { recursive: true });
  for (const shared of ["/run/docker", "/run/containerd"]) {
    if (!(await access(shared).then(() => true, () => false))) await record((s) => s.sharedDirs.push(shared));
  }
  await record((s) => {
    s.netnsCreated = true;
  });
  await must(["ip", "netns", "add", e.netns], ctx);
  await must(["ip", "-n", e.netns, "link", "set", "lo", "up"], ctx);
  const [nsIno, rootIno] = await Promise.all([nsInode(`/run/netns/${e.netns}`), nsInode("/proc/1/ns/net")]);
  if (nsIno === undefined || nsIno === rootIno) throw new LabError(`/run/netns/${e.netns} is missing or is the root namespace; refusing to start dockerd there`, ctx);
  await record((s) => {
    s.dataMounted = true;
  });
  await must(["mount", "-t", "tmpfs", "-o", "mode=0711", "crosshost-dind", e.dataRoot], ctx);
  await beforeStart?.();
  await writeFile(`${e.dir}/daemon.json`, `${JSON.stringify({ "deprecated-key-path": `${e.dir}/key.json` }, null, 2)}\n`);

  const argv = ["nsenter", `--net=/run/netns/${e.netns}`, "--", ...privateDockerdArgv(e)];
  const log = await open(e.logFile, "a");
  let exited: string | undefined;
  let pid: number;
  try {
    const child = spawn(argv[0] ?? "nsenter", argv.slice(1), { detached: true, stdio: ["ignore", log.fd, log.fd] });
    child.once("exit", (code, signal) => {
      exited = signal ?? `exit ${code}`;
    });
    if (child.pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once("error", resolve));
      throw new LabError(`could not spawn dockerd: ${err.message}`, { ...ctx, command: argv, logFile: e.logFile });
    }
    pid = child.pid; // nsenter execs dockerd in place
    child.unref();
  } finally {
    await log.close();
  }
  await record((s) => s.pids.push(pid));
  const deadline = Date.now() + timeoutMs;
  while (!(await pingEngine(e.socket))) {
    if (exited !== undefined) {
      throw new LabError(`dockerd exited before answering (${exited}):\n${await logTail(e.logFile)}`, { ...ctx, command: argv, logFile: e.logFile });
    }
    if (Date.now() > deadline) {
      throw new LabError(`dockerd (pid ${pid}) did not answer within ${timeoutMs / 1000} s:\n${await logTail(e.logFile)}`, { ...ctx, command: argv, logFile: e.logFile });
    }
    await sleep(50);
  }
  const v = await runArgv(["docker", "-H", e.dockerHost, "version", "--format", "{{.Server.Version}}"], { timeoutMs: 15_000 });
  if (v.code !== 0) throw new LabError("the private dockerd answers /_ping but `docker version` fails", { ...ctx, command: ["docker", "-H", e.dockerHost, "version"], code: v.code, stderr: v.stderr, logFile: e.logFile });
  return v.stdout.trim();
}

/**
 * Stops the private engine and everything it ran. Its data root is a tmpfs that is thrown away, so the
 * containers are simply killed (by the engine's cgroup parent) instead of removed one by one.
 * Returns the pids that would not die.
 */
export async function stopPrivateEngine(e: PrivateEngineState, graceMs = 0): Promise<number[]> {
  const sockets = await shimSockets(e);
  const nodes = await pidsInCgroup(e.cgroupParent);
  signalAll(nodes, "SIGKILL");
  await waitExited(nodes, 5_000);
  const pidfilePid = Number((await readFile(e.pidfile, "utf8").catch(() => "")).trim());
  const dockerds: number[] = [];
  for (const pid of new Set([...e.pids, ...(pidfilePid > 0 ? [pidfilePid] : [])])) if (await isPrivateEnginePid(pid, e)) dockerds.push(pid);
  const all = [...new Set([...dockerds, ...(await privateEngineProcesses(e))])];
  // measured here: a SIGTERMed dockerd takes 1-4 s to shut down, and nothing it would tidy survives
  // teardown (the tmpfs data root, exec root mounts and netns all go), so by default it is simply killed
  if (graceMs > 0) {
    signalAll(all, "SIGTERM");
    signalAll(await waitExited(all, graceMs), "SIGKILL");
  } else {
    signalAll(all, "SIGKILL");
  }
  const stragglers = [...new Set([...(await privateEngineProcesses(e)), ...(await pidsInCgroup(e.cgroupParent))])];
  signalAll(stragglers, "SIGKILL");
  const stuck = await waitExited([...new Set([...all, ...nodes, ...stragglers])], 5_000);
  if (stuck.length === 0) await Promise.all([e.socket, ...sockets].map((f) => rm(f, { force: true })));
  return stuck;
}

// containerd 1.6 puts every shim's socket at /run/containerd/s/<sha256(address/namespace/id)>, outside the
// exec root; a killed shim leaves it behind
const SHIM_SOCKET_DIR = "/run/containerd/s";

/** Shim socket paths the private engine's containerd has used or may have used. */
async function shimSockets(e: PrivateEngineState): Promise<string[]> {
  const address = `${e.execRoot}/containerd/containerd.sock`;
  const keys = new Set<string>();
  const taskRoot = `${e.execRoot}/containerd/daemon/io.containerd.runtime.v2.task`;
  for (const ns of await readdir(taskRoot).catch(() => [] as string[])) {
    for (const id of await readdir(`${taskRoot}/${ns}`).catch(() => [] as string[])) keys.add(`${ns}/${id}`);
  }
  for (const id of await readdir(`${e.dataRoot}/containers`).catch(() => [] as string[])) keys.add(`moby/${id}`);
  for (const p of await listProcesses()) {
    const flag = (f: string): string | undefined => p.argv[p.argv.indexOf(f) + 1];
    if (basename(p.argv[0] ?? "").startsWith("containerd-shim") && flag("-address") === address) keys.add(`${flag("-namespace")}/${flag("-id")}`);
  }
  return [...keys].map((k) => `${SHIM_SOCKET_DIR}/${createHash("sha256").update(`${address}/${k}`).digest("hex")}`);
}
