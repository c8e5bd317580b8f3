// macvlan and ipvlan: parents, per-host IPAM on a shared segment, gateways that must exist, underlays
// that must accept extra MAC addresses, the parent/child isolation, and the kernel features behind them.
import { diag, type Diagnostic } from "../diagnostics.js";
import { contains, formatIp, overlaps, type Cidr } from "../ip.js";
import { baseNic, vlanId } from "../net/topology.js";
import { ipSpoofFilter, macFilter } from "../net/trace.js";
import { instanceOn, PUBLIC_CLOUDS, shimDriver, type KernelFeature, type Network, type NetworkInstance } from "../plan.js";
import { l2Domain, listOf, type RuleContext } from "./context.js";

function isL3(n: Network): boolean {
  return n.driver === "ipvlan" && (n.mode === "l3" || n.mode === "l3s");
}

function macvlans(ctx: RuleContext): Network[] {
  return ctx.plan.networks.filter((n) => n.driver === "macvlan" || n.driver === "ipvlan");
}

/** The parent must be a NIC of the host, or an 802.1q sub-interface of one (Docker creates eth0.10). */
export function macvlanParents(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const n of macvlans(ctx)) {
    for (const inst of n.instances) {
      const h = ctx.index.hosts.get(inst.host!);
      if (!h || inst.parent === undefined) continue;
      const base = baseNic(inst.parent);
      const vid = vlanId(inst.parent);
      if (inst.parent.includes(".") && (vid === undefined || vid < 1 || vid > 4094)) {
        out.push(diag("invalid_value", { path: inst.path, host: h.name, message: `parent ${inst.parent}: a VLAN id must be 1-4094`, hint: "Write parent: eth0.10 for VLAN 10." }));
        continue;
      }
      if (!h.nics.some((x) => x.name === base)) {
        out.push(diag("macvlan_parent_missing", {
          path: n.instances.length > 0 && inst.path !== n.path ? inst.path : [...n.path, "parent"], host: h.name,
          message: `${n.driver} network "${n.name}": ${h.name} has no interface ${base}${vid !== undefined ? ` (for ${inst.parent})` : ""}`,
          hint: `${h.name}'s interfaces: ${h.nics.map((x) => x.name).join(", ") || "none"}. Use one of them as parent.`,
        }));
      }
    }
  }
  return out;
}

/** A shim's parent must exist too (a VLAN sub-interface needs its base NIC). */
export function shimParents(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const h of ctx.plan.hosts) {
    h.shims.forEach((s) => {
      if (h.nics.some((n) => n.name === baseNic(s.parent))) return;
      out.push(diag("macvlan_parent_missing", {
        path: [...s.path, "parent"], host: h.name,
        message: `shim ${s.name} on ${h.name}: there is no interface ${baseNic(s.parent)}`,
        hint: `${h.name}'s interfaces: ${h.nics.map((x) => x.name).join(", ") || "none"}.`,
      }));
    });
  }
  return out;
}

/**
 * One macvlan network per parent on engines before 26.0 ("network … is already using parent interface",
 * moby/libnetwork#2384); since moby/moby#47318 only passthru mode conflicts.
 */
