// A real OpenSSH sshd inside lab hosts (lab-notes 3), and a way for this process to reach them.
//
// Each sshd runs in its host's netns and UTS namespace, listens on the host's plan address, and sets
// DOCKER_HOST to the host's own dockerd, so `docker …` over SSH reaches that host's engine. Everything
// lives under <labDir>/ssh, and every sshd (and every process it starts) lives in a lab netns, so
// `lab down` removes it all even after a crash (teardown kills every process in a lab netns and deletes
// the lab dir). stop() does the same at once.
//
// The root netns has no address on the lab switch (on purpose: the lab stays isolated), so clients
// reach the hosts from a vantage host inside the lab: a NetnsRelay there opens the TCP connections, and
// LabSshd.dialer hands them to SshTransport as its `dial`. withOperator() adds such a host to a spec.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFile, chmod, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { DialError, dialErrorText, type Dialer } from "../../src/drivers/transports/dial.js";
import { knownHostsName } from "../../src/drivers/transports/known-hosts.js";
import type { SshHost } from "../../src/drivers/transports/ssh-pool.js";
import type { SshEndpoint } from "../../src/drivers/transports/ssh-transport.js";
import type { LabSpec } from "../spec.js";
import { engineProcesses } from "./engine.js";
import { LabError } from "./errors.js";
import type { HostLayout } from "./layout.js";
import type { StartedNetnsLab } from "./netns-lab.js";
import { isRunning, listProcesses, must, pidsInNetns, signalAll, sleep, tryRun, waitExited } from "./sys.js";

export const SSHD_BINARY = "/usr/sbin/sshd";
/** Privilege-separation directory the Debian sshd needs (lab-notes 3); shared by every sshd, left in place. */
const PRIVSEP_DIR = "/run/sshd";
const START_TIMEOUT_MS = 10_000;
/** USER_HZ: the unit of CPU times in /proc/<pid>/stat (100 on Linux everywhere but exotic builds). */
const CLOCK_TICKS = 100;

/** Adds a host that stands for the operator's machine on the first segment (the SSH client's vantage point). */
export function withOperator(spec: LabSpec, operator: { name?: string; address?: string; nic?: string } = {}): LabSpec {
  const seg = spec.segments[0];
  if (!seg) throw new LabError(`lab ${spec.name} has no segment to plug an operator host into`);
  const first = spec.hosts.find((h) => h.name === seg.members[0]?.host)?.nics.find((n) => n.name === seg.members[0]?.nic);
  const name = operator.name ?? "operator";
  const nic = operator.nic ?? "eth0";
  return {
    ...spec,
    hosts: [...spec.hosts, { name, nics: [{ name: nic, address: operator.address ?? "192.168.1.10", prefix: first?.prefix ?? 24, mtu: first?.mtu ?? 1500 }] }],
    segments: spec.segments.map((s, i) => (i === 0 ? { ...s, members: [...s.members, { host: name, nic }] } : s)),
  };
}

