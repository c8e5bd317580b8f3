import type { ExecOptions, ExecResult, Transport } from "../transport.js";
import { runArgv, TIMEOUT_EXIT_CODE } from "./local-transport.js";

export interface DindTransportOptions {
  /** Plan name of the lab host. */
  readonly host: string;
  /** Name (or id) of the node container in the outer engine. */
  readonly container: string;
  /** The outer engine, e.g. "unix:///var/run/docker.sock". */
  readonly dockerHost: string;
  /** Environment added to every command inside the node (under the per-command env). */
  readonly env?: Readonly<Record<string, string>>;
}

// after the in-node `timeout` has had its chance (it also kills the command inside the node), the local
// docker CLI gets this much longer before it is killed itself
const CLIENT_GRACE_MS = 5_000;

/**
 * Runs argv inside a docker-in-docker node with `docker exec` (no shell: the words go to the node as they
 * are). Inside the node `docker` talks to the node's own dockerd. A timeout runs the command under the
 * node's `timeout`, so the command itself dies too, and reports 124.
 */
export class DindTransport implements Transport {
  readonly host: string;
  readonly describe: string;
  readonly #container: string;
  readonly #dockerHost: string;
  readonly #env: Readonly<Record<string, string>>;
  #closed = false;

  constructor(options: DindTransportOptions) {
    this.host = options.host;
    this.describe = `dind ${options.container}`;
    this.#container = options.container;
    this.#dockerHost = options.dockerHost;
    this.#env = options.env ?? {};
  }

  /** The `docker exec` argv that exec() runs on this machine. */
  execArgv(argv: readonly string[], options: ExecOptions = {}): string[] {
    const env = { ...this.#env, ...options.env };
    const timeout =
      options.timeoutMs !== undefined ? ["timeout", "-k", "2", (Math.max(options.timeoutMs, 1) / 1000).toFixed(3)] : [];
    return [
      "docker", "-H", this.#dockerHost, "exec",
      ...(options.stdin !== undefined ? ["-i"] : []),
      ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
      this.#container,
      ...timeout,
      ...argv,
    ];
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#closed) throw new Error(`transport ${this.describe} is closed`);
    if (argv.length === 0) throw new Error("DindTransport.exec: empty argv");
    const t0 = Date.now();
    const r = await runArgv(this.execArgv(argv, options), {
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs + CLIENT_GRACE_MS } : {}),
    });
    // `timeout -k` exits 124, or 137 when the command needed the KILL
    if (options.timeoutMs !== undefined && (r.code === TIMEOUT_EXIT_CODE || (r.code === 137 && Date.now() - t0 >= options.timeoutMs))) {
      return { ...r, code: TIMEOUT_EXIT_CODE };
    }
    // docker exec reports a missing program as 126 with an OCI error on stdout; the Transport contract says 127
    const oci = /OCI runtime exec failed.*(executable file not found|no such file or directory)/i;
    if (r.code === 126 && oci.test(r.stdout)) return { code: 127, stdout: "", stderr: r.stderr + r.stdout };
    if (r.code === 126 && oci.test(r.stderr)) return { ...r, code: 127 };
    return r;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