export function macvlanParentShared(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const byParent = new Map<string, { n: Network; inst: NetworkInstance }[]>();
  for (const n of macvlans(ctx)) {
    for (const inst of n.instances) {
      if (inst.parent === undefined || inst.host === undefined) continue;
      // Per driver: a macvlan and an ipvlan network on one parent are macvlanIpvlanMixed's finding.
      const key = `${inst.host}|${inst.parent}|${n.driver}`;
      const list = byParent.get(key) ?? [];
      list.push({ n, inst });
      byParent.set(key, list);
    }
  }
  for (const [key, list] of byParent) {
    if (list.length < 2) continue;
    const [hostName, parent] = key.split("|") as [string, string];
    const h = ctx.index.hosts.get(hostName)!;
    const major = Number(h.docker.version.split(".")[0]);
    const passthru = list.some((x) => x.n.mode === "passthru");
    if (major >= 26 && !passthru) continue;
    const [first, ...rest] = list;
    for (const x of rest) {
      out.push(diag("macvlan_parent_shared", {
        path: x.inst.path === x.n.path ? [...x.n.path, "parent"] : x.inst.path, host: hostName,
        message: `"${x.n.name}" and "${first!.n.name}" both use ${parent} on ${hostName}${passthru ? " (passthru mode)" : ` (engine ${h.docker.version})`}`,
        hint: `Use an 802.1q sub-interface for the second network, e.g. parent: ${parent}.20.`,
        related: [{ path: first!.n.path, message: `"${first!.n.name}" uses ${parent} first` }],
      }));
    }
  }
  out.push(...macvlanIpvlanMixed(ctx));
  return out;
}

/**
 * One parent carries macvlan or ipvlan children, never both: the kernel refuses the second kind with "Device or
 * resource busy" (containernetworking/cni#7), and Docker fails the container start that would create it
 * (moby/libnetwork#964: "ensure there are no macvlan networks using the same -o parent"). Networks and shims both count.
 */
function macvlanIpvlanMixed(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  interface User { kind: "macvlan" | "ipvlan"; what: string; path: (string | number)[] }
  const byParent = new Map<string, User[]>();
  const add = (host: string, parent: string, u: User) => {
    const key = `${host}|${parent}`;
    const list = byParent.get(key);
    if (list) list.push(u);
    else byParent.set(key, [u]);
  };
  for (const n of macvlans(ctx)) {
    for (const inst of n.instances) {
      if (inst.parent === undefined || inst.host === undefined) continue;
      add(inst.host, inst.parent, { kind: n.driver as "macvlan" | "ipvlan", what: `network "${n.name}"`, path: inst.path === n.path ? [...n.path, "driver"] : [...inst.path] });
    }
  }
  for (const h of ctx.plan.hosts) {
    for (const sh of h.shims) add(h.name, sh.parent, { kind: shimDriver(ctx.plan, h.name, sh).type, what: `shim ${sh.name}`, path: [...sh.path, sh.type ? "type" : "parent"] });
  }
  for (const [key, users] of byParent) {
    const first = users[0]!;
    const other = users.find((u) => u.kind !== first.kind);
    if (!other) continue;
    const [hostName, parent] = key.split("|") as [string, string];
    out.push(diag("macvlan_parent_shared", {
      path: other.path, host: hostName,
      message: `${other.what} (${other.kind}) and ${first.what} (${first.kind}) both hang off ${parent} on ${hostName}: a NIC carries macvlan or ipvlan children, not both`,
      hint: `Use one driver on ${parent}, or put the ${other.kind} side on an 802.1q sub-interface such as ${parent}.20.`,
      related: [{ path: first.path, message: `${first.what} is ${first.kind} on ${parent}` }],
    }));
  }
  return out;
}

/**
 * macvlan IPAM is per host (moby/moby#49921, #33793): hosts on one segment whose allocation ranges
 * overlap hand out the same addresses. Error when some container takes a dynamic address from an
 * overlapping range; warning when every container has a fixed one (the next one without --ip collides).
 */