// The relay: one node process inside the vantage netns, listening on a unix socket (paths are not
// per-netns, so this process can reach it). Per connection it reads "<address> <port> <timeoutMs>\n",
// connects from inside the netns, answers "OK\n" or "ERR <code> <message>\n", then pipes both ways.
// It exits when its stdin closes, i.e. when the process that started it is gone.
const RELAY = `
const net = require("net");
const fs = require("fs");
const path = process.argv[1];
try { fs.unlinkSync(path); } catch {}
const server = net.createServer({ allowHalfOpen: false }, (c) => {
  let head = Buffer.alloc(0);
  const onData = (b) => {
    head = Buffer.concat([head, b]);
    const nl = head.indexOf(10);
    if (nl < 0) return;
    c.off("data", onData);
    c.pause();
    const rest = head.subarray(nl + 1);
    const [host, port, ms] = head.subarray(0, nl).toString().split(" ");
    const s = net.connect({ host, port: Number(port) });
    const t = setTimeout(() => { s.destroy(); c.end("ERR ETIMEDOUT timed out\\n"); }, Number(ms));
    s.once("error", (e) => { clearTimeout(t); c.end("ERR " + (e.code || "ECONNECT") + " " + e.message + "\\n"); });
    s.once("connect", () => {
      clearTimeout(t);
      s.removeAllListeners("error");
      s.setNoDelay(true);
      s.on("error", () => c.destroy());
      c.on("error", () => s.destroy());
      c.write("OK\\n");
      if (rest.length > 0) s.write(rest);
      c.pipe(s);
      s.pipe(c);
      c.resume();
    });
  };
  c.on("data", onData);
  c.on("error", () => undefined);
});
server.listen(path, () => process.stdout.write("READY\\n"));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

/** A TCP relay inside a netns: dial() opens connections that start in that netns. */
export class NetnsRelay {
  readonly netns: string;
  readonly socket: string;
  readonly #child: ChildProcess;

  private constructor(netns: string, socket: string, child: ChildProcess) {
    this.netns = netns;
    this.socket = socket;
    this.#child = child;
  }

  /** Starts the relay (node, through nsenter) listening on `socket`; it dies with this process. */
  static async start(netns: string, socket: string): Promise<NetnsRelay> {
    const child = spawn("nsenter", [`--net=/run/netns/${netns}`, "--", process.execPath, "-e", RELAY, socket], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr?.on("data", (b: Buffer) => (err += b.toString("utf8")));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LabError(`the relay in netns ${netns} did not start: ${err.trim()}`)), START_TIMEOUT_MS);
      child.stdout?.on("data", (b: Buffer) => {
        out += b.toString("utf8");
        if (out.includes("READY\n")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("error", (e) => reject(new LabError(`cannot start the relay in netns ${netns}: ${e.message}`)));
      child.once("exit", (code) => reject(new LabError(`the relay in netns ${netns} exited (${code}): ${err.trim()}`)));
    });
    // the relay must not keep this process alive; it exits itself when our end of its stdin closes
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    return new NetnsRelay(netns, socket, child);
  }

  readonly dial: Dialer = (address, port, timeoutMs) =>
    new Promise<Duplex>((resolve, reject) => {
      const c = connect(this.socket);
      let head = Buffer.alloc(0);
      let settled = false;
      const fail = (code: string, message: string): void => {
        if (settled) return;
        settled = true;
        c.destroy();
        reject(new DialError(code, message));
      };
      const guard = setTimeout(() => fail("ETIMEDOUT", `timed out after ${timeoutMs / 1000} s (no answer to the TCP connect)`), timeoutMs + 2_000);
      c.once("error", (e) => {
        clearTimeout(guard);
        fail("ERELAY", `the relay in netns ${this.netns} is not answering: ${e.message}`);
      });
      c.once("connect", () => c.write(`${address.replace(/^\[(.*)\]$/, "$1")} ${port} ${timeoutMs}\n`));
      const onData = (b: Buffer): void => {
        head = Buffer.concat([head, b]);
        const nl = head.indexOf(10);
        if (nl < 0) return;
        clearTimeout(guard);
        c.off("data", onData);
        c.pause();
        const line = head.subarray(0, nl).toString("utf8");
        const rest = head.subarray(nl + 1);
        if (line === "OK") {
          if (rest.length > 0) c.unshift(rest);
          c.removeAllListeners("error");
          settled = true;
          resolve(c);
          return;
        }
        const code = /^ERR (\S+)/.exec(line)?.[1] ?? "ERELAY";
        fail(code, code === "ETIMEDOUT" ? `timed out after ${timeoutMs / 1000} s (no answer to the TCP connect)` : dialErrorText(code));
      };
      c.on("data", onData);
      c.once("end", () => fail("ERELAY", `the relay in netns ${this.netns} closed the connection: ${head.toString("utf8").trim()}`));
    });

  /** CPU time (ms) the relay process has used so far. */
  async cpuMs(): Promise<number> {
    const stat = await readFile(`/proc/${this.#child.pid}/stat`, "utf8").catch(() => "");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11] ?? 0) + Number(f[12] ?? 0)) * 1000) / CLOCK_TICKS;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.#child.once("exit", () => r()));
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(timer);
    await rm(this.socket, { force: true });
  }
}

