// IPv4 arithmetic on unsigned 32-bit numbers. Parsing and classification go through ipaddr.js; the
// interval math stays on plain numbers so that the validator can sort and sweep 100k addresses fast.
import ipaddr from "ipaddr.js";

export type Ip = number;

export interface Cidr {
  /** Network address (the prefix applied), as an unsigned 32-bit number. */
  readonly base: Ip;
  readonly prefix: number;
  /** First and last address of the block, inclusive. */
  readonly first: Ip;
  readonly last: Ip;
  readonly text: string;
}

const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/**
 * Parses dotted-quad IPv4 text strictly (four decimal parts, no leading zeros); undefined otherwise.
 * It accepts exactly what ipaddr.js's isValidFourPartDecimal accepts (a property test holds them
 * together) but without its allocations: plans with 100k addresses parse on this path.
 */
export function parseIp(text: string): Ip | undefined {
  if (typeof text !== "string") return undefined;
  const m = DOTTED_QUAD.exec(text);
  if (!m) return undefined;
  const a = +m[1]!, b = +m[2]!, c = +m[3]!, d = +m[4]!;
  if (a > 255 || b > 255 || c > 255 || d > 255) return undefined;
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** The reference parser, through ipaddr.js. */
export function parseIpReference(text: string): Ip | undefined {
  if (typeof text !== "string" || !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  const parts = ipaddr.IPv4.parse(text).octets;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIp(ip: Ip): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function makeCidr(ip: Ip, prefix: number): Cidr {
  const base = (ip & maskOf(prefix)) >>> 0;
  const last = (base + 2 ** (32 - prefix) - 1) >>> 0;
  return { base, prefix, first: base, last, text: `${formatIp(base)}/${prefix}` };
}

export interface ParsedInterfaceAddress {
  readonly ip: Ip;
  readonly cidr: Cidr;
}

/**
 * Parses "a.b.c.d/len". `aligned` tells whether the address is the network address itself: Docker
 * refuses a subnet such as 172.29.0.5/16, while a NIC address such as 192.168.1.71/24 is fine.
 */
export function parseCidr(text: string): { ip: Ip; cidr: Cidr; aligned: boolean } | undefined {
  if (typeof text !== "string") return undefined;
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,2}$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  if (prefix > 32) return undefined;
  const cidr = makeCidr(ip, prefix);
  return { ip, cidr, aligned: cidr.base === ip };
}

export function contains(cidr: Cidr, ip: Ip): boolean {
  return ip >= cidr.first && ip <= cidr.last;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** True when b lies entirely inside a. */
export function covers(a: Cidr, b: Cidr): boolean {
  return b.first >= a.first && b.last <= a.last;
}

export function size(cidr: Cidr): number {
  return cidr.last - cidr.first + 1;
}

/** Addresses a host or container may use: all but the network and broadcast address (RFC 3021 /31 and /32 excepted). */
export function usableCount(cidr: Cidr): number {
  return cidr.prefix >= 31 ? size(cidr) : size(cidr) - 2;
}

export function isNetworkOrBroadcast(cidr: Cidr, ip: Ip): boolean {
  if (cidr.prefix >= 31) return false;
  return ip === cidr.first || ip === cidr.last;
}

/**
 * Private IPv4 as Consul counts them when it picks an advertise address by itself (consul ipaddr/detect.go,
 * GetPrivateIPv4): RFC 1918, 100.64/10, 169.254/16, 192.0.0.0/24 and 192.0.2.0/24, on every interface
 * that is up, Docker bridges included (hashicorp/consul#11453).
 */
const CONSUL_PRIVATE: readonly Cidr[] = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16"].map((t) => parseCidr(t)!.cidr);

export function isConsulPrivate(ip: Ip): boolean {
  return CONSUL_PRIVATE.some((c) => contains(c, ip));
}

/** Global unicast IPv4 (what Swarm considers when it picks an advertise address). */
export function isGlobalUnicast(ip: Ip): boolean {
  const range = ipaddr.IPv4.parse(formatIp(ip)).range();
  return range !== "loopback" && range !== "linkLocal" && range !== "multicast" && range !== "broadcast" && range !== "unspecified";
}

export function isUnspecified(ip: Ip): boolean {
  return ip === 0;
}

export function isLoopback(ip: Ip): boolean {
  return ip >>> 24 === 127;
}

/** The n-th address of a block (0 = network address). */
export function nth(cidr: Cidr, n: number): Ip {
  return (cidr.first + n) >>> 0;
}

/**
 * Ranges no container or host address can come from (RFC 1122 section 3.2.1.3, RFC 5771, RFC 1112): "this
 * network" 0/8, loopback 127/8 (the kernel drops it off lo as a martian), multicast 224/4 and reserved 240/4.
 */
const UNUSABLE: readonly { cidr: Cidr; what: string }[] = [
  { cidr: makeCidr(0, 8), what: '"this network" (0.0.0.0/8)' },
  { cidr: makeCidr(0x7f000000, 8), what: "loopback (127.0.0.0/8)" },
  { cidr: makeCidr(0xe0000000, 4), what: "multicast (224.0.0.0/4)" },
  { cidr: makeCidr(0xf0000000, 4), what: "reserved (240.0.0.0/4)" },
];

/** What kind of unusable range `c` overlaps, or undefined when it holds only ordinary unicast addresses. */
export function unusableRange(c: Cidr): string | undefined {
  return UNUSABLE.find((u) => overlaps(u.cidr, c))?.what;
}
