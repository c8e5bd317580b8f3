// Addresses and subnets: duplicates on one L2 domain, reserved and out-of-subnet addresses, exhausted
// pools, and overlapping subnets on each host (Docker's own networks, implicit ones included, against
// each other and against the host's NICs, routes and declared external networks).
import { diag, type Diagnostic, type PlanPath } from "../diagnostics.js";
import { formatIp, overlaps, type Cidr } from "../ip.js";
import { baseNic } from "../net/topology.js";
import { instanceOn, type Host, type Network } from "../plan.js";
import { l2Domain, listOf, type RuleContext } from "./context.js";

/** Allocation problems found while predicting Docker's IPAM (moby/moby#49921 for the per-host case). */
export function allocationFindings(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const p of ctx.allocation.problems) {
    const where = p.host ? ` on ${p.host}` : "";
    switch (p.kind) {
      case "in_use":
        out.push(diag("duplicate_address", {
          path: p.path, host: p.host,
          message: `${formatIp(p.ip!)} on "${p.network}"${where} is already taken by ${p.holder}`,
          hint: p.holder && !p.holder.startsWith("aux") ? `Give ${p.container} another address, or keep dynamic allocations away from fixed ones with an ip_range.` : `Choose an address that is not an aux address.`,
        }));
        break;
      case "reserved":
        out.push(diag("reserved_address", {
          path: p.path, host: p.host,
          message: `${p.container} is given ${formatIp(p.ip!)}, the ${p.holder === "gateway" ? "gateway" : "network or broadcast address"} of "${p.network}"`,
          hint: "Pick an address that is neither the first, the last, nor the gateway of the subnet.",
        }));
        break;
      case "outside":
        out.push(diag("address_outside_subnet", {
          path: p.path, host: p.host,
          message: `${p.container}'s address ${formatIp(p.ip!)} is outside the subnet of "${p.network}"`,
          hint: "Docker refuses --ip outside --subnet; choose an address inside it.",
        }));
        break;
      case "exhausted":
        out.push(diag("pool_exhausted", {
          path: p.path, host: p.host,
          message: `"${p.network}"${where} has no free address left for ${p.container}`,
          hint: "Widen the subnet or ip_range (an overlay also spends one address per node on its load balancer).",
        }));
        break;
    }
  }
  return out;
}

interface Claim {
  readonly who: string;
  readonly path: PlanPath;
  readonly host?: string;
}

/**
 * The same address claimed twice on one L2 domain. Per Docker network instance the IPAM already refuses
 * it (allocationFindings); this catches what no single engine can see: two hosts' macvlan containers,
 * host NICs, shims and routers on one switch (lab-notes §2: same IP → same MAC → FDB flapping).
 */
export function duplicateAddresses(ctx: RuleContext): Diagnostic[] {
  const { plan, index } = ctx;
  const out: Diagnostic[] = [];
  const claims = new Map<string, Claim>();
  const claim = (domain: string, ip: number, c: Claim) => {
    const key = `${domain}|${ip}`;
    const first = claims.get(key);
    if (!first) {
      claims.set(key, c);
      return;
    }
    out.push(diag("duplicate_address", {
      path: c.path, host: c.host,
      message: `${formatIp(ip)} is used by ${c.who} and by ${first.who} on the same L2 segment`,
      hint: "Give each one its own address; on a macvlan segment nothing refuses the duplicate, traffic just flips between them.",
      related: [{ path: first.path, message: `${first.who} has it too` }],
    }));
  };
  for (const s of plan.segments) for (const r of s.routers) claims.set(`${s.name}|${r}`, { who: `the router on ${s.name}`, path: s.path });
  for (const h of plan.hosts) {
    for (const n of h.nics) claim(l2Domain(ctx, h.name, n.name), n.ip, { who: `${h.name}'s ${n.name}`, path: [...n.path, "address"], host: h.name });
    for (const sh of h.shims) claim(l2Domain(ctx, h.name, sh.parent), sh.ip, { who: `${h.name}'s shim ${sh.name}`, path: [...sh.path, "address"], host: h.name });
  }
  // macvlan/ipvlan containers: the segment (or VLAN) of their parent, across hosts.
  for (const c of plan.containers) {
    c.attachments.forEach((a) => {
      const n = index.networks.get(a.network);
      if (!n || (n.driver !== "macvlan" && n.driver !== "ipvlan")) return;
      const inst = instanceOn(n, c.host);
      const ip = ctx.allocation.addresses.get(c.name, a.network);
      if (!inst?.parent || ip === undefined) return;
      claim(l2Domain(ctx, c.host, inst.parent), ip, { who: `${c.name} on ${c.host}${a.ip === undefined ? " (assigned by " + c.host + "'s IPAM)" : ""}`, path: a.path, host: c.host });
    });
  }
  return out;
}