export function macvlanRangeOverlap(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const dynamicOn = new Set<string>();
  for (const c of ctx.plan.containers) {
    for (const a of c.attachments) if (a.ip === undefined) dynamicOn.add(`${a.network}@${c.host}`);
  }
  interface R { n: Network; inst: NetworkInstance; range: Cidr; dynamic: boolean }
  const bySegment = new Map<string, R[]>();
  for (const n of macvlans(ctx)) {
    for (const inst of n.instances) {
      if (inst.host === undefined || inst.parent === undefined || inst.invalidRange) continue;
      const seg = ctx.index.segmentOfNic.get(`${inst.host}/${baseNic(inst.parent)}`) ?? `nic:${inst.host}`;
      const vid = vlanId(inst.parent);
      const key = seg + (vid !== undefined ? `.${vid}` : "");
      const list = bySegment.get(key) ?? [];
      list.push({ n, inst, range: inst.ipRange ?? inst.subnet, dynamic: dynamicOn.has(`${n.name}@${inst.host}`) });
      bySegment.set(key, list);
    }
  }
  for (const list of bySegment.values()) {
    list.sort((a, b) => a.range.first - b.range.first);
    const active: R[] = [];
    for (const r of list) {
      for (let k = active.length - 1; k >= 0; k--) if (active[k]!.range.last < r.range.first) active.splice(k, 1);
      for (const o of active) {
        if (o.inst.host === r.inst.host || !overlaps(o.range, r.range)) continue;
        const dynamic = o.dynamic || r.dynamic;
        const noRange = (!o.inst.ipRange && !r.inst.ipRange) || o.range.text === r.range.text;
        out.push(diag("macvlan_ip_range_overlap", {
          severity: dynamic ? "error" : "warning",
          path: r.inst.path, host: r.inst.host,
          message: `${r.inst.host} and ${o.inst.host} both allocate "${r.n.name}"${r.n.name !== o.n.name ? `/"${o.n.name}"` : ""} addresses from ${noRange ? r.range.text : `${r.range.text} and ${o.range.text}`} on one segment${dynamic ? ": they hand out the same addresses" : "; a container started without --ip will collide"}`,
          hint: "Give each host a disjoint ip_range (hosts: [{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }]).",
          related: [{ path: o.inst.path, message: `${o.inst.host}'s range` }],
        }));
      }
      active.push(r);
    }
  }
  out.push(...macvlanPoolTakesOthers(ctx));
  return out;
}

/**
 * A host's macvlan IPAM knows only its own network: host NICs, shims and routers on the segment are
 * invisible to it, so one inside its allocation pool (ip_range, else the subnet) is handed to a container
 * sooner or later and the segment has the address twice (moby/moby#49921). Aux addresses and the gateway
 * are what Docker keeps out of the pool. A warning: the duplicate only appears once the pool reaches it.
 */
function macvlanPoolTakesOthers(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (macvlans(ctx).length === 0) return out;
  interface Claim { ip: number; who: string; host?: string }
  const byDomain = new Map<string, Claim[]>();
  const add = (dom: string, c: Claim) => {
    const list = byDomain.get(dom);
    if (list) list.push(c);
    else byDomain.set(dom, [c]);
  };
  for (const sg of ctx.plan.segments) for (const r of sg.routers) add(sg.name, { ip: r, who: `the router ${formatIp(r)} on ${sg.name}` });
  for (const h of ctx.plan.hosts) {
    for (const n of h.nics) add(l2Domain(ctx, h.name, n.name), { ip: n.ip, who: `${h.name}'s ${n.name}`, host: h.name });
    for (const sh of h.shims) add(l2Domain(ctx, h.name, sh.parent), { ip: sh.ip, who: `${h.name}'s shim ${sh.name}`, host: h.name });
  }
  for (const list of byDomain.values()) list.sort((a, b) => a.ip - b.ip);
  for (const n of macvlans(ctx)) {
    for (const inst of n.instances) {
      if (inst.host === undefined || inst.parent === undefined || inst.invalidRange) continue;
      const claims = byDomain.get(l2Domain(ctx, inst.host, inst.parent));
      if (!claims) continue;
      const pool = inst.ipRange ?? inst.subnet;
      let lo = 0;
      let hi = claims.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (claims[mid]!.ip < pool.first) lo = mid + 1;
        else hi = mid;
      }
      // One finding per pool, naming every address inside it: hosts on one LAN sharing one pool would
      // otherwise get a finding per host and per NIC.
      const inside: Claim[] = [];
      for (let k = lo; k < claims.length && claims[k]!.ip <= pool.last; k++) {
        const c = claims[k]!;
        if (c.ip === inst.gateway || c.ip === inst.subnet.first || c.ip === inst.subnet.last || inst.auxAddresses.some((a) => a.ip === c.ip)) continue;
        inside.push(c);
      }
      if (inside.length === 0) continue;
      const one = inside.length === 1;
      const named = inside.map((c) => `${formatIp(c.ip)} (${c.who})`);
      out.push(diag("macvlan_ip_range_overlap", {
        severity: "warning",
        path: inst.ipRange ? [...inst.path, "ip_range"] : inst.path, host: inst.host,
        message: `${listOf(named)} ${one ? "is" : "are"} inside ${inst.host}'s ${inst.ipRange ? "ip_range" : "subnet"} ${pool.text} for "${n.name}": ${inst.host}'s IPAM does not know ${one ? "it" : "them"} and will hand ${one ? "it" : "them"} to a container`,
        hint: one
          ? `Move ${inside[0]!.who.replace(/^the /, "")} outside ${pool.text}, or keep it out of ${inst.host}'s pool with aux_addresses: { reserved: ${formatIp(inside[0]!.ip)} }.`
          : `Give ${inst.host} an ip_range that holds none of them, or keep them out of its pool with aux_addresses (one name per address).`,
      }));
    }
  }
  return out;
}

