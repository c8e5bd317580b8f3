import { homedir } from "node:os";
import { KnownHosts } from "./known-hosts.js";
import { parseJump, SshError, SshTransport, type SshEndpoint, type SshTransportOptions } from "./ssh-transport.js";

export interface SshHost {
  /** Plan name of the host. */
  readonly host: string;
  readonly target: SshEndpoint;
}

export interface SshPoolOptions extends Omit<SshTransportOptions, "host" | "target" | "jump"> {
  /** Hosts connected (or worked on by run) at the same time; default 8. */
  readonly concurrency?: number;
}

/** Per-host outcome, as a value: one host failing never hides the others. */
export type HostOutcome<T> =
  | { readonly host: string; readonly ok: true; readonly value: T; readonly ms: number }
  | { readonly host: string; readonly ok: false; readonly error: SshError; readonly ms: number };

/** Runs fn over items with at most `limit` in flight; results in input order, each settled. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      try {
        results[i] = { status: "fulfilled", value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * SSH transports for many hosts: one connection per host (a jump host shared by the hosts behind it,
 * and reused when it is a plan host itself), opened in parallel with a concurrency limit.
 */
export class SshPool {
  readonly concurrency: number;
  readonly knownHosts: KnownHosts;
  readonly #options: SshPoolOptions;
  readonly #byHost = new Map<string, SshTransport>();
  /** Jump transports that are not plan hosts, by "user@address:port". */
  readonly #jumps = new Map<string, SshTransport>();
  #closed = false;

  constructor(options: SshPoolOptions = {}) {
    this.#options = options;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.knownHosts =
      options.knownHosts instanceof KnownHosts ? options.knownHosts : new KnownHosts(options.knownHosts ?? `${homedir()}/.ssh/known_hosts`);
  }

  /** The transports opened so far, by plan host name. */
  get transports(): ReadonlyMap<string, SshTransport> {
    return this.#byHost;
  }

  get(host: string): SshTransport {
    const t = this.#byHost.get(host);
    if (!t) throw new Error(`no SSH transport for host ${JSON.stringify(host)} (opened: ${[...this.#byHost.keys()].join(", ") || "none"})`);
    return t;
  }

  /**
   * Creates a transport per host and connects them, `concurrency` at a time. Never rejects for a host
   * that cannot be reached: its outcome carries the SshError. A host already in the pool is reused.
   */
  async open(hosts: readonly SshHost[]): Promise<HostOutcome<SshTransport>[]> {
    if (this.#closed) throw new Error("the SSH pool is closed");
    const names = new Map(hosts.map((h) => [h.host, h] as const));
    // hosts that others jump through come first, so they exist when those are created
    const created = (h: SshHost, seen: Set<string>): SshTransport => {
      const existing = this.#byHost.get(h.host);
      if (existing) return existing;
      const t = new SshTransport({ ...this.#options, knownHosts: this.knownHosts, host: h.host, target: h.target, jump: this.#jumpFor(h, names, seen) });
      this.#byHost.set(h.host, t);
      return t;
    };
    const transports = hosts.map((h) => created(h, new Set([h.host])));
    const settled = await mapLimit(transports, this.concurrency, async (t) => {
      const t0 = Date.now();
      try {
        await t.connect();
        return { host: t.host, ok: true, value: t, ms: Date.now() - t0 } as const;
      } catch (e) {
        return { host: t.host, ok: false, error: asSshError(e, t), ms: Date.now() - t0 } as const;
      }
    });
    return settled.map((s, i) => (s.status === "fulfilled" ? s.value : { host: hosts[i]?.host ?? "?", ok: false, error: asSshError(s.reason, transports[i]), ms: 0 }));

    function asSshError(e: unknown, t: SshTransport | undefined): SshError {
      return e instanceof SshError ? e : new SshError("dropped", t?.host ?? "?", t?.endpoint ?? "?", (e as Error).message);
    }
  }

  /** Runs fn on each open host (all by default), `concurrency` at a time; outcomes in order. */
  async run<T>(fn: (t: SshTransport) => Promise<T>, hosts: readonly string[] = [...this.#byHost.keys()]): Promise<HostOutcome<T>[]> {
    const settled = await mapLimit(hosts, this.concurrency, async (host) => {
      const t0 = Date.now();
      const value = await fn(this.get(host));
      return { value, ms: Date.now() - t0 };
    });
    return settled.map((s, i): HostOutcome<T> => {
      const host = hosts[i] ?? "?";
      if (s.status === "fulfilled") return { host, ok: true, value: s.value.value, ms: s.value.ms };
      const t = this.#byHost.get(host);
      const error = s.reason instanceof SshError ? s.reason : new SshError("dropped", host, t?.endpoint ?? "?", (s.reason as Error).message);
      return { host, ok: false, error, ms: 0 };
    });
  }

  /** Closes every connection (hosts and jump hosts). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#byHost.values(), ...this.#jumps.values()];
    this.#byHost.clear();
    this.#jumps.clear();
    await Promise.all(all.map((t) => t.close()));
  }

  #jumpFor(h: SshHost, names: ReadonlyMap<string, SshHost>, seen: Set<string>): SshTransport | undefined {
    if (h.target.jump === undefined) return undefined;
    let j: SshEndpoint;
    try {
      j = parseJump(h.target.jump, h.target);
    } catch {
      return undefined; // the host's own transport reports the bad jump when it connects
    }
    // `jump: consul-server-1` names a plan host: tunnel through that host's own connection
    const planHost = names.get(j.address) ?? (this.#byHost.has(j.address) ? { host: j.address, target: this.#byHost.get(j.address)!.target } : undefined);
    if (planHost && !seen.has(planHost.host)) {
      const existing = this.#byHost.get(planHost.host);
      if (existing) return existing;
      seen.add(planHost.host);
      const t = new SshTransport({
        ...this.#options, knownHosts: this.knownHosts, host: planHost.host, target: planHost.target, jump: this.#jumpFor(planHost, names, seen),
      });
      this.#byHost.set(planHost.host, t);
      return t;
    }
    // (a loop of plan hosts falls through to a plain connection to the address)
    const key = `${j.user}@${j.address}:${j.port}`;
    let t = this.#jumps.get(key);
    if (!t) {
      t = new SshTransport({ ...this.#options, knownHosts: this.knownHosts, host: `jump host ${j.address}`, target: j });
      this.#jumps.set(key, t);
    }
    return t;
  }
}