interface Item {
  readonly cidr: Cidr;
  readonly kind: "docker" | "nic" | "route" | "external";
  readonly label: string;
  readonly id: string;
  /** Swarm-wide or plan-wide items: the same on every host. */
  readonly global: boolean;
  readonly network?: Network;
  readonly parent?: string;
  readonly path: PlanPath;
  /** Another host's LAN (a destination, not this host's own interface). */
  readonly lan?: boolean;
}

/**
 * Overlapping subnets on one host. Docker refuses overlapping local pools ('Pool overlaps with other one
 * on this address space', moby/moby#46438); swarm networks, docker_gwbridge and explicit subnets are not
 * checked against host routes at all (libnetwork requestPoolHelper), so the overlap shows up as an
 * unreachable range (moby/moby#24220, #27890, #21357). Sort and sweep per host; findings that are the
 * same on every host are reported once with the list of hosts.
 */
export function subnetOverlaps(ctx: RuleContext): Diagnostic[] {
  const { plan } = ctx;
  const swarmHosts = new Set(plan.swarm?.nodes.map((n) => n.host) ?? []);
  const overlays = plan.networks.filter((n) => n.scope === "swarm");
  const localByHost = new Map<string, Item[]>();
  for (const n of plan.networks) {
    if (n.scope !== "local") continue;
    for (const inst of n.instances) {
      if (inst.host === undefined) continue;
      let list = localByHost.get(inst.host);
      if (!list) localByHost.set(inst.host, (list = []));
      const label = n.name === "bridge" ? `the default bridge docker0 (${inst.subnet.text})` : n.name === "docker_gwbridge" ? `docker_gwbridge (${inst.subnet.text})` : `${n.driver} network "${n.name}" (${inst.subnet.text})`;
      list.push({ cidr: inst.subnet, kind: "docker", label, id: n.name, global: false, network: n, path: inst.path, ...(inst.parent ? { parent: baseNic(inst.parent) } : {}) });
    }
  }
  const globalItems: Item[] = [
    ...overlays.map((n) => ({ cidr: n.instances[0]!.subnet, kind: "docker" as const, label: `${n.ingress ? "the swarm's ingress network" : `overlay "${n.name}"`} (${n.instances[0]!.subnet.text})`, id: n.name, global: true, network: n, path: n.instances[0]!.path })),
  ];
  const externals: Item[] = plan.externals.map((e) => ({ cidr: e.cidr, kind: "external" as const, label: `external network "${e.name}" (${e.cidr.text})`, id: `external:${e.name}`, global: true, path: e.path }));
  // Every plan host's LAN is a destination for the others (through their gateways): a Docker network
  // on it makes that LAN unreachable from this host.
  const lans = new Map<string, Item>();
  for (const h of plan.hosts) {
    h.nics.forEach((n) => {
      if (!lans.has(n.cidr.text)) lans.set(n.cidr.text, { cidr: n.cidr, kind: "external", label: `the LAN ${n.cidr.text} of ${h.name}`, id: `lan:${n.cidr.text}`, global: true, path: [...n.path, "address"], lan: true });
    });
  }
  const grouped = new Map<string, { a: Item; b: Item; hosts: string[] }>();
  for (const h of plan.hosts) {
    const own = new Set(h.nics.map((n) => n.cidr.text));
    const items: Item[] = [...(localByHost.get(h.name) ?? []), ...externals, ...[...lans.values()].filter((l) => !own.has(l.cidr.text))];
    if (swarmHosts.has(h.name)) items.push(...globalItems);
    for (const n of h.nics) items.push({ cidr: n.cidr, kind: "nic", label: `${h.name}'s ${n.name} subnet ${n.cidr.text}`, id: `nic:${n.name}`, global: false, parent: n.name, path: [...n.path, "address"] });
    h.routes.forEach((r, i) => {
      if (r.to.prefix > 0) items.push({ cidr: r.to, kind: "route", label: `${h.name}'s route to ${r.to.text}`, id: `route:${r.to.text}`, global: false, path: [...h.path, "routes", i] });
    });
    items.sort((x, y) => x.cidr.first - y.cidr.first || y.cidr.last - x.cidr.last);
    const active: Item[] = [];
    for (const it of items) {
      for (let k = active.length - 1; k >= 0; k--) if (active[k]!.cidr.last < it.cidr.first) active.splice(k, 1);
      for (const other of active) {
        if (!overlaps(other.cidr, it.cidr) || !conflicting(other, it, h)) continue;
        const [a, b] = other.id < it.id ? [other, it] : [it, other];
        const key = a.global && b.global ? `${a.id}|${b.id}` : `${a.id}|${b.id}|${a.global || b.global ? "" : h.name}|${a.cidr.text}|${b.cidr.text}`;
        const g = grouped.get(key);
        if (g) g.hosts.push(h.name);
        else grouped.set(key, { a, b, hosts: [h.name] });
      }
      active.push(it);
    }
  }
  const out: Diagnostic[] = [];
  for (const { a, b, hosts } of grouped.values()) {
    const [docker, other] = a.kind === "docker" ? [a, b] : [b, a];
    const onHosts = hosts.length === 1 ? `on ${hosts[0]}` : `on ${hosts.length} hosts (${listOf(hosts)})`;
    out.push(diag("subnet_overlap", {
      path: docker.path, host: hosts.length === 1 ? hosts[0] : undefined,
      message: `${docker.label} overlaps ${other.label} ${onHosts}`,
      hint: overlapHint(docker, other),
      related: [{ path: other.path, message: other.label }],
    }));
  }
  return out;
}