/** The gateway of a macvlan network must exist on its segment, or containers have no way off it. */
export function macvlanGatewayAbsent(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const n of macvlans(ctx)) {
    // ipvlan L3 children have no gateway: Docker gives them a default route through the interface and the
    // master's namespace routes for them (docker docs, ipvlan L3 mode), so nothing on the segment needs it.
    if (isL3(n)) continue;
    const missingOn: string[] = [];
    let gw: number | undefined;
    let subnet: Cidr | undefined;
    for (const inst of n.instances) {
      if (inst.host === undefined || inst.parent === undefined) continue;
      const seg = ctx.topo.nicDomain.get(`${inst.host}/${baseNic(inst.parent)}`);
      const vid = vlanId(inst.parent);
      const dom = seg ? ctx.topo.domains.get(seg + (vid !== undefined ? `.${vid}` : "")) : undefined;
      if (!dom) continue;
      if (!dom.members.has(inst.gateway)) {
        missingOn.push(inst.host);
        gw = inst.gateway;
        subnet = inst.subnet;
      }
    }
    if (missingOn.length === 0 || gw === undefined) continue;
    const lanNic = ctx.index.hosts.get(missingOn[0]!)?.nics.find((x) => x.name === baseNic(n.instances[0]?.parent ?? ""));
    const lan = lanNic?.cidr;
    const onLan = lan !== undefined && subnet !== undefined && lan.text === subnet.text;
    const notLan = lan && subnet && !onLan ? ` (${subnet.text} is not the LAN's subnet ${lan.text})` : "";
    const router = lanNic?.gateway;
    out.push(diag("macvlan_gateway_absent", {
      path: [...n.path, "gateway"],
      message: `no device on the segment holds "${n.name}"'s gateway ${formatIp(gw)}${notLan}: containers reach each other but nothing beyond`,
      hint: !lan ? "Declare the router in segments[].routers, or use the LAN's subnet and router."
        : !onLan ? `Use the LAN's subnet and router (subnet: ${lan.text}, gateway: its router) and keep host addresses out with ip_range or aux_addresses; or declare the router in segments[].routers.`
        : router !== undefined && router !== gw ? `"${n.name}" already uses the LAN's subnet: set gateway: ${formatIp(router)} (the LAN's router, ${missingOn[0]}'s ${lanNic!.name} gateway), or declare ${formatIp(gw)} in segments[].routers if a router holds it.`
        : `"${n.name}" already uses the LAN's subnet: declare its router ${formatIp(gw)} in segments[].routers, or set gateway to the address of the LAN's router.`,
    }));
  }
  return out;
}

