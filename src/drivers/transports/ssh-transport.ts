import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { homedir, constants as osConstants } from "node:os";
import type { Duplex } from "node:stream";
import type { AnyAuthMethod, Client, ClientChannel, ParsedKey } from "ssh2";
import type { SshTarget } from "../../model/plan.js";
import { shellJoin, type ExecOptions, type ExecResult, type Transport } from "../transport.js";
import { DialError, dialErrorText, seconds, tcpDialer, type Dialer } from "./dial.js";
import { hostKeyAlgorithmsFor, keyFingerprint, KnownHosts, keyTypeLabel, keyTypeOf, knownHostsName, type HostKeyCheck, type KnownHostEntry } from "./known-hosts.js";
import { TIMEOUT_EXIT_CODE } from "./local-transport.js";

/** How to reach a host: the plan's `ssh:` block without its source position. */
export type SshEndpoint = Omit<SshTarget, "path">;

export type SshErrorKind =
  /** Bad settings or input: a missing key file, an unset environment variable, an argv that cannot be sent. */
  | "config"
  | "refused"
  | "timeout"
  | "unreachable"
  | "host-key-unknown"
  | "host-key-changed"
  | "host-key-revoked"
  | "auth"
  /** The connection broke (during the handshake or while a command ran). */
  | "dropped"
  /** The transport was closed by its owner. */
  | "closed";

/** Every failure of the SSH transport: one line naming the plan host and where it was reached. */
export class SshError extends Error {
  readonly kind: SshErrorKind;
  readonly host: string;
  /** "192.168.1.71:22", or "192.168.1.72:22 via 192.168.1.71:22". */
  readonly endpoint: string;
  constructor(kind: SshErrorKind, host: string, endpoint: string, detail: string) {
    super(`${host} (${endpoint}): ${detail}`);
    this.name = "SshError";
    this.kind = kind;
    this.host = host;
    this.endpoint = endpoint;
  }
}

export type SshLogEvent =
  | { readonly type: "connected"; readonly host: string; readonly endpoint: string; readonly ms: number; readonly reconnect: boolean; readonly hostKey: string }
  | { readonly type: "connect-failed"; readonly host: string; readonly endpoint: string; readonly ms: number; readonly reconnect: boolean; readonly kind: SshErrorKind; readonly message: string }
  | { readonly type: "host-key-recorded"; readonly host: string; readonly endpoint: string; readonly hostKey: string; readonly file: string }
  | { readonly type: "disconnected"; readonly host: string; readonly endpoint: string }
  | {
      readonly type: "command";
      readonly host: string;
      /** The argv as given, with every occurrence of a known secret (password, passphrase, redact) as "***". */
      readonly argv: readonly string[];
      /** Names only: values are never logged. */
      readonly env: readonly string[];
      readonly stdinBytes: number;
      readonly sudo: boolean;
      /** Exit code (124 on timeout); null when the command could not be run or its outcome is unknown. */
      readonly code: number | null;
      readonly ms: number;
      readonly error?: string;
    }
  | { readonly type: "closed"; readonly host: string; readonly endpoint: string };

export type SshLogger = (event: SshLogEvent) => void;