export interface LabSshdOptions {
  /** Hosts that get an sshd; default every lab host except the vantage. */
  readonly hosts?: readonly string[];
  /** Host the client dials from (its netns); default "operator" if the lab has it, else the first host. */
  readonly vantage?: string;
  readonly port?: number;
}

interface HostSsh {
  readonly layout: HostLayout;
  readonly address: string;
  readonly dir: string;
  readonly config: string;
  readonly hostKey: string;
  readonly pidfile: string;
  readonly log: string;
}

/** sshd on lab hosts, the client key they accept, and a known_hosts file with their host keys. */
export class LabSshd {
  readonly lab: StartedNetnsLab;
  readonly dir: string;
  readonly port: number;
  readonly hosts: readonly string[];
  readonly vantage: string;
  /** Private key (ed25519, no passphrase) whose public half every sshd accepts for root. */
  readonly clientKey: string;
  /** known_hosts with every sshd's current host key (written at start; not updated by regenerateHostKey). */
  readonly knownHostsFile: string;
  readonly authorizedKeys: string;
  /** Dials from the vantage host's netns (through the relay; fails once stop() ran). */
  readonly dialer: Dialer;
  readonly #hosts: Map<string, HostSsh>;
  #relay: NetnsRelay | undefined;

  private constructor(lab: StartedNetnsLab, hosts: Map<string, HostSsh>, dir: string, port: number, vantage: string) {
    this.lab = lab;
    this.dir = dir;
    this.port = port;
    this.#hosts = hosts;
    this.hosts = [...hosts.keys()];
    this.vantage = vantage;
    this.clientKey = `${dir}/client_ed25519`;
    this.knownHostsFile = `${dir}/known_hosts`;
    this.authorizedKeys = `${dir}/authorized_keys`;
    this.dialer = (address, port, timeoutMs) =>
      this.#relay ? this.#relay.dial(address, port, timeoutMs) : Promise.reject(new DialError("ERELAY", "the lab's SSH relay is stopped"));
  }

  /** Generates keys, writes configs, starts every sshd and waits until each listens. */
  static async start(lab: StartedNetnsLab, options: LabSshdOptions = {}): Promise<LabSshd> {
    const port = options.port ?? 22;
    const vantage = options.vantage ?? (lab.hosts.includes("operator") ? "operator" : lab.hosts[0] ?? "");
    const names = options.hosts ?? lab.hosts.filter((h) => h !== vantage);
    const dir = `${lab.labDir}/ssh`;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const hosts = new Map<string, HostSsh>();
    for (const name of names) {
      const layout = lab.layout.hosts.find((h) => h.name === name);
      if (!layout) throw new LabError(`no host ${JSON.stringify(name)} in lab ${lab.name}`);
      const address = layout.nics[0]?.address;
      if (address === undefined) throw new LabError(`host ${name} has no NIC to listen on`);
      const hdir = `${dir}/${layout.dir.split("/").pop() ?? name}`;
      hosts.set(name, {
        layout, address, dir: hdir, config: `${hdir}/sshd_config`, hostKey: `${hdir}/ssh_host_ed25519_key`, pidfile: `${hdir}/sshd.pid`, log: `${hdir}/sshd.log`,
      });
    }
    const sshd = new LabSshd(lab, hosts, dir, port, vantage);
    try {
      await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
      await generateKey(sshd.clientKey, { comment: `crosshost lab ${lab.name} client` });
      await writeFile(sshd.authorizedKeys, await readFile(`${sshd.clientKey}.pub`), { mode: 0o600 });
      await Promise.all([...hosts.values()].map(async (h) => {
        await mkdir(h.dir, { recursive: true, mode: 0o700 });
        await generateKey(h.hostKey, { comment: `crosshost lab ${lab.name} host ${h.layout.name}` });
        await writeFile(h.config, sshdConfig(h, port, sshd.authorizedKeys, lab.dockerHost(h.layout.name)));
      }));
      await sshd.writeKnownHosts(sshd.knownHostsFile);
      sshd.#relay = await NetnsRelay.start(lab.netnsOf(vantage), `${dir}/relay.sock`);
      await Promise.all(sshd.hosts.map((h) => sshd.startHost(h)));
    } catch (e) {
      await sshd.stop().catch(() => undefined);
      throw e;
    }
    return sshd;
  }

