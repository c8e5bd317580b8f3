import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import type { ExecOptions, ExecResult, Transport } from "../transport.js";

export interface LocalTransportOptions {
  /** Plan name of the host this transport stands for; defaults to "local". */
  readonly host?: string;
  /** Overrides the description used in logs. */
  readonly describe?: string;
  /** Environment added to every command (under the per-command env). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Exit code for a command killed by our timeout, as coreutils `timeout` reports it. */
export const TIMEOUT_EXIT_CODE = 124;
// A command that exited while a background grandchild still holds its stdout/stderr open: stop waiting
// for the pipes after this long, so `sh -c 'daemon &'` does not hang until the timeout.
const PIPE_DRAIN_MS = 250;

/** Runs argv on this machine with child_process.spawn and no shell. */
export class LocalTransport implements Transport {
  readonly host: string;
  readonly describe: string;
  readonly #env: Readonly<Record<string, string>>;
  #closed = false;

  constructor(options: LocalTransportOptions = {}) {
    this.host = options.host ?? "local";
    this.describe = options.describe ?? "local";
    this.#env = options.env ?? {};
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#closed) return Promise.reject(new Error(`transport ${this.describe} is closed`));
    return runArgv(argv, { ...options, env: { ...this.#env, ...options.env } });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/**
 * Spawns argv[0] with the other words as arguments (no shell), feeds stdin, collects stdout/stderr.
 * Never rejects for a failing command: a missing program is code 127, a non-executable one 126,
 * death by signal 128+N, our timeout 124.
 */
export function runArgv(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined || file === "") return Promise.reject(new Error("runArgv: empty argv"));
  return new Promise<ExecResult>((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const child = spawn(file, args, {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const finish = (code: number, extraStderr = ""): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (drainTimer) clearTimeout(drainTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + extraStderr,
      });
    };
    const codeOf = (code: number | null, signal: NodeJS.Signals | null): number => {
      if (timedOut) return TIMEOUT_EXIT_CODE;
      if (code !== null) return code;
      const n = signal ? osConstants.signals[signal] : undefined;
      return n === undefined ? 1 : 128 + n;
    };

    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) => {
      // spawn failures (ENOENT, EACCES) arrive here with no exit event
      if (child.pid === undefined) {
        const code = e.code === "ENOENT" ? 127 : e.code === "EACCES" ? 126 : 1;
        finish(code, `${file}: ${e.message}\n`);
      }
    });
    child.on("exit", (code, signal) => {
      drainTimer = setTimeout(() => finish(codeOf(code, signal)), PIPE_DRAIN_MS);
    });
    child.on("close", (code, signal) => finish(codeOf(code, signal)));

    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, options.timeoutMs);
    }
    const stdin = child.stdin;
    if (stdin) {
      stdin.on("error", () => undefined); // EPIPE when the command does not read its stdin
      if (options.stdin !== undefined) stdin.end(options.stdin);
      else stdin.end();
    }
  });
}