/** The underlay must accept frames from MAC addresses it did not assign (docker/docs#15855, moby/moby#30772). */
export function macvlanUnderlay(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const n of ctx.plan.networks) {
    if (n.driver === "ipvlan") {
      // ipvlan children use the parent's MAC, so only address checks stop them (the simulator's ipSpoofFilter).
      for (const inst of n.instances) {
        const h = inst.host ? ctx.index.hosts.get(inst.host) : undefined;
        const filter = h ? ipSpoofFilter(h) : undefined;
        if (!h || !filter) continue;
        out.push(diag("macvlan_cloud_mac_filter", {
          path: h.platform.path, host: h.name,
          message: `ipvlan "${n.name}" on ${h.name}: ${filter} drops packets from container addresses not assigned to the VM's NIC; containers reach nothing beyond the host`,
          hint: h.platform.kind === "openstack" ? "Add allowed-address-pairs for the containers' addresses (then say promiscuous: accept), or use an overlay." : "Turn the provider's source/destination check off for the NIC and route the containers' subnet to the VM in the cloud's route table (then say source_check: false), or use an overlay.",
        }));
      }
      continue;
    }
    if (n.driver !== "macvlan") continue;
    for (const inst of n.instances) {
      const h = inst.host ? ctx.index.hosts.get(inst.host) : undefined;
      if (!h) continue;
      const filter = macFilter(h);
      if (!filter) continue;
      const cloud = PUBLIC_CLOUDS.includes(h.platform.kind) || h.platform.kind === "openstack";
      out.push(diag(cloud ? "macvlan_cloud_mac_filter" : "macvlan_promiscuous_required", {
        path: h.platform.path, host: h.name,
        message: `macvlan "${n.name}" on ${h.name}: ${filter} drops frames of container MAC addresses${cloud ? "; containers reach nothing beyond the host" : ""}`,
        hint: h.platform.kind === "openstack" ? "Disable port security on the port or add allowed-address-pairs for the containers' MACs/IPs (then say promiscuous: accept), or use an overlay." : cloud ? "On a public cloud use an overlay, or ipvlan L3 with the container subnet routed to the VM in the VPC route table and the source/destination check off (then say source_check: false)." : h.platform.kind === "hyperv" ? "Enable MAC address spoofing on the VM's network adapter." : "Set the port group's security policy: promiscuous mode Accept and forged transmits Accept.",
      }));
    }
  }
  return out;
}

