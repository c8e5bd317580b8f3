import type { ExecOptions, ExecResult, Transport } from "../transport.js";
import { runArgv } from "./local-transport.js";

export interface NetnsTransportOptions {
  /** Plan name of the lab host. */
  readonly host: string;
  /** Name of the network namespace under /run/netns. */
  readonly netns: string;
  /** Persistent UTS namespace file of the host (so `hostname` answers the host's name); optional. */
  readonly utsFile?: string;
  /** DOCKER_HOST of the host's own dockerd, e.g. "unix:///var/lib/crosshost/labs/x/h/docker.sock". */
  readonly dockerHost?: string;
  /** Environment added to every command (under the per-command env). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs argv inside a lab host: `nsenter --net=/run/netns/<ns> [--uts=<file>] -- argv...`, with DOCKER_HOST
 * set to that host's daemon. Uses nsenter, not `ip netns exec`, which remounts /sys in a new mount namespace
 * and hides /sys/fs/cgroup (lab-notes 1b).
 */
export class NetnsTransport implements Transport {
  readonly host: string;
  readonly describe: string;
  readonly #prefix: readonly string[];
  readonly #env: Readonly<Record<string, string>>;
  #closed = false;

  constructor(options: NetnsTransportOptions) {
    this.host = options.host;
    this.describe = `netns ${options.netns}`;
    this.#prefix = [
      "nsenter",
      `--net=/run/netns/${options.netns}`,
      ...(options.utsFile !== undefined ? [`--uts=${options.utsFile}`] : []),
      "--",
    ];
    this.#env = {
      ...(options.dockerHost !== undefined ? { DOCKER_HOST: options.dockerHost } : {}),
      ...options.env,
    };
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#closed) return Promise.reject(new Error(`transport ${this.describe} is closed`));
    if (argv.length === 0) return Promise.reject(new Error("NetnsTransport.exec: empty argv"));
    return runArgv([...this.#prefix, ...argv], { ...options, env: { ...this.#env, ...options.env } });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