function conflicting(x: Item, y: Item, h: Host): boolean {
  if (x.kind !== "docker" && y.kind !== "docker") return false;
  // A macvlan/ipvlan network on its parent's LAN subnet is the intended use, not a collision.
  const [d, o] = x.kind === "docker" ? [x, y] : [y, x];
  const drv = d.network?.driver;
  if ((drv === "macvlan" || drv === "ipvlan") && o.kind === "nic" && d.parent === o.parent) return false;
  // A macvlan network on a LAN is meant to share it; other hosts' LANs are not its business.
  if ((drv === "macvlan" || drv === "ipvlan") && o.lan) return false;
  // Two hosts' LANs, or a LAN and an external network, are not Docker's.
  if (o.kind !== "docker" && d.kind !== "docker") return false;
  void h;
  return true;
}

function overlapHint(docker: Item, other: Item): string {
  const n = docker.network;
  if (n?.name === "docker_gwbridge") return "Pin docker_gwbridge to a free range before swarm init/join (hosts[].docker.gwbridge.subnet): leave the swarm, remove docker_gwbridge, create it with --subnet, then join again.";
  if (n?.name === "bridge") return "Move docker0 elsewhere with the daemon's \"bip\" (hosts[].docker.bridge.subnet).";
  if (n?.ingress) return "Recreate the ingress network on a free range (swarm.ingress.subnet), or choose swarm.default_addr_pool away from your networks.";
  if (other.kind === "docker") return "Give each Docker network on a host its own range.";
  return `Choose a subnet for "${n?.name}" that your hosts do not already use or route to.`;
}