export interface SshTransportOptions {
  /** Plan name of the host (used in every message). */
  readonly host: string;
  readonly target: SshEndpoint;
  /** known_hosts file (or a shared KnownHosts); default ~/.ssh/known_hosts. */
  readonly knownHosts?: string | KnownHosts;
  /** OpenSSH's StrictHostKeyChecking=accept-new: record unknown host keys; a changed key is still refused. */
  readonly acceptNew?: boolean;
  /** Limit for TCP connect + SSH handshake + authentication; default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Timeout for commands that give none (code 124); default none. */
  readonly commandTimeoutMs?: number;
  /** Commands in flight on the one connection; more wait. Default 8 (sshd's MaxSessions defaults to 10). */
  readonly maxSessions?: number;
  /** SSH keepalive interval (a dead connection is noticed after 3 missed answers); 0 turns it off. Default 10 s. */
  readonly keepaliveIntervalMs?: number;
  /** Environment added to every command (under the per-command env). */
  readonly env?: Readonly<Record<string, string>>;
  readonly logger?: SshLogger;
  /** Extra secret strings to mask in logged argv. */
  readonly redact?: readonly string[];
  /** Opens the first hop's byte stream; default plain TCP. */
  readonly dial?: Dialer;
  /** An open transport to tunnel through (overrides target.jump; not closed by this transport). */
  readonly jump?: SshTransport;
  /** Where passphrase_env, password_env and SSH_AUTH_SOCK are looked up; default process.env. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_SESSIONS = 8;
const DEFAULT_KEEPALIVE_MS = 10_000;
// as LocalTransport: once the exit status is in, stop waiting for a background child that holds stdout open
const PIPE_DRAIN_MS = 250;
// ssh2's default server host key order; the types known for a host are moved to the front
const HOST_KEY_ALGORITHMS = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
// session refusals are retried with a growing pause (20 ms, 40 ms, …: about 4 s in all)
const BUSY_RETRIES = 20;
/** Environment variable that marks a command which may time out (see #killMarked). */
export const EXEC_ID = "CROSSHOST_EXEC_ID";
const KILL_WAIT_MS = 2_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Ssh2 = typeof import("ssh2");
let ssh2Module: Promise<Ssh2> | undefined;

/** Loads ssh2 on first use, so that nothing but SSH pays for it. */
export function loadSsh2(): Promise<Ssh2> {
  ssh2Module ??= import("ssh2").then((m) => ((m as { default?: Ssh2 }).default ?? m) as Ssh2);
  return ssh2Module;
}

export interface RemoteCommandOptions {
  readonly sudo?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The command line sent to the remote login shell (which must be POSIX): every argv word and every
 * env value is quoted as one literal word. With env: `env -- NAME=value… argv…`; with sudo the whole
 * thing runs under `sudo -n --`. Throws on input no shell word can carry (NUL bytes, bad env names, a
 * command name with "=" after env or sudo, which would read it as an assignment).
 */
export function remoteCommand(argv: readonly string[], options: RemoteCommandOptions = {}): string {
  const [cmd] = argv;
  if (cmd === undefined || cmd === "") throw new Error("empty argv: no command to run");
  for (const w of argv) if (w.includes("\0")) throw new Error(`argv word ${JSON.stringify(w)} contains a NUL byte, which no command line can carry`);
  const env = Object.entries(options.env ?? {});
  for (const [name, value] of env) {
    if (!ENV_NAME.test(name)) throw new Error(`environment variable name ${JSON.stringify(name)} is not a valid name`);
    if (value.includes("\0")) throw new Error(`environment variable ${name} contains a NUL byte`);
  }
  const prefix = [
    ...(options.sudo ? ["sudo", "-n", "--"] : []),
    ...(env.length > 0 ? ["env", "--", ...env.map(([n, v]) => `${n}=${v}`)] : []),
  ];
  // `env` and `sudo` take a leading word with "=" for an assignment; so does the shell, when it is bare
  // (shellQuote leaves "X=1" bare: fine as an argument, an assignment in command position)
  if (cmd.includes("=") && prefix.length > 0) throw new Error(`command ${JSON.stringify(cmd)} contains "=" and cannot follow ${options.sudo ? "sudo" : "env"}`);
  const head = prefix.length === 0 && cmd.includes("=") ? `'${cmd.replace(/'/g, `'\\''`)}'` : undefined;
  return head === undefined ? shellJoin([...prefix, ...argv]) : [head, shellJoin(argv.slice(1))].filter((w) => w !== "").join(" ");
}

/** Parses the plan's `jump: [user@]host[:port]`; user and credentials default to the target's. */
export function parseJump(jump: string, target: SshEndpoint): SshEndpoint {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(jump);
  if (!m || m[2] === undefined) throw new Error(`jump ${JSON.stringify(jump)} is not [user@]host[:port]`);
  const port = m[3] !== undefined ? Number(m[3]) : 22;
  if (port < 1 || port > 65535) throw new Error(`jump ${JSON.stringify(jump)}: port ${port} out of range`);
  const { jump: _ignored, ...rest } = target;
  return { ...rest, address: m[2], port, user: m[1] ?? target.user, sudo: false };
}

interface Conn {
  readonly client: Client;
  alive: boolean;
}

interface AuthPlan {
  readonly methods: AnyAuthMethod[];
  /** What will be tried, for the "authentication failed" message. */
  readonly tried: string[];
}

type RunOutcome =
  | { readonly kind: "done"; readonly result: ExecResult }
  /** The command was never started (the connection had gone): safe to run again on a new connection. */
  | { readonly kind: "not-started"; readonly error: SshError }
  /** The server refused the session channel (too many open): nothing ran, try again shortly. */
  | { readonly kind: "busy"; readonly error: SshError }
  | { readonly kind: "failed"; readonly error: SshError };

/** A counting semaphore (commands in flight on one connection). */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiting.push(r));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/**
 * Runs commands on one host over SSH (ssh2). One connection, opened on first use and shared by all
 * commands; a dropped connection is reopened once per command. Host keys are checked against a
 * known_hosts file (strict unless acceptNew). Every failure is an SshError naming the host.
 */
export class SshTransport implements Transport {
  readonly host: string;
  readonly describe: string;
  readonly target: SshEndpoint;
  /** "192.168.1.71:22", plus " via <jump>" when tunnelled. */
  readonly endpoint: string;
  readonly knownHosts: KnownHosts;
  readonly #options: SshTransportOptions;
  readonly #jump: SshTransport | undefined;
  readonly #ownsJump: boolean;
  readonly #slots: Slots;
  readonly #environment: Readonly<Record<string, string | undefined>>;
  #conn: Conn | undefined;
  #connecting: Promise<Conn> | undefined;
  #connects = 0;
  #closed = false;
  #secrets: string[] = [];
  #configError: SshError | undefined;

  constructor(options: SshTransportOptions) {
    this.#options = options;
    this.host = options.host;
    this.target = options.target;
    this.#environment = options.environment ?? process.env;
    this.knownHosts =
      options.knownHosts instanceof KnownHosts ? options.knownHosts : new KnownHosts(options.knownHosts ?? `${homedir()}/.ssh/known_hosts`);
    let jump = options.jump;
    let jumpProblem: string | undefined;
    if (!jump && options.target.jump !== undefined) {
      try {
        const jt = parseJump(options.target.jump, options.target);
        jump = new SshTransport({ ...options, host: `jump host ${jt.address}`, target: jt, knownHosts: this.knownHosts, jump: undefined });
      } catch (e) {
        jumpProblem = (e as Error).message; // reported by connect, as every other failure
      }
    }
    this.#jump = jump;
    this.#ownsJump = jump !== undefined && options.jump === undefined;
    const addr = `${options.target.address}:${options.target.port}`;
    this.endpoint = jump ? `${addr} via ${jump.endpoint}` : addr;
    this.describe = `ssh ${options.target.user}@${this.endpoint}`;
    this.#slots = new Slots(Math.max(1, options.maxSessions ?? DEFAULT_MAX_SESSIONS));
    if (jumpProblem !== undefined) this.#configError = this.#error("config", jumpProblem);
  }

  /** Successful connections so far (1 while the first connection lasts). */
  get connectCount(): number {
    return this.#connects;
  }

  get connected(): boolean {
    return this.#conn?.alive === true;
  }

  /** Opens the connection now (exec does it on first use); rejects with an SshError. */
  async connect(): Promise<void> {
    await this.#connection();
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#closed) throw this.#error("closed", "the transport is closed");
    const env = { ...this.#options.env, ...options.env };
    const timeoutMs = options.timeoutMs ?? this.#options.commandTimeoutMs;
    // a command that may time out carries a marker in its environment, so that it and its children can be found and killed
    const marker = timeoutMs !== undefined ? randomBytes(8).toString("hex") : undefined;
    let command: string;
    try {
      command = remoteCommand(argv, { sudo: this.target.sudo, env: marker !== undefined ? { ...env, [EXEC_ID]: marker } : env });
    } catch (e) {
      throw this.#error("config", (e as Error).message);
    }
    const t0 = Date.now();
    const stdinBytes = options.stdin === undefined ? 0 : typeof options.stdin === "string" ? Buffer.byteLength(options.stdin) : options.stdin.byteLength;
    const log = (code: number | null, error?: SshError): void =>
      this.#log({
        type: "command", host: this.host, argv: this.#redact(argv), env: Object.keys(env), stdinBytes, sudo: this.target.sudo,
        code, ms: Date.now() - t0, ...(error ? { error: error.message } : {}),
      });
    await this.#slots.acquire();
    try {
      let retried = false;
      for (let busy = 0; ; ) {
        const conn = await this.#connection();
        const outcome = await this.#run(conn, command, options.stdin, timeoutMs, marker);
        if (outcome.kind === "done") {
          log(outcome.result.code);
          return outcome.result;
        }
        if (outcome.kind === "not-started" && !retried && !this.#closed) {
          retried = true;
          conn.alive = false;
          conn.client.end();
          continue;
        }
        if (outcome.kind === "busy" && busy < BUSY_RETRIES && !this.#closed) {
          await new Promise((r) => setTimeout(r, 20 * ++busy));
          continue;
        }
        throw outcome.error;
      }
    } catch (e) {
      let err = e instanceof SshError ? e : this.#error("dropped", (e as Error).message);
      if (this.#closed && err.kind === "dropped") err = this.#error("closed", "the transport was closed while the command ran");
      log(null, err);
      throw err;
    } finally {
      this.#slots.release();
    }
  }

  /** Opens a TCP stream from the host to address:port through this connection (a Dialer for hosts behind it). */
  async forwardOut(address: string, port: number, timeoutMs: number): Promise<Duplex> {
    const t0 = Date.now();
    let conn: Conn;
    try {
      conn = await this.#connection();
    } catch (e) {
      throw new DialError("EJUMP", (e as Error).message, { cause: e });
    }
    const left = Math.max(1, timeoutMs - (Date.now() - t0));
    return new Promise<Duplex>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new DialError("ETIMEDOUT", `timed out after ${seconds(timeoutMs)} (the jump host ${this.host} got no answer)`));
      }, left);
      try {
        conn.client.forwardOut("127.0.0.1", 0, address.replace(/^\[(.*)\]$/, "$1"), port, (err, stream) => {
          if (done) {
            stream?.close();
            return;
          }
          done = true;
          clearTimeout(timer);
          if (err) {
            const desc = err.message.replace(/^\(SSH\) Channel open failure: /, "");
            const code = /refused/i.test(desc) ? "ECONNREFUSED" : /no route/i.test(desc) ? "EHOSTUNREACH" : /timed out/i.test(desc) ? "ETIMEDOUT" : "EJUMP";
            reject(new DialError(code, code === "EJUMP" ? `the jump host ${this.host} could not connect: ${desc}` : dialErrorText(code)));
            return;
          }
          resolve(stream);
        });
      } catch (e) {
        done = true;
        clearTimeout(timer);
        conn.alive = false;
        reject(new DialError("ECONNRESET", `the connection to the jump host ${this.host} was lost: ${(e as Error).message}`));
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const conn = this.#conn ?? (await this.#connecting?.catch(() => undefined));
    this.#conn = undefined;
    if (conn) {
      conn.alive = false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        conn.client.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        conn.client.end();
      });
    }
    if (this.#ownsJump) await this.#jump?.close();
    this.#log({ type: "closed", host: this.host, endpoint: this.endpoint });
  }

  // ---- connection ---------------------------------------------------------------------------

  #connection(): Promise<Conn> {
    if (this.#closed) return Promise.reject(this.#error("closed", "the transport is closed"));
    if (this.#conn?.alive) return Promise.resolve(this.#conn);
    if (!this.#connecting) {
      this.#connecting = this.#connect(this.#connects > 0).then(
        (conn) => {
          this.#connecting = undefined;
          if (this.#closed) {
            conn.client.end();
            throw this.#error("closed", "the transport is closed");
          }
          this.#conn = conn;
          return conn;
        },
        (e: unknown) => {
          this.#connecting = undefined;
          throw e;
        },
      );
    }
    return this.#connecting;
  }

  async #connect(reconnect: boolean): Promise<Conn> {
    const t0 = Date.now();
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    try {
      if (this.#configError) throw this.#configError;
      const ssh2 = await loadSsh2().catch((e: unknown) => {
        throw this.#error("config", `the ssh2 package cannot be loaded (npm install ssh2): ${(e as Error).message}`);
      });
      const auth = await this.#authPlan(ssh2);
      const name = knownHostsName(this.target.address, this.target.port);
      const knownTypes = await this.knownHosts.knownTypes(name);
      const dial: Dialer = this.#jump ? (a, p, t) => this.#jump!.forwardOut(a, p, t) : (this.#options.dial ?? tcpDialer);
      let sock: Duplex;
      try {
        sock = await dial(this.target.address, this.target.port, timeoutMs);
      } catch (e) {
        throw this.#dialFailure(e);
      }
      const conn = await this.#handshake(ssh2, sock, auth, name, knownTypes, timeoutMs, t0);
      this.#connects++;
      return conn;
    } catch (e) {
      const err = e instanceof SshError ? e : this.#error("dropped", (e as Error).message);
      this.#log({ type: "connect-failed", host: this.host, endpoint: this.endpoint, ms: Date.now() - t0, reconnect, kind: err.kind, message: err.message });
      throw err;
    }
  }

  /** SSH handshake and authentication over an open stream; t0 is when connecting began (one deadline for all). */
  #handshake(ssh2: Ssh2, sock: Duplex, auth: AuthPlan, name: string, knownTypes: readonly string[], timeoutMs: number, t0: number): Promise<Conn> {
    const leftMs = Math.max(1, timeoutMs - (Date.now() - t0));
    return new Promise<Conn>((resolve, reject) => {
      const client = new ssh2.Client();
      const conn: Conn = { client, alive: false };
      let hostKeyError: SshError | undefined;
      let hostKey = "";
      let authStarted = false;
      const agentNotes: string[] = [];
      let settled = false;
      const fail = (err: SshError): void => {
        if (settled) return;
        settled = true;
        client.end();
        sock.destroy();
        reject(err);
      };
      client.on("error", (e: Error & { level?: string }) => {
        if (e.level === "agent") {
          // one agent problem is not the end: other methods may still work
          agentNotes.push(e.message);
          return;
        }
        if (!settled) {
          fail(hostKeyError ?? this.#clientFailure(e, auth, agentNotes, timeoutMs, authStarted));
          return;
        }
        // after the handshake: the connection is broken; "close" follows and marks it dead
      });
      client.on("handshake", () => {
        authStarted = true;
      });
      let ready = false;
      client.on("close", () => {
        if (!settled) fail(hostKeyError ?? this.#error("dropped", "the server closed the connection during the SSH handshake"));
        conn.alive = false;
        if (ready && !this.#closed) this.#log({ type: "disconnected", host: this.host, endpoint: this.endpoint });
      });
      client.once("ready", () => {
        if (settled) return;
        settled = true;
        ready = true;
        conn.alive = true;
        this.#log({ type: "connected", host: this.host, endpoint: this.endpoint, ms: Date.now() - t0, reconnect: this.#connects > 0, hostKey });
        resolve(conn);
      });
      const preferred = knownTypes.flatMap(hostKeyAlgorithmsFor).filter((a) => HOST_KEY_ALGORITHMS.includes(a));
      const order = [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])];
      client.connect({
        sock,
        username: this.target.user,
        readyTimeout: leftMs,
        keepaliveInterval: this.#options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: 3,
        authHandler: auth.methods,
        algorithms: { serverHostKey: order as never },
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          this.#verifyHostKey(name, key).then(
            (fp) => {
              hostKey = fp;
              verify(true);
            },
            (e: unknown) => {
              hostKeyError = e instanceof SshError ? e : this.#error("host-key-unknown", (e as Error).message);
              verify(false);
            },
          );
        },
      });
    });
  }

  async #verifyHostKey(name: string, blob: Buffer): Promise<string> {
    const check = await this.knownHosts.check(name, blob);
    if (check.status === "known") return describeKey(blob);
    if (check.status !== "unknown") throw this.#hostKeyRefusal(check, name, blob);
    if (!this.#options.acceptNew) {
      throw this.#error(
        "host-key-unknown",
        `host key unknown: the server offered ${describeKey(blob)}, and ${this.knownHosts.file} has no key for ${name}. ` +
          `Refused (strict host key checking). Compare the fingerprint with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ` +
          `then record it, or connect with accept-new`,
      );
    }
    const recorded = await this.knownHosts.record(name, blob);
    if (recorded.status === "recorded") {
      this.#log({ type: "host-key-recorded", host: this.host, endpoint: this.endpoint, hostKey: describeKey(blob), file: recorded.file });
      return describeKey(blob);
    }
    if (recorded.status === "known") return describeKey(blob);
    throw this.#hostKeyRefusal(recorded, name, blob);
  }

  #hostKeyRefusal(check: Exclude<HostKeyCheck, { status: "known" | "unknown" }>, name: string, blob: Buffer): SshError {
    const where = (e: KnownHostEntry): string => `${e.file}:${e.line}`;
    if (check.status === "revoked") {
      return this.#error("host-key-revoked", `host key revoked: the server offered ${describeKey(blob)}, which ${where(check.entry)} marks @revoked. Refused`);
    }
    const [first] = check.entries;
    const known = check.entries.map((e) => `${where(e)} (${keyTypeLabel(e.keyType)} ${keyFingerprint(Buffer.from(e.keyBase64, "base64"))})`);
    return this.#error(
      "host-key-changed",
      `HOST KEY CHANGED: the server offered ${describeKey(blob)}, but known_hosts has a different key for ${name}: ${known.join(", ")}. ` +
        `Refused: this can be a man-in-the-middle attack. If the host was really re-keyed, remove the old line ` +
        `(ssh-keygen -R ${shellJoin([name])} -f ${shellJoin([first?.file ?? this.knownHosts.file])}) and connect again`,
    );
  }

  async #authPlan(ssh2: Ssh2): Promise<AuthPlan> {
    const t = this.target;
    const user = t.user;
    const methods: AnyAuthMethod[] = [];
    const tried: string[] = [];
    const secrets: string[] = [];
    const fromEnv = (varName: string, what: string): string => {
      const v = this.#environment[varName];
      if (v === undefined) throw this.#error("config", `${what} names the environment variable ${varName}, which is not set`);
      secrets.push(v);
      return v;
    };
    const passphrase = t.passphraseEnv !== undefined ? fromEnv(t.passphraseEnv, "passphrase_env") : undefined;
    const addKey = async (path: string, explicit: boolean): Promise<void> => {
      let data: Buffer;
      try {
        data = await readFile(path);
      } catch (e) {
        if (!explicit) return;
        const code = (e as NodeJS.ErrnoException).code;
        throw this.#error("config", `key file ${path} cannot be read (${code === "ENOENT" ? "it does not exist" : code ?? "error"})`);
      }
      const parsed = ssh2.utils.parseKey(data, passphrase);
      const key: ParsedKey | Error | undefined = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
      if (key === undefined || key instanceof Error) {
        if (!explicit) return;
        const msg = key?.message ?? "no key found";
        if (/no passphrase/i.test(msg)) {
          throw this.#error("config", `key file ${path} is encrypted, and no passphrase_env is set for it`);
        }
        if (passphrase !== undefined && /decrypt|passphrase|bad/i.test(msg)) {
          throw this.#error("config", `key file ${path} cannot be decrypted with the passphrase from $${t.passphraseEnv} (wrong passphrase?)`);
        }
        throw this.#error("config", `key file ${path} is not a usable private key: ${msg}`);
      }
      if (!key.isPrivateKey()) {
        if (explicit) throw this.#error("config", `key file ${path} holds a public key, not a private key`);
        return;
      }
      methods.push({ type: "publickey", username: user, key });
      tried.push(`key ${path} (${keyTypeLabel(key.type)} ${keyFingerprint(key.getPublicSSH())})`);
    };
    if (t.keyFile !== undefined) await addKey(expandHome(t.keyFile), true);
    if (t.agent) {
      const sock = this.#environment.SSH_AUTH_SOCK;
      if (sock === undefined || sock === "") throw this.#error("config", "agent: true, but SSH_AUTH_SOCK is not set (no SSH agent to ask)");
      methods.push({ type: "agent", username: user, agent: sock });
      tried.push(`agent at ${sock}`);
    }
    if (t.passwordEnv !== undefined) {
      methods.push({ type: "password", username: user, password: fromEnv(t.passwordEnv, "password_env") });
      tried.push(`password from $${t.passwordEnv}`);
    }
    if (methods.length === 0) {
      // nothing configured: as OpenSSH, the agent and the default identities
      const sock = this.#environment.SSH_AUTH_SOCK;
      if (sock !== undefined && sock !== "") {
        methods.push({ type: "agent", username: user, agent: sock });
        tried.push(`agent at ${sock}`);
      }
      for (const f of ["id_ed25519", "id_ecdsa", "id_rsa"]) await addKey(`${homedir()}/.ssh/${f}`, false);
      if (methods.length === 0) {
        throw this.#error("config", "no credentials: set key_file, agent: true (with SSH_AUTH_SOCK) or password_env in the host's ssh settings");
      }
    }
    this.#secrets = secrets;
    return { methods, tried };
  }

  // ---- commands -----------------------------------------------------------------------------

  #run(conn: Conn, command: string, stdin: ExecOptions["stdin"], timeoutMs: number | undefined, marker: string | undefined): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let channel: ClientChannel | undefined;
      let exit: { code: number | null; signal: string | undefined } | undefined;
      let settled = false;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      let drain: NodeJS.Timeout | undefined;
      const result = (code: number): RunOutcome => ({
        kind: "done",
        result: { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") },
      });
      const finish = (o: RunOutcome): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (drain) clearTimeout(drain);
        resolve(o);
      };
      const exitCode = (): number => {
        if (exit?.code !== null && exit?.code !== undefined) return exit.code;
        const n = exit?.signal !== undefined ? (osConstants.signals as Record<string, number | undefined>)[exit.signal] : undefined;
        return n === undefined ? 1 : 128 + n;
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          if (channel) {
            killRemote(channel);
            channel.close();
          }
          const done = (): void => finish(result(TIMEOUT_EXIT_CODE));
          if (marker !== undefined && conn.alive) this.#killMarked(conn, marker).then(done, done);
          else done();
        }, timeoutMs);
      }
      try {
        conn.client.exec(command, (e, ch) => {
          if (e) {
            // the channel or the exec request failed: when the connection is gone, the command never started
            const gone = !conn.alive || /No response from server|Not connected/i.test(e.message);
            if (gone) finish({ kind: "not-started", error: this.#error("dropped", "the connection was lost before the command started") });
            // sshd refuses a session beyond its MaxSessions ("open failed"), counting ones that are still closing
            else if (/Channel open failure/i.test(e.message)) finish({ kind: "busy", error: this.#error("dropped", `the server refused a new session: ${e.message}`) });
            else finish({ kind: "failed", error: this.#error("dropped", `the server refused to run the command: ${e.message}`) });
            return;
          }
          if (settled) {
            ch.close();
            return;
          }
          channel = ch;
          ch.on("data", (b: Buffer) => out.push(b));
          ch.stderr.on("data", (b: Buffer) => err.push(b));
          ch.on("error", () => undefined);
          ch.on("exit", (code: number | null, signal?: string) => {
            if (timedOut) return;
            exit = { code, signal };
            drain = setTimeout(() => {
              finish(result(exitCode()));
              ch.close();
            }, PIPE_DRAIN_MS);
          });
          ch.on("close", () => {
            if (timedOut) return;
            if (exit) finish(result(exitCode()));
            else finish({ kind: "failed", error: this.#error("dropped", "the connection was lost while the command ran; it may or may not have completed") });
          });
          if (stdin !== undefined) ch.end(Buffer.from(stdin));
          else ch.end();
        });
      } catch (e) {
        finish({ kind: "not-started", error: this.#error("dropped", `the connection was lost before the command started (${(e as Error).message})`) });
      }
    });
  }

  /**
   * Kills every process on the host whose environment carries the marker (the timed-out command and its
   * children). sshd does not pass signal requests to root sessions (no privilege separation after a root
   * login), so a channel signal alone leaves the command running. Waits at most KILL_WAIT_MS.
   */
  #killMarked(conn: Conn, marker: string): Promise<void> {
    const script = `for p in /proc/[0-9]*; do grep -qzx "${EXEC_ID}=$1" "$p/environ" 2>/dev/null && kill -KILL "\${p#/proc/}" 2>/dev/null; done; exit 0`;
    const command = remoteCommand(["sh", "-c", script, "sh", marker], { sudo: this.target.sudo });
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, KILL_WAIT_MS);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      try {
        conn.client.exec(command, (e, ch) => {
          if (e) return done();
          ch.on("error", () => undefined);
          ch.resume();
          ch.stderr.resume();
          ch.on("close", done);
          ch.end();
        });
      } catch {
        done();
      }
    });
  }

  // ---- messages -----------------------------------------------------------------------------

  #error(kind: SshErrorKind, detail: string): SshError {
    return new SshError(kind, this.host, this.endpoint, detail);
  }

  #dialFailure(e: unknown): SshError {
    if (e instanceof SshError) return e;
    if (e instanceof DialError && e.cause instanceof SshError) return this.#error(e.cause.kind, `the jump host failed: ${e.cause.message}`);
    const code = (e as { code?: unknown }).code;
    const msg = (e as Error).message;
    if (code === "ETIMEDOUT") return this.#error("timeout", msg);
    if (code === "ECONNREFUSED") return this.#error("refused", `connection refused (is sshd running and listening on port ${this.target.port}?)`);
    if (code === "EJUMP" && e instanceof DialError) return this.#error("unreachable", msg);
    return this.#error("unreachable", typeof code === "string" ? dialErrorText(code) : msg);
  }

  #clientFailure(e: Error & { level?: string }, auth: AuthPlan, agentNotes: readonly string[], timeoutMs: number, authStarted: boolean): SshError {
    if (e.level === "client-authentication") {
      const notes = agentNotes.length > 0 ? `; agent: ${agentNotes.join("; ")}` : "";
      return this.#error(
        "auth",
        `authentication failed for user ${this.target.user} (tried: ${auth.tried.join(", ")}${notes}); is the public key in that user's authorized_keys?`,
      );
    }
    if (e.level === "client-timeout") {
      const phase = authStarted ? "during authentication" : "during the SSH handshake";
      return this.#error("timeout", `timed out after ${seconds(timeoutMs)} (${phase})`);
    }
    if (e.level === "client-socket" || e.level === "protocol") return this.#error("dropped", `the connection broke during the handshake: ${e.message}`);
    return this.#error("dropped", `SSH handshake failed: ${e.message}`);
  }

  #redact(argv: readonly string[]): string[] {
    const secrets = [...this.#secrets, ...(this.#options.redact ?? [])].filter((s) => s.length > 0);
    return argv.map((w) => secrets.reduce((acc, s) => acc.split(s).join("***"), w));
  }

  #log(event: SshLogEvent): void {
    try {
      this.#options.logger?.(event);
    } catch {
      // a broken logger must not break the transport
    }
  }
}

/**
 * Sends SIGKILL to the remote command (sshd: killpg of the session). Channel.signal() sends nothing once
 * our side of the channel is ended, which it is as soon as stdin is written; the protocol call is what
 * Channel.signal() makes itself.
 */
function killRemote(ch: ClientChannel): void {
  // after our EOF the state is "eof": the channel is still open for requests
  const internal = ch as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
  };
  try {
    const id = internal.outgoing?.id;
    const protocol = internal._client?._protocol;
    if (id !== undefined && (internal.outgoing?.state === "open" || internal.outgoing?.state === "eof") && typeof protocol?.signal === "function") protocol.signal(id, "KILL");
    else ch.signal("KILL");
  } catch {
    // the channel is already gone: nothing left to kill
  }
}

/** "ED25519 key SHA256:…" */
function describeKey(blob: Buffer): string {
  return `${keyTypeLabel(keyTypeOf(blob) ?? "unknown")} key ${keyFingerprint(blob)}`;
}

function expandHome(path: string): string {
  return path === "~" ? homedir() : path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path;
}
