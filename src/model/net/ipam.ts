// Docker's address allocation, predicted. Local networks: each engine has its own IPAM, which reserves
// the gateway and aux addresses, honours a fixed --ip, and otherwise hands out the first free address of
// the ip-range (or subnet). Overlays: one allocator in the swarm managers for the whole cluster, and each
// node that gets its first endpoint on an overlay also gets a load-balancer address there (lab-notes §1d:
// the second container on a fresh overlay received .4, after .2 for the first and .3 for its node).
import { contains, isNetworkOrBroadcast, type Cidr, type Ip } from "../ip.js";
import { instanceOn, type Container, type Network, type NetworkInstance, type Plan } from "../plan.js";
import type { PlanPath } from "../diagnostics.js";

export interface AllocationProblem {
  readonly kind: "in_use" | "exhausted" | "outside" | "reserved";
  readonly container: string;
  readonly network: string;
  readonly host?: string;
  readonly ip?: Ip;
  /** Who had the address first. */
  readonly holder?: string;
  readonly path: PlanPath;
}

/**
 * Container addresses for the whole plan: one map per network, keyed by container (a Map per container
 * costs too much at 100k, and a concatenated "container/network" key costs a new string per lookup).
 */
export class AddressBook {
  private readonly byNetwork = new Map<string, Map<string, Ip>>();
  private count = 0;

  set(container: string, network: string, ip: Ip): void {
    let m = this.byNetwork.get(network);
    if (!m) this.byNetwork.set(network, (m = new Map()));
    if (!m.has(container)) this.count++;
    m.set(container, ip);
  }

  get(container: string, network: string): Ip | undefined {
    return this.byNetwork.get(network)?.get(container);
  }

  get size(): number {
    return this.count;
  }
}

export interface Allocation {
  /** (container, network) → address. */
  readonly addresses: AddressBook;
  /** overlay network → host → the node's load-balancer endpoint address. */
  readonly lbAddresses: ReadonlyMap<string, ReadonlyMap<string, Ip>>;
  readonly problems: readonly AllocationProblem[];
}

/** The IPAM of one network instance: the set of addresses in use and who holds them. */
export class InstancePool {
  private readonly used = new Map<Ip, string>();
  private next: Ip;

  constructor(readonly instance: NetworkInstance) {
    const range = instance.ipRange ?? instance.subnet;
    this.next = range.first;
    this.used.set(instance.gateway, "gateway");
    for (const a of instance.auxAddresses) if (!this.used.has(a.ip)) this.used.set(a.ip, `aux address ${a.name}`);
  }

  holder(ip: Ip): string | undefined {
    return this.used.get(ip);
  }

  /** Reserves a fixed address; returns the current holder when it is taken. */
  claim(ip: Ip, who: string): { ok: true } | { ok: false; kind: "in_use" | "outside" | "reserved"; holder?: string } {
    const subnet = this.instance.subnet;
    if (!contains(subnet, ip)) return { ok: false, kind: "outside" };
    if (isNetworkOrBroadcast(subnet, ip)) return { ok: false, kind: "reserved" };
    const h = this.used.get(ip);
    if (h !== undefined) return { ok: false, kind: h === "gateway" ? "reserved" : "in_use", holder: h };
    this.used.set(ip, who);
    return { ok: true };
  }

  /** The first free address of the ip-range (or subnet), as Docker's default IPAM hands them out. */
  allocate(who: string): Ip | undefined {
    const range: Cidr = this.instance.ipRange ?? this.instance.subnet;
    const subnet = this.instance.subnet;
    for (let ip = Math.max(range.first, this.next); ip <= range.last; ip++) {
      if (isNetworkOrBroadcast(subnet, ip) || this.used.has(ip)) continue;
      this.used.set(ip, who);
      this.next = ip + 1;
      return ip;
    }
    return undefined;
  }

  release(ip: Ip): void {
    const h = this.used.get(ip);
    if (h !== undefined && h !== "gateway" && !h.startsWith("aux address")) this.used.delete(ip);
  }

  /** Restart the first-free scan (after releases). */
  rewind(): void {
    this.next = (this.instance.ipRange ?? this.instance.subnet).first;
  }
}

export function poolKey(network: string, host: string | undefined): string {
  return host === undefined ? network : `${network}@${host}`;
}

/** The instance of `network` a container on `host` joins. */
export function instanceFor(n: Network, host: string): NetworkInstance | undefined {
  return instanceOn(n, host);
}

/**
 * The order containers start in, as compileSteps runs them: Consul agents first, then the plan's containers in
 * plan order. IPAM hands out addresses in start order (first free address), so this is what fixes who gets .2.
 */
export function startOrder(plan: Plan): Container[] {
  return [...plan.containers.filter((c) => c.agent !== undefined), ...plan.containers.filter((c) => c.agent === undefined)];
}

/**
 * Predicts every container's addresses, containers taken in `order` (the order their steps run;
 * startOrder by default). Problems (an address already in use, an exhausted pool) are returned, not thrown.
 */
export function allocateAddresses(plan: Plan, order: readonly Container[] = startOrder(plan)): Allocation {
  const networks = new Map(plan.networks.map((n) => [n.name, n] as const));
  const pools = new Map<string, InstancePool>();
  const pool = (n: Network, host: string): InstancePool | undefined => {
    const inst = instanceFor(n, host);
    if (!inst) return undefined;
    const key = poolKey(n.name, inst.host);
    let p = pools.get(key);
    if (!p) pools.set(key, (p = new InstancePool(inst)));
    return p;
  };
  const addresses = new AddressBook();
  const lbAddresses = new Map<string, Map<string, Ip>>();
  const problems: AllocationProblem[] = [];
  // Fixed addresses are claimed when their container starts, in order, like Docker does; a dynamic
  // allocation before it may already have taken the address.
  for (const c of order) {
    for (const a of c.attachments) {
      const n = networks.get(a.network);
      if (!n) continue;
      const p = pool(n, c.host);
      if (!p) continue;
      const host = n.scope === "local" ? c.host : undefined;
      if (a.ip !== undefined) {
        const res = p.claim(a.ip, c.name);
        if (res.ok) addresses.set(c.name, a.network, a.ip);
        else problems.push({ kind: res.kind, container: c.name, network: a.network, ip: a.ip, path: a.path, ...(host ? { host } : {}), ...(res.holder ? { holder: res.holder } : {}) });
      } else {
        const ip = p.allocate(c.name);
        if (ip !== undefined) addresses.set(c.name, a.network, ip);
        else problems.push({ kind: "exhausted", container: c.name, network: a.network, path: a.path, ...(host ? { host } : {}) });
      }
      if (n.scope === "swarm") {
        let lbs = lbAddresses.get(n.name);
        if (!lbs) lbAddresses.set(n.name, (lbs = new Map()));
        if (!lbs.has(c.host)) {
          const lb = p.allocate(`lb-${n.name}@${c.host}`);
          if (lb !== undefined) lbs.set(c.host, lb);
        }
      }
    }
  }
  return { addresses, lbAddresses, problems };
}