/** A host and its own macvlan children cannot talk (moby/libnetwork#1915): info, unless a shim exists. */
export function macvlanHostIsolation(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const byHost = new Map<string, string[]>();
  // Whether the other hosts reach them directly: only when the macvlan subnet is on the parent's LAN.
  const onLan = new Map<string, boolean>();
  const driverOn = new Map<string, Set<string>>();
  for (const c of ctx.plan.containers) {
    for (const a of c.attachments) {
      const n = ctx.index.networks.get(a.network);
      if (n?.driver !== "macvlan" && n?.driver !== "ipvlan") continue;
      const inst = instanceOn(n, c.host);
      const h = ctx.index.hosts.get(c.host);
      if (!inst?.parent || !h) continue;
      const shims = h.shims.filter((s) => s.parent === inst.parent);
      if (shims.length > 0) {
        // A shim helps only where it routes: its routes (or its own subnet) must cover the container's address.
        const ip = ctx.allocation.addresses.get(c.name, a.network);
        if (ip !== undefined && !shims.some((s) => contains(s.cidr, ip) || s.routes.some((r) => contains(r, ip)))) {
          out.push(diag("macvlan_host_isolation", {
            severity: "warning", path: [...shims[0]!.path, "routes"], host: c.host,
            message: `${c.host}'s shim ${shims[0]!.name} routes ${shims[0]!.routes.map((r) => r.text).join(", ") || "nothing"}, not ${formatIp(ip)} of its own container ${c.name}: the host still cannot reach it`,
            hint: `Add ${inst.ipRange?.text ?? `${formatIp(ip)}/32`} (${c.host}'s own range) to the shim's routes.`,
          }));
        }
        continue;
      }
      const list = byHost.get(c.host) ?? [];
      list.push(c.name);
      byHost.set(c.host, list);
      const kind = isL3(n) ? "ipvlan L3" : n.driver;
      driverOn.set(c.host, (driverOn.get(c.host) ?? new Set()).add(kind));
      const nic = h.nics.find((x) => x.name === baseNic(inst.parent!));
      // L3 children answer no ARP: even on the LAN's subnet other hosts need a route via this host.
      onLan.set(c.host, (onLan.get(c.host) ?? true) && kind !== "ipvlan L3" && nic !== undefined && overlaps(nic.cidr, inst.subnet));
    }
  }
  for (const [host, names] of byHost) {
    const kinds = [...driverOn.get(host)!];
    const kind = kinds.join("/");
    const l3 = kinds.includes("ipvlan L3");
    out.push(diag("macvlan_host_isolation", {
      path: ctx.index.hosts.get(host)!.path, host,
      message: `${host} cannot reach its own ${kind} container${names.length > 1 ? "s" : ""} ${listOf(names)}${onLan.get(host) ? " (other hosts on the LAN can)" : l3 ? ` (other hosts only through a route to their addresses via ${host}: L3 children answer no ARP)` : ` (other hosts only through a router that routes the ${kind} subnet: it is not their LAN's)`}`,
      hint: `Add a ${kinds.some((k) => k.startsWith("ipvlan")) ? "shim (hosts[].shims; it takes the ipvlan driver and mode of the network on its parent)" : "macvlan shim on the host (hosts[].shims)"} if the host itself must talk to them.`,
    }));
  }
  return out;
}

/** What each host's kernel must provide for the networks it runs. */
export function kernelFeatures(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const need = new Map<string, Map<KernelFeature, string>>();
  const want = (host: string, f: KernelFeature, why: string) => {
    let m = need.get(host);
    if (!m) need.set(host, (m = new Map()));
    if (!m.has(f)) m.set(f, why);
  };
  const swarmHosts = ctx.plan.swarm?.nodes.map((n) => n.host) ?? [];
  for (const n of ctx.plan.networks) {
    if (n.driver === "macvlan" || n.driver === "ipvlan") {
      for (const inst of n.instances) {
        if (!inst.host) continue;
        want(inst.host, n.driver, `${n.driver} network "${n.name}"`);
        if (inst.parent?.includes(".")) want(inst.host, "8021q", `parent ${inst.parent} of "${n.name}" (a VLAN sub-interface)`);
      }
    }
    if (n.driver === "overlay" && !n.implicit) {
      for (const h of swarmHosts) {
        want(h, "vxlan", `overlay "${n.name}"`);
        if (n.encrypted) want(h, "esp", `encrypted overlay "${n.name}" (IPsec ESP)`);
      }
    }
  }
  for (const h of ctx.plan.hosts) for (const sh of h.shims) want(h.name, shimDriver(ctx.plan, h.name, sh).type, `shim ${sh.name}`);
  for (const h of swarmHosts) want(h, "vxlan", "the swarm's ingress overlay");
  for (const [host, feats] of need) {
    const h = ctx.index.hosts.get(host);
    if (!h) continue;
    for (const [f, why] of feats) {
      if (h.kernel[f]) continue;
      out.push(diag("kernel_feature_missing", {
        path: [...h.path, "kernel", f], host,
        message: `${host}'s kernel has no ${f}, which ${why} needs`,
        hint: f === "8021q" ? "modprobe 8021q (and add it to /etc/modules)." : f === "esp" ? "The kernel needs XFRM/ESP support for encrypted overlays; or drop encrypted." : `modprobe ${f} (and add it to /etc/modules), or choose another driver.`,
      }));
    }
  }
  return out;
}