  address(host: string): string {
    return this.#host(host).address;
  }

  /** The host's ssh block as a plan would carry it: root with the client key, no sudo. */
  target(host: string, overrides: Partial<SshEndpoint> = {}): SshEndpoint {
    return { address: this.address(host), port: this.port, user: "root", keyFile: this.clientKey, agent: false, sudo: false, ...overrides };
  }

  sshHosts(hosts: readonly string[] = this.hosts): SshHost[] {
    return hosts.map((host) => ({ host, target: this.target(host) }));
  }

  /** "ssh-ed25519 AAAA…" of the host's current key. */
  async hostPublicKey(host: string): Promise<string> {
    return (await readFile(`${this.#host(host).hostKey}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
  }

  /** "SHA256:…" of the host's current key, from ssh-keygen itself. */
  async hostKeyFingerprint(host: string): Promise<string> {
    const r = await must(["ssh-keygen", "-l", "-E", "sha256", "-f", `${this.#host(host).hostKey}.pub`]);
    const fp = r.stdout.split(/\s+/)[1];
    if (fp === undefined) throw new LabError(`ssh-keygen -l printed no fingerprint: ${r.stdout}`);
    return fp;
  }

  /** Writes a known_hosts for `hosts` (default all); hashed with OpenSSH's own `ssh-keygen -H`. */
  async writeKnownHosts(file: string, options: { hosts?: readonly string[]; hashed?: boolean } = {}): Promise<void> {
    const lines = await Promise.all((options.hosts ?? this.hosts).map(async (h) => `${knownHostsName(this.address(h), this.port)} ${await this.hostPublicKey(h)}\n`));
    await writeFile(file, lines.join(""), { mode: 0o600 });
    if (options.hashed) {
      await must(["ssh-keygen", "-q", "-H", "-f", file]);
      await rm(`${file}.old`, { force: true });
    }
  }

  /** Gives the host a new host key and restarts its sshd (existing connections keep the old one). */
  async regenerateHostKey(host: string): Promise<void> {
    const h = this.#host(host);
    await rm(h.hostKey, { force: true });
    await rm(`${h.hostKey}.pub`, { force: true });
    await generateKey(h.hostKey, { comment: `crosshost lab ${this.lab.name} host ${host} (regenerated)` });
    await this.stopListener(host);
    await this.startHost(host);
  }

  /** Generates a client key; authorized for root on every sshd unless authorize is false. */
  async generateClientKey(name: string, options: { passphrase?: string; authorize?: boolean } = {}): Promise<string> {
    const file = `${this.dir}/${name}`;
    await rm(file, { force: true });
    await rm(`${file}.pub`, { force: true });
    await generateKey(file, { passphrase: options.passphrase ?? "", comment: `crosshost lab ${this.lab.name} ${name}` });
    if (options.authorize !== false) await appendFile(this.authorizedKeys, await readFile(`${file}.pub`));
    return file;
  }

  /** Connections sshd accepted (authenticated) since it was first started on this host. */
  async acceptedConnections(host: string): Promise<number> {
    const text = await readFile(this.#host(host).log, "utf8").catch(() => "");
    return text.split("\n").filter((l) => /\bAccepted (publickey|password|keyboard-interactive)\b/.test(l)).length;
  }

  /**
   * CPU time (ms) the host has used so far for SSH work: its sshd listener with every connection it
   * accepted and every command those ran (counted once the connections are closed and reaped), plus the
   * host's dockerd and containerd. Differences between two calls measure a workload per host, even when
   * other processes share the machine's cores.
   */
  async hostCpuMs(host: string): Promise<number> {
    const h = this.#host(host);
    const listener = await this.#listenerPid(host);
    // connections that just closed: wait until the listener has reaped them (zombies too), so their CPU is in its cutime
    if (listener !== undefined) for (let i = 0; i < 100 && (await childrenOf(listener)).length > 0; i++) await sleep(20);
    const pids = [...(listener !== undefined ? [listener] : []), ...(await engineProcesses(h.layout))];
    const ticks = await Promise.all(pids.map(async (pid) => {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields 14-17 of /proc/<pid>/stat: utime stime cutime cstime (f[0] is field 3)
      return [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
    }));
    return (ticks.reduce((a, b) => a + b, 0) * 1000) / CLOCK_TICKS;
  }

  /** CPU time (ms) of the relay that carries every client connection (lab plumbing, not part of a host). */
  async relayCpuMs(): Promise<number> {
    return (await this.#relay?.cpuMs()) ?? 0;
  }

  /** The sshd log of the host (for assertions and debugging). */
  logFile(host: string): string {
    return this.#host(host).log;
  }

  /** Kills the per-connection sshd processes (not the listener): clients see their connection drop. */
  async dropConnections(host: string): Promise<number> {
    const listener = await this.#listenerPid(host);
    const sessions = (await this.#sshdPids(host)).filter((p) => p !== listener);
    signalAll(sessions, "SIGKILL");
    await waitExited(sessions, 5_000);
    return sessions.length;
  }

  /** Starts the host's sshd (after stopListener or stop) and waits until it listens. */
  async startHost(host: string): Promise<void> {
    const h = this.#host(host);
    const logSize = await stat(h.log).then((s) => s.size, () => 0);
    const test = await tryRun([SSHD_BINARY, "-t", "-f", h.config]);
    if (test.code !== 0) throw new LabError("sshd rejects its configuration", { host, command: [SSHD_BINARY, "-t", "-f", h.config], code: test.code, stderr: test.stderr });
    // sshd forks into the background by itself, inside the host's netns and UTS namespace
    await must(["nsenter", `--net=/run/netns/${h.layout.netns}`, `--uts=${h.layout.utsFile}`, "--", SSHD_BINARY, "-f", h.config, "-E", h.log], { host });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const log = (await readFile(h.log, "utf8").catch(() => "")).slice(logSize);
      if (/Server listening on/.test(log)) return;
      if (/fatal|error: Bind to port|Cannot bind/i.test(log) || Date.now() > deadline) {
        throw new LabError(Date.now() > deadline ? "sshd did not start listening" : "sshd failed to start", { host, stderr: log.trim(), logFile: h.log });
      }
      await sleep(20);
    }
  }

  /** Stops the host's listening sshd only (connections it accepted stay up). */
  async stopListener(host: string): Promise<void> {
    const pid = await this.#listenerPid(host);
    if (pid === undefined) return;
    signalAll([pid], "SIGTERM");
    if ((await waitExited([pid], 3_000)).length > 0) signalAll([pid], "SIGKILL");
    await waitExited([pid], 3_000);
    await rm(this.#host(host).pidfile, { force: true });
  }

  /**
   * Stops sshd on the given hosts: listener, connections and the commands they run. Without hosts:
   * every sshd and the relay. Idempotent.
   */
  async stop(hosts?: readonly string[]): Promise<void> {
    if (hosts === undefined) {
      await this.#relay?.close();
      this.#relay = undefined;
    }
    await Promise.all((hosts ?? this.hosts).map(async (host) => {
      const roots = await this.#sshdPids(host);
      const all = await withDescendants(roots);
      signalAll(all, "SIGTERM");
      const left = await waitExited(all, 2_000);
      signalAll(left, "SIGKILL");
      const stuck = await waitExited(left, 3_000);
      if (stuck.length > 0) throw new LabError(`sshd processes ${stuck.join(", ")} did not exit`, { host });
      await rm(this.#host(host).pidfile, { force: true });
    }));
  }

  async #listenerPid(host: string): Promise<number | undefined> {
    const pid = Number((await readFile(this.#host(host).pidfile, "utf8").catch(() => "")).trim());
    return pid > 0 && (await this.#sshdPids(host)).includes(pid) ? pid : undefined;
  }

  /** sshd processes in the host's netns (only ours can be there: the netns belongs to the lab). */
  async #sshdPids(host: string): Promise<number[]> {
    const pids = await pidsInNetns(`/run/netns/${this.#host(host).layout.netns}`);
    const exes = await Promise.all(pids.map((p) => readlink(`/proc/${p}/exe`).catch(() => "")));
    return pids.filter((_, i) => exes[i] === SSHD_BINARY);
  }

  #host(host: string): HostSsh {
    const h = this.#hosts.get(host);
    if (!h) throw new LabError(`host ${JSON.stringify(host)} has no lab sshd (have: ${this.hosts.join(", ")})`);
    return h;
  }
}

function sshdConfig(h: HostSsh, port: number, authorizedKeys: string, dockerHost: string): string {
  return [
    `# crosshost lab sshd for ${h.layout.name}`,
    `ListenAddress ${h.address}:${port}`,
    `HostKey ${h.hostKey}`,
    `PidFile ${h.pidfile}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    // direct-tcpip channels: the jump-host path
    "AllowTcpForwarding yes",
    "X11Forwarding no",
    "PrintMotd no",
    "UseDNS no",
    "LogLevel INFO",
    // SHLVL=1: bash skips ~/.bashrc for sshd commands (it sources it only at shell level 1). Lab hosts share
    // this machine's /root, whose .bashrc may be slow (here it runs `pyenv init`: ~200 ms per command).
    `SetEnv DOCKER_HOST="${dockerHost}" SHLVL=1`,
    "",
  ].join("\n");
}

/** ssh-keygen an ed25519 key pair at file (+ .pub). */
export async function generateKey(file: string, options: { passphrase?: string; comment?: string } = {}): Promise<void> {
  await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", options.passphrase ?? "", "-C", options.comment ?? "crosshost", "-f", file]);
  await chmod(file, 0o600);
}

/** Pids whose parent is `pid`, zombies included (they have no command line, but a stat). */
async function childrenOf(pid: number): Promise<number[]> {
  const entries = (await readdir("/proc")).filter((e) => /^\d+$/.test(e));
  const hits = await Promise.all(entries.map(async (e) => {
    const s = await readFile(`/proc/${e}/stat`, "utf8").catch(() => "");
    return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]) === pid ? Number(e) : undefined;
  }));
  return hits.filter((p): p is number => p !== undefined);
}

/** The pids plus all their descendants (found through /proc/<pid>/stat's ppid). */
async function withDescendants(roots: readonly number[]): Promise<number[]> {
  const procs = await listProcesses();
  const parent = new Map<number, number>();
  await Promise.all(procs.map(async (p) => {
    const s = await readFile(`/proc/${p.pid}/stat`, "utf8").catch(() => "");
    const ppid = Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid > 0) parent.set(p.pid, ppid);
  }));
  const out = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  const alive = await Promise.all([...out].map(async (p) => ((await isRunning(p)) ? p : undefined)));
  return alive.filter((p): p is number => p !== undefined);
}
