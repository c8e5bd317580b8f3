// What Docker, Swarm and Consul do when the plan does not say. Each value cites where it comes from.
import { makeCidr, overlaps, parseCidr, type Cidr } from "./ip.js";

const cidr = (t: string): Cidr => parseCidr(t)!.cidr;

/** docker0 when the daemon has no --bip (Docker docs, "Use bridge networks"). */
export const DEFAULT_BRIDGE_SUBNET = cidr("172.17.0.0/16");

/**
 * libnetwork's default local address pools (ipamutils.localScopeDefaultNetworks, engine 20.10):
 * 172.17-172.31 as /16s, then 192.168.0.0/16 cut into /20s. Bridges without --subnet, docker_gwbridge
 * included, take the first pool that overlaps nothing the engine already has.
 */
export function* defaultLocalPools(): Generator<Cidr> {
  for (let b = 17; b <= 31; b++) yield cidr(`172.${b}.0.0/16`);
  for (let i = 0; i < 16; i++) yield cidr(`192.168.${i * 16}.0/20`);
}

/** The first default local pool that overlaps none of `taken`; undefined when all are used. */
export function nextLocalPool(taken: readonly Cidr[]): Cidr | undefined {
  for (const p of defaultLocalPools()) if (!taken.some((t) => overlaps(t, p))) return p;
  return undefined;
}

/** Swarm's --default-addr-pool and --default-addr-pool-mask-length (docker swarm init reference). */
export const DEFAULT_SWARM_ADDR_POOL = [cidr("10.0.0.0/8")];
export const DEFAULT_SWARM_POOL_MASK = 24;
/**
 * `ingress`: the first /24 of the default address pool since engine 18.09 (swarmkit takes it from the
 * pool); before, swarmkit hard-coded 10.255.0.0/16 (moby/moby#24220).
 */
export const DEFAULT_INGRESS_SUBNET = cidr("10.0.0.0/24");
export const LEGACY_INGRESS_SUBNET = cidr("10.255.0.0/16");

/** Engine version as [major, minor]; "1.12" → [1, 12], "20.10.24" → [20, 10]; unknown → [99, 0]. */
export function engineVersion(v: string): [number, number] {
  const m = /^(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : [99, 0];
}

export function ingressDefault(version: string, pool: readonly Cidr[], mask: number): Cidr {
  const [maj, min] = engineVersion(version);
  if (maj < 18 || (maj === 18 && min < 9)) return LEGACY_INGRESS_SUBNET;
  return swarmPoolSubnets(pool, mask, []).next().value ?? DEFAULT_INGRESS_SUBNET;
}

/** Carves `count` subnets of /mask from the pool, skipping any that overlap `taken`. */
export function* swarmPoolSubnets(pools: readonly Cidr[], mask: number, taken: readonly Cidr[]): Generator<Cidr> {
  for (const pool of pools) {
    if (mask < pool.prefix) continue;
    const step = 2 ** (32 - mask);
    for (let base = pool.first; base <= pool.last; base += step) {
      const c = makeCidr(base >>> 0, mask);
      if (!taken.some((t) => overlaps(t, c))) yield c;
    }
  }
}

/** VXLAN encapsulation: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (RFC 7348; libnetwork joinleave.go). */
export const VXLAN_OVERHEAD = 50;
/** ESP expansion libnetwork subtracts for --opt encrypted: SPI 4 + seq 4 + IV 8 + pad-len 1 + next 1 + ICV 8. */
export const ESP_OVERHEAD = 26;

/**
 * The MTU of a container's interface on an overlay. com.docker.network.driver.mtu on an overlay is the
 * *underlay* MTU (default 1500): the driver subtracts the VXLAN header, and for encrypted overlays the
 * ESP expansion rounded down to a multiple of 4 (libnetwork drivers/overlay encryption.go, maxMTU).
 * Default overlay: 1450; default encrypted overlay: 1424.
 */
export function overlayInterfaceMtu(driverMtu: number | undefined, encrypted: boolean): number {
  let mtu = (driverMtu ?? DEFAULT_MTU) - VXLAN_OVERHEAD;
  if (encrypted) {
    mtu -= ESP_OVERHEAD;
    mtu -= mtu % 4;
  }
  return mtu;
}

/** Bytes an overlay packet of `inner` bytes occupies on the underlay. */
export function overlayOuterSize(inner: number, encrypted: boolean): number {
  return inner + VXLAN_OVERHEAD + (encrypted ? ESP_OVERHEAD : 0);
}

export const DEFAULT_MTU = 1500;
export const DEFAULT_DATA_PATH_PORT = 4789;
export const SWARM_MANAGER_PORT = 2377;
export const SWARM_GOSSIP_PORT = 7946;

/** Consul's default ports (Consul docs, "Required ports"). */
export const CONSUL_DEFAULT_PORTS = { dns: 8600, http: 8500, serfLan: 8301, serfWan: 8302, server: 8300 } as const;

/** The ICMP echo payload ping sends by default; the IP packet is 28 bytes larger. */
export const DEFAULT_PING_PAYLOAD = 56;
export const ICMP_IP_OVERHEAD = 28;

/** Images whose workload is known to listen on a port when the plan does not say (nginx: 80/tcp). */
const LISTEN_80 = /^(?:[^@:]*\/)?(?:nginx|httpd)(?:[:@]|$)/;
const PORT_80: readonly { port: number; proto: "tcp" }[] = Object.freeze([Object.freeze({ port: 80, proto: "tcp" as const })]);
const NO_PORTS: readonly { port: number; proto: "tcp" }[] = Object.freeze([]);
export function defaultListenPorts(image: string): readonly { port: number; proto: "tcp" }[] {
  return LISTEN_80.test(image) ? PORT_80 : NO_PORTS;
}

/**
 * The paths a stock web server image answers 200 on when run without a command of its own: its default page.
 * undefined: an image crosshost knows nothing about (its own application may serve any path).
 */
const STOCK_WEB = /^(?:[^@:]*\/)?(?:nginx|httpd|busybox)(?:[:@]|$)/;
const DEFAULT_PAGE: readonly string[] = Object.freeze(["/", "/index.html"]);
export function stockWebPaths(c: { readonly image: string; readonly agent?: unknown; readonly command?: readonly string[] }): readonly string[] | undefined {
  // An agent's container runs Consul, and a command of the plan's own may serve anything.
  if (c.agent || (c.command !== undefined && c.command.length > 0)) return undefined;
  return STOCK_WEB.test(c.image) ? DEFAULT_PAGE : undefined;
}
