// Untrusted plan data → Plan. Fills Docker's and Consul's defaults, checks every reference, and reports
// each problem as a diagnostic. Elements whose references are broken are left out of the Plan so that
// the rules after it never meet a dangling name; the reference itself is reported once, here.
import { diag, didYouMean, type PlanPath } from "../diagnostics.js";
import {
  CONSUL_DEFAULT_PORTS, DEFAULT_BRIDGE_SUBNET, DEFAULT_DATA_PATH_PORT, DEFAULT_MTU, ingressDefault,
  DEFAULT_PING_PAYLOAD, DEFAULT_SWARM_ADDR_POOL, DEFAULT_SWARM_POOL_MASK, defaultListenPorts, nextLocalPool, swarmPoolSubnets,
} from "../defaults.js";
import { parseFault } from "../faults.js";
import { contains, covers, formatIp, isNetworkOrBroadcast, makeCidr, nth, parseCidr, parseIp, type Cidr, type Ip } from "../ip.js";
import {
  instanceOn, KERNEL_FEATURES, type AddressRef, type AgentAddressKind, type Attachment, type Consul, type ConsulAgent, type ConsulAgentConfig, type Container,
  type DockerEngine, type Endpoint, type Expectation, type External, type Fault, type Firewall, type FirewallRule,
  type HealthCheck, type Host, type KernelFeature, type Network, type NetworkDriver, type NetworkInstance, type Nic,
  type Plan, type Platform, type PlatformKind, type Proto, type Publish, type Route, type Segment, type ServiceRegistration,
  type Shim, type SshTarget, type Swarm, type SwarmNode, type Target,
} from "../plan.js";
import {
  ABS_PATH, ABS_PATH_HINT, CONTAINER_NAME, CONTAINER_NAME_HINT, DOCKER_NAME, DOCKER_NAME_HINT, DURATION, DURATION_HINT, durationMs, ENV_NAME, ENV_NAME_HINT, HOST_NAME,
  HOST_NAME_HINT, IMAGE_REF, IMAGE_REF_HINT, LABEL_KEY, NIC_NAME, NIC_NAME_HINT, SAFE_TEXT, SAFE_TEXT_HINT, URL_PATH, USER_NAME,
} from "./names.js";
import { cidrValue, describe, interfaceAddress, ipValue, Reader, truncate, type Obj } from "./reader.js";

export const PLAN_KEYS = ["crosshost", "name", "description", "hosts", "segments", "external", "networks", "swarm", "consul", "containers", "services", "expect", "faults"] as const;
const HOST_KEYS = ["name", "nics", "routes", "kernel", "docker", "firewall", "platform", "shims", "underlay", "ports_in_use", "ssh"];
const NIC_KEYS = ["name", "address", "mtu", "gateway"];
const ROUTE_KEYS = ["to", "via", "dev"];
const DOCKER_KEYS = ["version", "bridge", "gwbridge"];
const BRIDGE_KEYS = ["subnet", "gateway", "mtu"];
const FIREWALL_KEYS = ["inbound", "icmp", "allow"];
const RULE_KEYS = ["proto", "port", "from"];
const PLATFORM_KEYS = ["kind", "promiscuous", "forged_transmits", "mac_spoofing", "vswitch", "source_check"];
const SHIM_KEYS = ["name", "parent", "type", "address", "routes"];
const UNDERLAY_KEYS = ["vxlan_ports"];
const SSH_KEYS = ["address", "port", "user", "key_file", "agent", "passphrase_env", "password_env", "sudo", "jump"];
const SEGMENT_KEYS = ["name", "mtu", "members", "routers"];
const EXTERNAL_KEYS = ["name", "subnet"];
const NETWORK_KEYS = ["name", "driver", "hosts", "subnet", "gateway", "ip_range", "aux_addresses", "parent", "mode", "attachable", "encrypted", "internal", "mtu", "create_on"];
const NETWORK_HOST_KEYS = ["host", "subnet", "gateway", "ip_range", "aux_addresses", "parent"];
const SWARM_KEYS = ["init", "managers", "workers", "nodes", "data_path_port", "default_addr_pool", "default_addr_pool_mask_length", "ingress"];
const SWARM_NODE_KEYS = ["host", "role", "advertise_addr", "listen_addr", "join"];
const INGRESS_KEYS = ["subnet", "gateway", "mtu"];
const CONSUL_KEYS = ["datacenter", "image", "agents"];
const AGENT_KEYS = ["name", "host", "server", "bootstrap_expect", "bootstrap", "bind_addr", "advertise_addr", "client_addr", "retry_join", "start_join", "ports", "leave_on_terminate", "ui", "data_dir", "log_level", "network", "previous_advertise_addr", "config_file", "flags", "datacenter", "image"];
const FLAG_KEYS = ["server", "bootstrap_expect", "bootstrap", "bind", "advertise", "client", "retry_join", "join", "datacenter", "ui", "node"];
const PORT_KEYS = ["dns", "http", "https", "grpc", "serf_lan", "serf_wan", "server"];
const AGENT_NET_KEYS = ["network", "ip", "publish"];
const CONTAINER_KEYS = ["name", "host", "image", "networks", "network_mode", "publish", "listen", "command", "labels"];
const ATTACH_KEYS = ["network", "ip", "aliases"];
const PUBLISH_KEYS = ["host_port", "container_port", "proto", "host_ip"];
const SERVICE_KEYS = ["id", "name", "agent", "address", "port", "tags", "check", "provider", "consumers"];
const CHECK_KEYS = ["type", "address", "port", "path", "interval", "timeout"];
const ADDRESS_KEYS = ["container", "network", "host"];
const EXPECT_KINDS = ["reach", "no_reach", "consul_leader", "swarm_leader", "service_passing", "service_critical", "sees_network", "not_sees_network"];
const REACH_KEYS = ["from", "to", "by", "size", "proto", "port"];
const SEES_KEYS = ["host", "network"];
const PLATFORM_KINDS: readonly PlatformKind[] = ["bare-metal", "vsphere", "hyperv", "kvm", "virtualbox", "openstack", "aws", "gcp", "azure", "other"];
const RESERVED_NETWORK_NAMES = ["bridge", "host", "none", "docker_gwbridge", "ingress"];
/** Docker's default network: not user-defined, so no fixed addresses or aliases on it. */
const DEFAULT_BRIDGE = "bridge";
const MACVLAN_MODES = ["bridge", "private", "vepa", "passthru"];
const IPVLAN_MODES = ["l2", "l3", "l3s"];

export interface ReadResult {
  plan: Plan;
  reader: Reader;
}

/** Reads a parsed document. Always returns a Plan (possibly empty); problems are in reader.diagnostics. */
export function readPlan(value: unknown): ReadResult {
  const r = new Reader();
  const ctx = new PlanReader(r);
  const plan = ctx.read(value);
  return { plan, reader: r };
}

type Named = { name: string; path: PlanPath };

class PlanReader {
  // Everything declared, broken or not: reference checks use these so one bad host does not cascade.
  private hostNames = new Set<string>();
  private networkNames = new Set<string>();
  private containerNames = new Set<string>();
  private agentNames = new Set<string>();
  private serviceIds = new Set<string>();
  private segmentNames = new Set<string>();

  constructor(private readonly r: Reader) {}

  read(value: unknown): Plan {
    const empty: Plan = { name: "plan", hosts: [], segments: [], externals: [], networks: [], containers: [], services: [], expectations: [], faults: [] };
    if (value === undefined || value === null) {
      this.r.report(diag("missing_field", { path: [], message: "the plan is empty", hint: "Start with a hosts: list; `crosshost scenarios` shows complete examples." }));
      return empty;
    }
    const o = this.r.object(value, [], "the plan", PLAN_KEYS);
    if (!o) return empty;
    const version = o.get("crosshost");
    if (version !== undefined && version !== 1) {
      const what = typeof version === "number" && Number.isFinite(version) ? `plan format version ${version} is not supported` : `plan format version must be 1, not ${describe(version)}`;
      this.r.invalid(o.at("crosshost"), what, "Write crosshost: 1, or leave it out.");
    }
    const name = o.str("name", { pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT }) ?? "plan";
    const description = o.str("description", { pattern: /^[\s\S]*$/ });

    this.collectNames(o.get("hosts"), "name", this.allHostNames);
    const hosts = this.unique(o.list("hosts", "hosts", (v, p) => this.host(v, p)), "host", this.hostNames);
    if (!o.has("hosts")) o.missing("hosts", "Add a hosts: list with at least one host.");
    const hostIndex = new Map(hosts.map((h) => [h.name, h] as const));
    const segments = this.segments(o, hosts, hostIndex);
    const externals = this.unique(o.list("external", "external", (v, p) => this.external(v, p)), "external network", new Set());
    const swarm = o.has("swarm") ? this.swarm(o.get("swarm"), o.at("swarm"), hostIndex) : undefined;

    // Names of everything first, so that references in any order resolve.
    this.collectNames(o.get("networks"), "name", this.networkNames);
    this.collectNames(o.get("containers"), "name", this.containerNames);
    const consulRaw = o.get("consul");
    if (consulRaw && typeof consulRaw === "object") this.collectNames((consulRaw as Record<string, unknown>).agents, "name", this.agentNames);
    this.collectNames(o.get("services"), "id", this.serviceIds);
    // Containers may name the default bridge, and Docker's swarm networks in a swarm; "host" and "none" are network modes.
    for (const n of o.has("swarm") ? ["bridge", "docker_gwbridge", "ingress"] : ["bridge"]) this.networkNames.add(n);

    const userNetworks = this.unique(o.list("networks", "networks", (v, p) => this.network(v, p, hostIndex, swarm, o.has("swarm"))), "network", new Set());
    const consul = o.has("consul") ? this.consul(o.get("consul"), o.at("consul"), hostIndex) : undefined;
    const rawContainers = o.list("containers", "containers", (v, p) => this.container(v, p, hostIndex));
    const agentContainers = (consul?.agents ?? []).map((a) => agentContainer(a));
    // Each agent runs as a container named after it: expectations, services and faults may name it.
    for (const a of agentContainers) this.containerNames.add(a.name);
    const containerIndex = new Map<string, Container>();
    const containers = this.uniqueBy(agentContainers.length > 0 ? [...rawContainers, ...agentContainers] : rawContainers, (c) => c.name, "container", undefined, containerIndex);
    const networks = this.finishNetworks(userNetworks, hosts, swarm, containers, externals);
    this.checkAttachments(containers, networks, hostIndex);
    const services = this.uniqueBy(o.list("services", "services", (v, p) => this.service(v, p, consul, containerIndex)), (s) => s.id, "service");
    const expectations = o.list("expect", "expect", (v, p) => this.expectation(v, p, containerIndex, hostIndex, networks));
    const faults = o.list("faults", "faults", (v, p) => this.fault(v, p, segments)).flat();

    return {
      name,
      ...(description !== undefined ? { description } : {}),
      hosts, segments, externals, networks,
      ...(swarm ? { swarm } : {}),
      ...(consul ? { consul } : {}),
      containers, services, expectations, faults,
    };
  }

  // ---- helpers -----------------------------------------------------------------------------

  private collectNames(list: unknown, key: string, into: Set<string>): void {
    if (!Array.isArray(list)) return;
    for (const item of list) {
      const v = item && typeof item === "object" ? (item as Record<string, unknown>)[key] : undefined;
      if (typeof v === "string") into.add(v);
    }
  }

  private unique<T extends Named>(xs: T[], what: string, names: Set<string>): T[] {
    return this.uniqueBy(xs, (x) => x.name, what, names);
  }

  /** `scope`: where the names must be unique, for the hint. */
  private uniqueBy<T extends { path: PlanPath }>(xs: T[], key: (x: T) => string, what: string, names?: Set<string>, seen = new Map<string, T>(), scope = "in a plan"): T[] {
    const out: T[] = [];
    for (const x of xs) {
      const k = key(x);
      const first = seen.get(k);
      if (first) {
        this.r.report(diag("duplicate_name", {
          path: x.path,
          message: `${what} "${k}" is defined twice`,
          hint: `Rename one of them; names of ${what}s must be unique ${scope}.`,
          related: [{ path: first.path, message: "first defined here" }],
        }));
        continue;
      }
      seen.set(k, x);
      names?.add(k);
      out.push(x);
    }
    return out;
  }

  /** `path` may be a function: it is only built when the reference is broken (100k containers each name a host). */
  private ref(kind: string, name: string, known: Set<string>, at: PlanPath | (() => PlanPath), kinds = `${kind}s`): boolean {
    if (known.has(name)) return true;
    const path = typeof at === "function" ? at() : at;
    const guess = didYouMean(name, known);
    this.r.report(diag("unknown_reference", {
      path,
      message: `no ${kind} named "${truncate(name)}"${guess ? `; did you mean "${guess}"?` : ""}`,
      hint: guess ? `Write "${guess}", or define the ${kind}.` : known.size > 0 ? `Known ${kinds}: ${[...known].slice(0, 8).join(", ")}${known.size > 8 ? ", …" : ""}.` : `Define the ${kind} first.`,
    }));
    return false;
  }

  private proto(o: Obj, key: string, dflt: Proto): Proto {
    return (o.str(key, { oneOf: ["tcp", "udp"] }) as Proto | undefined) ?? dflt;
  }

  // ---- hosts -------------------------------------------------------------------------------

  private host(v: unknown, path: PlanPath): Host | undefined {
    const o = this.r.object(v, path, "a host", HOST_KEYS);
    if (!o) return undefined;
    const name = o.str("name", { required: true, pattern: HOST_NAME, patternHint: HOST_NAME_HINT });
    const nics = this.uniqueBy(o.list("nics", "nics", (nv, np) => this.nic(nv, np)), (n) => n.name, "NIC", undefined, undefined, "on a host");
    if (!o.has("nics")) o.missing("nics", "Add nics: [{ name: ens34, address: 192.168.1.71/24 }].", name !== undefined ? `host "${name}"` : undefined);
    else if (nics.length === 0 && Array.isArray(o.get("nics")) && (o.get("nics") as unknown[]).length === 0) {
      this.r.invalid(o.at("nics"), `${name !== undefined ? `host "${name}"` : "a host"} has an empty nics list`, "A host needs at least one NIC: nics: [{ name: ens34, address: 192.168.1.71/24 }].");
    }
    // A route through an interface the host does not have cannot be installed (ip route: "Cannot find device").
    const routes = o.list("routes", "routes", (rv, rp) => this.route(rv, rp)).filter((rt) => {
      if (rt.dev === undefined || nics.some((n) => n.name === rt.dev) || nics.length === 0) return true;
      this.r.report(diag("unknown_reference", {
        path: [...rt.path, "dev"],
        message: `the route to ${rt.to.text} goes through dev ${rt.dev}, which is not a NIC of this host`,
        hint: `Name one of the host's NICs (${nics.map((n) => n.name).join(", ")}), or route via a gateway.`,
      }));
      return false;
    });
    for (const rt of routes) {
      if (rt.via !== undefined && !nics.some((n) => contains(n.cidr, rt.via!))) {
        this.r.report(diag("address_outside_subnet", {
          path: [...rt.path, "via"],
          message: `the route to ${rt.to.text} goes via ${fmt(rt.via)}, which is on none of this host's NIC subnets (${nics.map((n) => n.cidr.text).join(", ") || "no NICs"})`,
          hint: "A gateway must be on a directly connected subnet; use the router of one of the host's LANs.",
        }));
      }
    }
    const kernel = this.kernel(o);
    const docker = this.docker(o, [...nics.map((n) => n.cidr), ...routes.filter((rt) => rt.to.prefix > 0).map((rt) => rt.to)]);
    const firewall = o.has("firewall") ? this.firewall(o.get("firewall"), o.at("firewall")) : undefined;
    const platform = this.platform(o);
    const shims = o.list("shims", "shims", (sv, sp) => this.shim(sv, sp));
    const underlay = o.object("underlay", "underlay", UNDERLAY_KEYS);
    const underlayVxlanPorts = underlay ? underlay.list("vxlan_ports", "vxlan_ports", (pv, pp) => this.port(pv, pp)) : [];
    const portsInUse = o.list("ports_in_use", "ports_in_use", (pv, pp) => this.portSpec(pv, pp));
    const ssh = o.has("ssh") ? this.ssh(o.get("ssh"), o.at("ssh")) : undefined;
    // Without a NIC (none listed, or none readable) a host has no address: everything downstream needs one.
    if (name === undefined || nics.length === 0) return undefined;
    return {
      name, nics, routes, kernel, docker, platform, shims, underlayVxlanPorts, portsInUse, path,
      ...(firewall ? { firewall } : {}),
      ...(ssh ? { ssh } : {}),
    };
  }

  private nic(v: unknown, path: PlanPath): Nic | undefined {
    const o = this.r.object(v, path, "a NIC", NIC_KEYS);
    if (!o) return undefined;
    const name = o.str("name", { required: true, pattern: NIC_NAME, patternHint: NIC_NAME_HINT });
    const addr = o.has("address") ? interfaceAddress(this.r, o.get("address"), o.at("address"), "address") : o.missing("address", "Add address: 192.168.1.71/24 (address and prefix length).");
    const mtu = o.num("mtu", { min: 68, max: 65535 }) ?? DEFAULT_MTU;
    const gateway = o.ip("gateway");
    if (name === undefined || addr === undefined) return undefined;
    if (isNetworkOrBroadcast(addr.cidr, addr.ip) && addr.ip === addr.cidr.last) {
      // The kernel takes it, but to the other hosts of the subnet it is the broadcast address: they send to
      // every host at once (ping asks for -b and refuses), never to this NIC alone.
      this.r.report(diag("reserved_address", {
        severity: "warning", path: o.at("address"),
        message: `${name}'s address ${fmt(addr.ip)} is the broadcast address of ${addr.cidr.text}: other hosts on the segment send to every host at it, not to this NIC`,
        hint: `Give ${name} an address between the first and the last of ${addr.cidr.text}.`,
      }));
    }
    if (gateway !== undefined && !contains(addr.cidr, gateway)) {
      this.r.report(diag("address_outside_subnet", {
        path: o.at("gateway"),
        message: `gateway ${fmt(gateway)} is not in ${name}'s subnet ${addr.cidr.text}`,
        hint: `Use the router of ${addr.cidr.text}, or correct the NIC's prefix length.`,
      }));
    }
    return { name, ip: addr.ip, cidr: addr.cidr, mtu, path, ...(gateway !== undefined ? { gateway } : {}) };
  }

  private route(v: unknown, path: PlanPath): Route | undefined {
    const o = this.r.object(v, path, "a route", ROUTE_KEYS);
    if (!o) return undefined;
    const toText = o.str("to", { required: true });
    const to = toText === undefined ? undefined : toText === "default" ? makeCidr(0, 0) : cidrValue(this.r, toText, o.at("to"), "to", true);
    const via = o.ip("via");
    const dev = o.str("dev", { pattern: NIC_NAME, patternHint: NIC_NAME_HINT });
    if (to === undefined) return undefined;
    if (via === undefined && dev === undefined) {
      this.r.invalid(path, "a route needs via (a gateway) or dev (an interface)", "Add via: <gateway address>.");
      return undefined;
    }
    return { to, path, ...(via !== undefined ? { via } : {}), ...(dev !== undefined ? { dev } : {}) };
  }

  private kernel(o: Obj): Record<KernelFeature, boolean> {
    // A literal, not Object.fromEntries: 10k hosts' feature records then share one shape.
    const out: Record<KernelFeature, boolean> = { macvlan: true, ipvlan: true, vxlan: true, "8021q": true, esp: true, bridge: true };
    const k = o.object("kernel", "kernel", KERNEL_FEATURES);
    if (k) for (const f of KERNEL_FEATURES) out[f] = k.bool(f) ?? true;
    return out;
  }

  /** `hostSubnets`: NIC subnets and routes; Docker skips default pools that collide with them (libnetwork FindAvailableNetwork). */
  private docker(o: Obj, hostSubnets: Cidr[]): DockerEngine {
    const d = o.object("docker", "docker", DOCKER_KEYS);
    const rawVersion = d?.get("version");
    // Unquoted, YAML reads 20.10 as the number 20.1; whole numbers (24) lose nothing that matters.
    if (typeof rawVersion === "number" && !Number.isInteger(rawVersion)) {
      this.r.report(diag("invalid_value", {
        severity: "warning", path: d!.at("version"),
        message: `docker version ${rawVersion} is a number to YAML, which drops trailing zeros (unquoted 20.10 is read as 20.1): the engine is taken as "${rawVersion}"`,
        hint: 'Quote it: version: "20.10".',
      }));
    }
    const version = d?.str("version", { coerce: true, pattern: /^\d+(\.\d+){0,2}([.+~-][A-Za-z0-9.+~-]*)?$/, patternHint: "Write an engine version such as 20.10 or 24.0.7." }) ?? "20.10";
    const bridge = this.bridgeSettings(d, "bridge");
    const gw = this.bridgeSettings(d, "gwbridge");
    const bridgeSubnet = bridge.subnet ?? DEFAULT_BRIDGE_SUBNET;
    // docker_gwbridge takes the first free default pool after docker0 unless pinned (moby/moby#27890);
    // destinations behind the default route (a peered VPC) are invisible to that check.
    const gwSubnet = gw.subnet ?? nextLocalPool([bridgeSubnet, ...hostSubnets]) ?? makeCidr(0xac120000, 16);
    return {
      version,
      bridge: { subnet: bridgeSubnet, gateway: bridge.gateway ?? nth(bridgeSubnet, 1), mtu: bridge.mtu ?? DEFAULT_MTU, declared: bridge.subnet !== undefined },
      gwbridge: { subnet: gwSubnet, gateway: gw.gateway ?? nth(gwSubnet, 1), mtu: gw.mtu ?? DEFAULT_MTU, declared: gw.subnet !== undefined },
      path: d?.path ?? o.at("docker"),
    };
  }

  private bridgeSettings(d: Obj | undefined, key: string): { subnet?: Cidr; gateway?: Ip; mtu?: number } {
    const b = d?.object(key, key, BRIDGE_KEYS);
    if (!b) return {};
    const subnet = b.cidr("subnet", { addresses: true });
    const gateway = b.ip("gateway");
    const mtu = b.num("mtu", { min: 68, max: 65535 });
    if (subnet && gateway !== undefined && !contains(subnet, gateway)) {
      this.r.report(diag("address_outside_subnet", { path: b.at("gateway"), message: `${key} gateway ${fmt(gateway)} is outside ${subnet.text}`, hint: `Choose an address inside ${subnet.text}.` }));
    }
    return { ...(subnet ? { subnet } : {}), ...(gateway !== undefined ? { gateway } : {}), ...(mtu !== undefined ? { mtu } : {}) };
  }

  private firewall(v: unknown, path: PlanPath): Firewall | undefined {
    const o = this.r.object(v, path, "a firewall", FIREWALL_KEYS);
    if (!o) return undefined;
    const inbound = (o.str("inbound", { oneOf: ["allow", "deny"] }) as "allow" | "deny" | undefined) ?? "deny";
    const icmp = (o.str("icmp", { oneOf: ["allow", "deny"] }) as "allow" | "deny" | undefined) ?? "allow";
    const allow = o.list("allow", "allow", (rv, rp) => this.rule(rv, rp));
    return { inbound, icmp, allow, path };
  }

  private rule(v: unknown, path: PlanPath): FirewallRule | undefined {
    const o = this.r.object(v, path, "a firewall rule", RULE_KEYS);
    if (!o) return undefined;
    const written = o.str("proto", { oneOf: ["tcp", "udp", "esp", "any"] }) as FirewallRule["proto"] | undefined;
    const proto = written ?? "any";
    let ports: [number, number] | undefined;
    if (o.has("port")) {
      // A proto that could not be read was reported already; its port is still checked on its own.
      if (written === undefined && o.has("proto")) this.portRange(o.get("port"), o.at("port"));
      else if (proto === "esp" || proto === "any") this.r.invalid(o.at("port"), `a port makes no sense with proto ${proto}`, "Use proto: tcp or udp with a port.");
      else ports = this.portRange(o.get("port"), o.at("port"));
    }
    let from: (string | Cidr)[] | undefined;
    if (o.has("from")) {
      const raw = o.get("from");
      const list = Array.isArray(raw) ? raw : [raw];
      from = [];
      list.forEach((item, i) => {
        const p = Array.isArray(raw) ? [...o.at("from"), i] : o.at("from");
        if (typeof item !== "string") return this.r.invalid(p, `from entries must be host names or subnets, not ${describe(item)}`, "Write a host name or a subnet such as 10.0.0.0/8.");
        if (item === "any") return (from = undefined);
        const c = parseCidr(item) ?? (parseIp(item) !== undefined ? parseCidr(`${item}/32`) : undefined);
        if (c) return from?.push(c.cidr);
        // Digits, dots and a slash (or a colon) are an address someone meant, not a host name.
        if (/^[0-9.]+(?:\/\d*)?$|[:/]/.test(item)) return this.r.invalid(p, `from entry "${truncate(item)}" is not a valid IPv4 address or subnet`, "Write a host name, an address such as 10.0.0.5, or a subnet such as 10.0.0.0/8.");
        if (this.ref("host", item, this.hostNamesSoFar(), p)) from?.push(item);
        return undefined;
      });
    }
    return { proto, path, ...(ports ? { ports } : {}), ...(from ? { from } : {}) };
  }

  /** Hosts are read before firewalls are resolved against them only in order; accept any declared name. */
  private hostNamesSoFar(): Set<string> {
    return this.allHostNames;
  }
  allHostNames = new Set<string>();

  private portRange(v: unknown, path: PlanPath): [number, number] | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return [v, v];
    if (typeof v === "string") {
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
      if (m) {
        const a = Number(m[1]), b = Number(m[2] ?? m[1]);
        if (a >= 1 && b <= 65535 && a <= b) return [a, b];
      }
    }
    return this.r.invalid(path, `port ${describe(v)} is not a port or a range`, "Write a port (2377) or a range (\"8300-8302\").");
  }

  private port(v: unknown, path: PlanPath): number | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
    return this.r.invalid(path, `${describe(v)} is not a port number`, "Write a number from 1 to 65535.");
  }

  private portSpec(v: unknown, path: PlanPath): { port: number; proto: Proto } | undefined {
    if (typeof v === "number") {
      const port = this.port(v, path);
      return port === undefined ? undefined : { port, proto: "tcp" };
    }
    if (typeof v === "string") {
      const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(v);
      if (m && Number(m[1]) >= 1 && Number(m[1]) <= 65535) return { port: Number(m[1]), proto: (m[2] ?? "tcp") as Proto };
    }
    return this.r.invalid(path, `${describe(v)} is not a port`, "Write 80, \"80/tcp\" or \"8301/udp\".");
  }

  private platform(o: Obj): Platform {
    const p = o.object("platform", "platform", PLATFORM_KEYS);
    const kind = (p?.str("kind", { oneOf: PLATFORM_KINDS }) as PlatformKind | undefined) ?? "bare-metal";
    const promiscuous = p?.str("promiscuous", { oneOf: ["accept", "reject"] }) as Platform["promiscuous"];
    const forgedTransmits = p?.str("forged_transmits", { oneOf: ["accept", "reject"] }) as Platform["forgedTransmits"];
    const macSpoofing = p?.bool("mac_spoofing");
    const vswitch = p?.str("vswitch", { oneOf: ["standard", "distributed"] }) as Platform["vswitch"];
    const sourceCheck = p?.bool("source_check");
    return {
      kind, path: p?.path ?? o.at("platform"),
      ...(promiscuous ? { promiscuous } : {}),
      ...(forgedTransmits ? { forgedTransmits } : {}),
      ...(macSpoofing !== undefined ? { macSpoofing } : {}),
      ...(vswitch ? { vswitch } : {}),
      ...(sourceCheck !== undefined ? { sourceCheck } : {}),
    };
  }

  private shim(v: unknown, path: PlanPath): Shim | undefined {
    const o = this.r.object(v, path, "a macvlan or ipvlan shim", SHIM_KEYS);
    if (!o) return undefined;
    const name = o.str("name", { pattern: NIC_NAME, patternHint: NIC_NAME_HINT }) ?? "mvshim";
    const parent = o.str("parent", { required: true, pattern: NIC_NAME, patternHint: NIC_NAME_HINT });
    const type = o.str("type", { oneOf: ["macvlan", "ipvlan"] }) as Shim["type"];
    const addr = o.has("address") ? interfaceAddress(this.r, o.get("address"), o.at("address"), "address") : o.missing("address", "Add address: 172.29.1.71/32.");
    const routes = o.list("routes", "routes", (rv, rp) => (typeof rv === "string" ? cidrValue(this.r, rv, rp, "route", false) : this.r.invalid(rp, "a shim route must be a subnet", "Write 172.29.0.71/32.")));
    if (parent === undefined || addr === undefined) return undefined;
    return { name, parent, ...(type ? { type } : {}), ip: addr.ip, cidr: addr.cidr, routes, path };
  }

  private ssh(v: unknown, path: PlanPath): SshTarget | undefined {
    const o = this.r.object(v, path, "ssh settings", SSH_KEYS);
    if (!o) return undefined;
    const address = o.str("address", { required: true, pattern: /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$/, patternHint: "Write a host name or an IP address." });
    const port = o.num("port", { min: 1, max: 65535 }) ?? 22;
    const user = o.str("user", { pattern: USER_NAME, patternHint: "Write a Unix user name." }) ?? "root";
    const keyFile = o.str("key_file", { pattern: /^[^\u0000-\u001f]+$/ });
    const agent = o.bool("agent") ?? false;
    const passphraseEnv = o.str("passphrase_env", { pattern: ENV_NAME, patternHint: ENV_NAME_HINT });
    const passwordEnv = o.str("password_env", { pattern: ENV_NAME, patternHint: ENV_NAME_HINT });
    const sudo = o.bool("sudo") ?? user !== "root";
    const jump = o.str("jump", { pattern: /^(?:[a-z_][a-z0-9_-]*@)?[A-Za-z0-9.-]+(?::\d{1,5})?$/, patternHint: "Write [user@]host[:port]." });
    if (address === undefined) return undefined;
    return {
      address, port, user, agent, sudo, path,
      ...(keyFile ? { keyFile } : {}), ...(passphraseEnv ? { passphraseEnv } : {}), ...(passwordEnv ? { passwordEnv } : {}), ...(jump ? { jump } : {}),
    };
  }

  // ---- segments, externals ----------------------------------------------------------------------

  private segments(o: Obj, hosts: Host[], hostIndex: Map<string, Host>): Segment[] {
    if (!o.has("segments")) {
      // One switch joining every host's first NIC (the seed's physical LAN).
      const members = hosts.filter((h) => h.nics.length > 0).map((h) => ({ host: h.name, nic: h.nics[0]!.name }));
      const mtu = Math.max(DEFAULT_MTU, ...hosts.map((h) => h.nics[0]?.mtu ?? DEFAULT_MTU));
      const hostIps = new Set(hosts.flatMap((h) => h.nics.map((n) => n.ip)));
      const routers = uniqueIps(hosts.flatMap((h) => {
        const first = h.nics[0];
        if (!first) return [];
        const gws = [first.gateway, ...h.routes.filter((r) => r.via !== undefined && contains(first.cidr, r.via)).map((r) => r.via)];
        return gws.filter((g): g is Ip => g !== undefined && !hostIps.has(g));
      }));
      this.segmentNames.add("lan");
      return members.length > 0 ? [{ name: "lan", mtu, members, routers, implicit: true, path: [] }] : [];
    }
    const segs = this.unique(o.list("segments", "segments", (v, p) => {
      const s = this.r.object(v, p, "a segment", SEGMENT_KEYS);
      if (!s) return undefined;
      const name = s.str("name", { required: true, pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT });
      const mtu = s.num("mtu", { min: 68, max: 65535 }) ?? DEFAULT_MTU;
      const listed = new Set<string>();
      const members = s.list("members", "members", (mv, mp) => {
        if (typeof mv !== "string" || !/^[^/]+\/[^/]+$/.test(mv)) return this.r.invalid(mp, `segment member ${describe(mv)} is not HOST/NIC`, "Write members as host/nic, e.g. consul-server-1/ens34.");
        if (listed.has(mv)) return this.r.invalid(mp, `${truncate(mv)} is listed twice in this segment`, "List each NIC once.");
        listed.add(mv);
        const [host, nic] = mv.split("/") as [string, string];
        if (!this.ref("host", host, this.allHostNames, mp)) return undefined;
        const h = hostIndex.get(host);
        if (h && !h.nics.some((n) => n.name === nic)) {
          this.ref(`NIC of ${host}`, nic, new Set(h.nics.map((n) => n.name)), mp, `NICs of ${host}`);
          return undefined;
        }
        return { host, nic };
      });
      const routers = s.list("routers", "routers", (rv, rp) => (typeof rv === "string" ? ipValue(this.r, rv, rp, "router") : this.r.invalid(rp, "a router must be an address", "Write 192.168.1.1.")));
      if (name === undefined) return undefined;
      return { name, mtu, members, routers, implicit: false, path: p };
    }), "segment", this.segmentNames);
    // A NIC sits on at most one segment.
    const seen = new Map<string, Segment>();
    for (const s of segs) {
      for (const m of s.members) {
        const key = `${m.host}/${m.nic}`;
        const prev = seen.get(key);
        if (prev) this.r.invalid(s.path, `${key} is a member of both "${prev.name}" and "${s.name}"`, "A NIC plugs into one switch; list it in one segment.");
        else seen.set(key, s);
      }
    }
    return segs;
  }

  private external(v: unknown, path: PlanPath): External | undefined {
    const o = this.r.object(v, path, "an external network", EXTERNAL_KEYS);
    if (!o) return undefined;
    const name = o.str("name", { required: true, pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT });
    const cidr = o.cidr("subnet", { required: true });
    if (name === undefined || cidr === undefined) return undefined;
    return { name, cidr, path };
  }

  // ---- swarm -------------------------------------------------------------------------------

  private swarm(v: unknown, path: PlanPath, hostIndex: Map<string, Host>): Swarm | undefined {
    const o = this.r.object(v, path, "swarm", SWARM_KEYS);
    if (!o) return undefined;
    const nodes: SwarmNode[] = [];
    const listed = new Set<string>();
    const add = (n: SwarmNode) => {
      if (listed.has(n.host)) {
        this.r.report(diag("duplicate_name", { path: n.path, message: `host "${n.host}" is listed twice in the swarm`, hint: "List each host once, as manager or worker." }));
      } else {
        listed.add(n.host);
        nodes.push(n);
      }
    };
    for (const role of ["managers", "workers"] as const) {
      o.strList(role).forEach((h, i) => {
        if (this.ref("host", h, this.allHostNames, () => [...o.at(role), i]) && hostIndex.has(h)) {
          add({ host: h, role: role === "managers" ? "manager" : "worker", advertisePort: 2377, path: [...o.at(role), i] });
        }
      });
    }
    o.list("nodes", "nodes", (nv, np) => {
      const n = this.r.object(nv, np, "a swarm node", SWARM_NODE_KEYS);
      if (!n) return undefined;
      const host = n.str("host", { required: true });
      const role = (n.str("role", { oneOf: ["manager", "worker"] }) ?? "manager") as "manager" | "worker";
      const adv = this.addrPort(n, "advertise_addr");
      const listen = this.addrPort(n, "listen_addr");
      const join = n.ip("join");
      if (host === undefined || !this.ref("host", host, this.allHostNames, () => n.at("host")) || !hostIndex.has(host)) return undefined;
      add({
        host, role, advertisePort: adv?.port ?? 2377, path: np,
        ...(adv ? { advertiseAddr: adv.ip } : {}), ...(listen ? { listenAddr: listen.ip } : {}), ...(join !== undefined ? { join } : {}),
      });
      return undefined;
    });
    const dataPathPort = o.num("data_path_port", { min: 1024, max: 49151 }) ?? DEFAULT_DATA_PATH_PORT;
    const pools = o.list("default_addr_pool", "default_addr_pool", (pv, pp) => (typeof pv === "string" ? cidrValue(this.r, pv, pp, "default_addr_pool", true, true) : this.r.invalid(pp, "a pool must be a subnet", "Write 10.0.0.0/8.")));
    const mask = o.num("default_addr_pool_mask_length", { min: 8, max: 29 }) ?? DEFAULT_SWARM_POOL_MASK;
    const ingress = o.object("ingress", "ingress", INGRESS_KEYS);
    this.ingressSettings = {
      subnet: ingress?.cidr("subnet", { addresses: true }),
      gateway: ingress?.ip("gateway"),
      mtu: ingress?.num("mtu", { min: 68, max: 65535 }),
      path: ingress?.path ?? o.at("ingress"),
    };
    const initName = o.str("init");
    // A bad init reference is reported; the swarm is still read (first manager) so later findings stay true.
    const initOk = initName === undefined || this.ref("host", initName, new Set(nodes.map((n) => n.host)), o.at("init"));
    const init = (initOk ? initName : undefined) ?? nodes.find((n) => n.role === "manager")?.host;
    if (init === undefined) {
      this.r.report(diag("swarm_not_manager", { path, message: "the swarm has no manager to run docker swarm init", hint: "Add at least one manager (swarm.managers: [host])." }));
      return undefined;
    }
    const initNode = nodes.find((n) => n.host === init);
    if (initNode && initNode.role !== "manager") {
      this.r.report(diag("swarm_not_manager", { path: o.at("init"), message: `swarm init runs on "${init}", which is listed as a worker`, hint: "The host that runs swarm init becomes the first manager; list it as a manager." }));
    }
    // Joiners default to the init node's advertise address (its first NIC when not given).
    const initHost = hostIndex.get(init);
    const initAddr = initNode?.advertiseAddr ?? initHost?.nics[0]?.ip;
    const finalNodes = nodes.map((n) => (n.host === init || n.join !== undefined || initAddr === undefined ? n : { ...n, join: initAddr }));
    return {
      init, nodes: finalNodes, dataPathPort, defaultAddrPool: pools.length > 0 ? pools : DEFAULT_SWARM_ADDR_POOL,
      defaultAddrPoolMaskLength: mask, path,
    };
  }

  private ingressSettings: { subnet?: Cidr; gateway?: Ip; mtu?: number; path: PlanPath } | undefined;

  private addrPort(o: Obj, key: string): { ip: Ip; port?: number } | undefined {
    const v = o.str(key, { pattern: /^[^\s]+$/ });
    if (v === undefined) return undefined;
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(v);
    const ip = m ? parseIp(m[1]!) : undefined;
    if (!m || ip === undefined) {
      return this.r.invalid(o.at(key), `${key} "${v}" is not an IPv4 address[:port]`, "Write the host's address, e.g. 192.168.1.71 (an interface name is not supported here).");
    }
    return { ip, ...(m[2] ? { port: Number(m[2]) } : {}) };
  }

  // ---- networks ----------------------------------------------------------------------------

  /** `swarmWritten`: the plan has a swarm section, readable (then `swarm`) or not. */
  private network(v: unknown, path: PlanPath, hostIndex: Map<string, Host>, swarm: Swarm | undefined, swarmWritten: boolean): PendingNetwork | undefined {
    const o = this.r.object(v, path, "a network", NETWORK_KEYS);
    if (!o) return undefined;
    const name = o.str("name", { required: true, pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT });
    if (name !== undefined && RESERVED_NETWORK_NAMES.includes(name)) {
      this.r.invalid(o.at("name"), `"${name}" is a network Docker creates itself`, `Choose another name; configure ${name} under hosts[].docker or swarm.ingress.`);
      return undefined;
    }
    const driverText = o.str("driver", { oneOf: ["bridge", "macvlan", "ipvlan", "overlay"] });
    if (o.has("driver") && driverText === undefined) return undefined;
    const driver = (driverText ?? "bridge") as NetworkDriver;
    const subnet = o.cidr("subnet", { addresses: true });
    const gateway = o.ip("gateway");
    const ipRange = o.cidr("ip_range", { addresses: true });
    const aux = this.auxAddresses(o);
    const parent = o.str("parent", { pattern: NIC_NAME, patternHint: NIC_NAME_HINT });
    const modes = driver === "ipvlan" ? IPVLAN_MODES : MACVLAN_MODES;
    const mode = o.has("mode") ? o.str("mode", { oneOf: modes }) : driver === "macvlan" ? "bridge" : driver === "ipvlan" ? "l2" : undefined;
    const attachable = o.bool("attachable") ?? false;
    const encrypted = o.bool("encrypted") ?? false;
    const internal = o.bool("internal") ?? false;
    const mtu = o.num("mtu", { min: 68, max: 65535 });
    const createOn = o.str("create_on");
    if (name === undefined) return undefined;
    const scope = driver === "overlay" ? "swarm" : "local";
    if (driver !== "overlay") {
      for (const k of ["attachable", "encrypted", "create_on"]) {
        if (o.has(k)) this.r.invalid(o.at(k), `${k} applies to overlay networks only`, `Remove ${k}, or use driver: overlay.`);
      }
    }
    if ((driver === "macvlan" || driver === "ipvlan") && !o.has("parent") && !Array.isArray(o.get("hosts"))) {
      // Parents may be given per host; reported per instance below when neither exists.
    }
    if (o.has("mode") && driver !== "macvlan" && driver !== "ipvlan") this.r.invalid(o.at("mode"), "mode applies to macvlan and ipvlan networks", "Remove mode.");
    let bindings: PendingBinding[] = [];
    if (scope === "swarm") {
      if (o.has("hosts")) this.r.invalid(o.at("hosts"), "an overlay spans the swarm; it has no hosts list", "Remove hosts; choose where `docker network create` runs with create_on.");
      if (!swarm) {
        // A swarm section that could not be read was reported where it is: no second finding here.
        if (swarmWritten) return undefined;
        this.r.report(diag("swarm_not_manager", {
          path, message: `overlay "${name}" needs a swarm, and the plan has none`,
          hint: "Add swarm: { managers: [...] }; `docker network create -d overlay` fails with 'This node is not a swarm manager' otherwise.",
        }));
        return undefined;
      }
      if (createOn !== undefined && !this.ref("host", createOn, this.allHostNames, o.at("create_on"))) return undefined;
    } else {
      bindings = o.list("hosts", "hosts", (hv, hp) => {
        if (typeof hv === "string") {
          return this.ref("host", hv, this.allHostNames, hp) && hostIndex.has(hv) ? { host: hv, path: hp, aux: [] } : undefined;
        }
        const b = this.r.object(hv, hp, "a network host", NETWORK_HOST_KEYS);
        if (!b) return undefined;
        const host = b.str("host", { required: true });
        const bSubnet = b.cidr("subnet", { addresses: true });
        const bGateway = b.ip("gateway");
        const bRange = b.cidr("ip_range", { addresses: true });
        const bParent = b.str("parent", { pattern: NIC_NAME, patternHint: NIC_NAME_HINT });
        const bAux = this.auxAddresses(b);
        if (host === undefined || !this.ref("host", host, this.allHostNames, b.at("host")) || !hostIndex.has(host)) return undefined;
        return {
          host, path: hp, aux: bAux,
          ...(bSubnet ? { subnet: bSubnet } : {}), ...(bGateway !== undefined ? { gateway: bGateway } : {}),
          ...(bRange ? { ipRange: bRange } : {}), ...(bParent ? { parent: bParent } : {}),
        };
      });
    }
    return {
      name, driver, scope, attachable, encrypted, internal, path, bindings, aux,
      hostsDeclared: o.has("hosts"),
      ...(subnet ? { subnet } : {}), ...(gateway !== undefined ? { gateway } : {}), ...(ipRange ? { ipRange } : {}),
      ...(parent ? { parent } : {}), ...(mode ? { mode } : {}), ...(mtu !== undefined ? { mtu } : {}),
      ...(createOn ? { createOn } : {}),
    };
  }

  private auxAddresses(o: Obj): { name: string; ip: Ip; path: PlanPath }[] {
    const raw = o.get("aux_addresses");
    if (raw === undefined || raw === null) return [];
    if (typeof raw !== "object" || Array.isArray(raw)) {
      this.r.invalid(o.at("aux_addresses"), "aux_addresses must be a mapping of name: address", "Write aux_addresses: { host: 192.168.1.71 }.");
      return [];
    }
    const out: { name: string; ip: Ip; path: PlanPath }[] = [];
    for (const [k, v] of Object.entries(raw)) {
      const p = [...o.at("aux_addresses"), k];
      if (!DOCKER_NAME.test(k)) { this.r.invalid(p, `aux address name "${k}" is not valid`, DOCKER_NAME_HINT); continue; }
      if (typeof v !== "string") { this.r.invalid(p, `aux address ${k} must be an address`, "Write an IPv4 address."); continue; }
      const ip = ipValue(this.r, v, p, k);
      if (ip !== undefined) out.push({ name: k, ip, path: p });
    }
    return out;
  }

  /** Adds the implicit networks and turns each network into its per-host (or swarm) instances. */
  private finishNetworks(pending: PendingNetwork[], hosts: Host[], swarm: Swarm | undefined, containers: Container[], externals: External[]): Network[] {
    const out: Network[] = [];
    const swarmHosts = new Set(swarm?.nodes.map((n) => n.host) ?? []);
    // Default bridge and docker_gwbridge, per host.
    out.push({
      name: "bridge", driver: "bridge", scope: "local", implicit: true, attachable: false, encrypted: false, internal: false, ingress: false, path: [],
      instances: hosts.map((h) => ({
        network: "bridge", host: h.name, subnet: h.docker.bridge.subnet, gateway: h.docker.bridge.gateway,
        subnetDeclared: h.docker.bridge.declared, gatewayDeclared: h.docker.bridge.declared, auxAddresses: [], path: [...h.path, "docker", "bridge"],
      })),
      mtu: undefined,
    } as Network);
    // Where a container uses a network, the network exists there: default hosts of a local network.
    const usedOn = new Map<string, Set<string>>();
    for (const c of containers) for (const a of c.attachments) {
      let s = usedOn.get(a.network);
      if (!s) usedOn.set(a.network, (s = new Set()));
      s.add(c.host);
    }
    const takenByHost = new Map<string, Cidr[]>(hosts.map((h) => [h.name, [h.docker.bridge.subnet, ...h.nics.map((n) => n.cidr), ...h.routes.filter((r) => r.to.prefix > 0).map((r) => r.to)]]));
    const swarmTaken: Cidr[] = [];
    if (swarm) {
      const ing = this.ingressSettings;
      const initHost = hosts.find((h) => h.name === swarm.init);
      const subnet = ing?.subnet ?? ingressDefault(initHost?.docker.version ?? "20.10", swarm.defaultAddrPool, swarm.defaultAddrPoolMaskLength);
      swarmTaken.push(subnet);
      out.push({
        name: "ingress", driver: "overlay", scope: "swarm", implicit: true, attachable: false, encrypted: false, internal: false, ingress: true,
        path: ing?.path ?? [...swarm.path, "ingress"], createOn: swarm.init,
        ...(ing?.mtu !== undefined ? { mtu: ing.mtu } : {}),
        instances: [{ network: "ingress", subnet, gateway: ing?.gateway ?? nth(subnet, 1), subnetDeclared: ing?.subnet !== undefined, gatewayDeclared: ing?.gateway !== undefined, auxAddresses: [], path: ing?.path ?? [...swarm.path, "ingress"] }],
      });
      out.push({
        name: "docker_gwbridge", driver: "bridge", scope: "local", implicit: true, attachable: false, encrypted: false, internal: false, ingress: false, path: [],
        instances: hosts.filter((h) => swarmHosts.has(h.name)).map((h) => ({
          network: "docker_gwbridge", host: h.name, subnet: h.docker.gwbridge.subnet, gateway: h.docker.gwbridge.gateway,
          subnetDeclared: h.docker.gwbridge.declared, gatewayDeclared: h.docker.gwbridge.declared, auxAddresses: [], path: [...h.path, "docker", "gwbridge"],
        })),
      });
      for (const h of hosts) if (swarmHosts.has(h.name)) takenByHost.get(h.name)!.push(h.docker.gwbridge.subnet);
    }
    for (const n of pending) if (n.scope === "swarm" && n.subnet) swarmTaken.push(n.subnet);
    for (const n of pending) if (n.scope === "local") for (const b of n.bindings) if (b.subnet ?? n.subnet) takenByHost.get(b.host)?.push((b.subnet ?? n.subnet)!);
    void externals;
    for (const n of pending) {
      if (n.scope === "swarm") {
        let subnet = n.subnet;
        let declared = true;
        if (!subnet) {
          declared = false;
          subnet = swarmPoolSubnets(swarm!.defaultAddrPool, swarm!.defaultAddrPoolMaskLength, swarmTaken).next().value as Cidr | undefined;
          if (!subnet) {
            this.r.report(diag("pool_exhausted", { path: n.path, message: `the swarm address pool has no free /${swarm!.defaultAddrPoolMaskLength} left for "${n.name}"`, hint: "Give the overlay a subnet, or widen swarm.default_addr_pool." }));
            continue;
          }
          swarmTaken.push(subnet);
        }
        const createOn = n.createOn ?? swarm!.init;
        out.push({
          name: n.name, driver: "overlay", scope: "swarm", implicit: false, attachable: n.attachable, encrypted: n.encrypted, internal: n.internal,
          ingress: false, path: n.path, createOn, ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
          instances: [this.instance(n, undefined, subnet, declared, n.gateway, n.ipRange, n.aux, undefined, n.path)],
        });
        continue;
      }
      // Local scope: the listed hosts, or wherever a container uses it, or (neither) every host.
      let bindings = n.bindings;
      if (!n.hostsDeclared) {
        const used = usedOn.get(n.name);
        const names = used && used.size > 0 ? hosts.filter((h) => used.has(h.name)).map((h) => h.name) : hosts.map((h) => h.name);
        bindings = names.map((host) => ({ host, path: n.path, aux: [] }));
      }
      const instances: NetworkInstance[] = [];
      for (const b of bindings) {
        let subnet = b.subnet ?? n.subnet;
        let declared = true;
        if (!subnet) {
          if (n.driver !== "bridge") {
            this.r.report(diag("missing_field", { path: n.path, message: `${n.driver} network "${n.name}" has no subnet`, hint: `A ${n.driver} network shares the LAN: give it the LAN's subnet and gateway (docker picks a private range otherwise).` }));
            break;
          }
          declared = false;
          const taken = takenByHost.get(b.host) ?? [];
          subnet = nextLocalPool(taken);
          if (!subnet) {
            this.r.report(diag("pool_exhausted", { path: n.path, message: `no default address pool is free on ${b.host} for "${n.name}"`, hint: "Give the network a subnet." }));
            continue;
          }
          taken.push(subnet);
        }
        const parent = b.parent ?? n.parent;
        if ((n.driver === "macvlan" || n.driver === "ipvlan") && parent === undefined) {
          this.r.report(diag("missing_field", { path: b.path, message: `${n.driver} network "${n.name}" has no parent on ${b.host}`, hint: "Add parent: <the host's NIC>, e.g. parent: ens34." }));
          continue;
        }
        instances.push(this.instance(n, b.host, subnet, declared, b.gateway ?? n.gateway, b.ipRange ?? n.ipRange, [...n.aux, ...b.aux], parent, b.path));
      }
      out.push({
        name: n.name, driver: n.driver, scope: "local", implicit: false, attachable: false, encrypted: false, internal: n.internal, ingress: false,
        path: n.path, instances, ...(n.mtu !== undefined ? { mtu: n.mtu } : {}), ...(n.mode ? { mode: n.mode } : {}),
      });
    }
    return out;
  }

  private instance(n: PendingNetwork, host: string | undefined, subnet: Cidr, declared: boolean, gateway: Ip | undefined, ipRange: Cidr | undefined, aux: PendingNetwork["aux"], parent: string | undefined, path: PlanPath): NetworkInstance {
    if (ipRange && !covers(subnet, ipRange)) {
      this.r.report(diag("ip_range_outside_subnet", {
        path: path !== n.path ? [...path, "ip_range"] : [...n.path, "ip_range"], host,
        message: `ip_range ${ipRange.text} of "${n.name}" is not inside its subnet ${subnet.text}`,
        hint: `Choose a range inside ${subnet.text}.`,
      }));
    }
    if (gateway !== undefined && !contains(subnet, gateway)) {
      this.r.report(diag("address_outside_subnet", { path: [...n.path, "gateway"], host, message: `gateway ${fmt(gateway)} of "${n.name}" is outside its subnet ${subnet.text}`, hint: `Choose a gateway inside ${subnet.text}.` }));
    }
    for (const a of aux) {
      if (!contains(subnet, a.ip)) this.r.report(diag("address_outside_subnet", { path: a.path, host, message: `aux address ${a.name}=${fmt(a.ip)} is outside ${subnet.text}`, hint: `Docker refuses aux addresses outside --subnet; choose one inside ${subnet.text}.` }));
    }
    // Docker's IPAM puts the gateway on the first usable address unless told otherwise.
    return {
      network: n.name, subnet, subnetDeclared: declared, gateway: gateway ?? nth(subnet, 1), gatewayDeclared: gateway !== undefined,
      auxAddresses: aux, path,
      ...(host !== undefined ? { host } : {}), ...(ipRange && covers(subnet, ipRange) ? { ipRange } : {}), ...(parent !== undefined ? { parent } : {}),
      ...(ipRange && !covers(subnet, ipRange) ? { invalidRange: ipRange } : {}),
    };
  }

  // ---- containers --------------------------------------------------------------------------

  private container(v: unknown, path: PlanPath, hostIndex: Map<string, Host>): Container | undefined {
    const o = this.r.object(v, path, "a container", CONTAINER_KEYS);
    if (!o) return undefined;
    const name = o.str("name", { required: true, pattern: CONTAINER_NAME, patternHint: CONTAINER_NAME_HINT });
    const host = o.str("host", { required: true });
    const image = o.str("image", { pattern: IMAGE_REF, patternHint: IMAGE_REF_HINT }) ?? "busybox";
    const mode = o.str("network_mode", { oneOf: ["host", "bridge", "default"] });
    const attachments: Attachment[] = o.list("networks", "networks", (av, ap) => {
      if (typeof av === "string") return this.ref("network", av, this.networkNames, ap) ? { network: av, aliases: NONE, path: ap } : undefined;
      const a = this.r.object(av, ap, "a network attachment", ATTACH_KEYS);
      if (!a) return undefined;
      const network = a.str("network", { required: true });
      let ip = a.ip("ip");
      let aliases = a.has("aliases") ? a.strList("aliases", { pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT }) : NONE;
      if (network === undefined || !this.ref("network", network, this.networkNames, () => a.at("network"))) return undefined;
      if (network === DEFAULT_BRIDGE) {
        if (ip !== undefined) ip = this.onDefaultBridge(a.at("ip"), "a fixed ip", "--ip", "user specified IP address is supported on user defined networks only");
        if (aliases.length > 0) aliases = this.onDefaultBridge(a.at("aliases"), "aliases", "--network-alias", "network-scoped alias is supported only for containers in user defined networks") ?? NONE;
      }
      return { network, aliases, path: ap, ...(ip !== undefined ? { ip } : {}) };
    });
    const publish = o.has("publish") ? o.list("publish", "publish", (pv, pp) => this.publish(pv, pp)) : NONE;
    const listenRaw = o.has("listen") ? o.list("listen", "listen", (lv, lp) => this.portSpec(lv, lp)) : undefined;
    const command = o.has("command") ? this.command(o) : undefined;
    const labels = this.labels(o);
    if (name === undefined || host === undefined) return undefined;
    if (!this.ref("host", host, this.allHostNames, () => o.at("host")) || !hostIndex.has(host)) return undefined;
    const networkMode = mode === "host" ? "host" : "networks";
    if (networkMode === "host" && attachments.length > 0) this.r.invalid(o.at("networks"), "a host-network container has no other networks", "Remove networks, or remove network_mode: host.");
    if (networkMode === "host" && publish.length > 0) this.r.invalid(o.at("publish"), "ports of a host-network container are the host's; nothing to publish", "Remove publish.");
    const atts = networkMode === "host" ? [] : attachments.length > 0 ? attachments : [{ network: "bridge", aliases: [], path: o.at("networks") }];
    for (let i = 1; i < atts.length; i++) {
      const a = atts[i]!;
      if (atts.findIndex((b) => b.network === a.network) < i) this.r.invalid(a.path, `container "${name}" attaches to "${a.network}" twice`, "List each network once.");
    }
    const c: { -readonly [K in keyof Container]: Container[K] } = { name, host, image, networkMode, attachments: atts, publish, listen: listenRaw ?? defaultListenPorts(image), labels, path };
    const listed = o.get("networks");
    if (Array.isArray(listed) && attachments.length < listed.length) c.networksIncomplete = true;
    if (command) c.command = command;
    return c;
  }

  /** Docker takes a fixed address or aliases only on user-defined networks (moby daemon/container_operations.go). */
  private onDefaultBridge(path: PlanPath, what: string, flag: string, dockerSays: string): undefined {
    return this.r.invalid(
      path,
      `${what} on the default bridge network: docker run ${flag} refuses it ("${dockerSays}")`,
      "Attach the container to a user-defined bridge network instead, e.g. networks: [{ name: app, driver: bridge, subnet: 10.30.0.0/24 }].",
    );
  }

  private command(o: Obj): string[] | undefined {
    const raw = o.get("command");
    if (typeof raw === "string") {
      if (!SAFE_TEXT.test(raw)) return this.r.invalid(o.at("command"), "command has control characters", SAFE_TEXT_HINT);
      return ["sh", "-c", raw];
    }
    return o.strList("command", { pattern: SAFE_TEXT, patternHint: SAFE_TEXT_HINT });
  }

  private labels(o: Obj): Record<string, string> {
    const raw = o.get("labels");
    if (raw === undefined || raw === null) return NO_LABELS;
    if (typeof raw !== "object" || Array.isArray(raw)) {
      this.r.invalid(o.at("labels"), "labels must be a mapping", "Write labels: { service: web }.");
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      const p = [...o.at("labels"), k];
      if (!LABEL_KEY.test(k)) { this.r.invalid(p, `label key "${k}" is not valid`, "Use letters, digits, '.', '_', '/', '-'."); continue; }
      if (k.startsWith("crosshost.")) { this.r.invalid(p, `label "${k}" is reserved: crosshost marks what it owns with it`, "Choose another label key."); continue; }
      const s = typeof v === "number" || typeof v === "boolean" ? String(v) : v;
      if (typeof s !== "string" || !SAFE_TEXT.test(s)) { this.r.invalid(p, `label ${k} must be one line of text`, SAFE_TEXT_HINT); continue; }
      out[k] = s;
    }
    return out;
  }

  private publish(v: unknown, path: PlanPath): Publish | undefined {
    if (typeof v === "string" || typeof v === "number") {
      const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(String(v));
      const hostIp = m?.[1] !== undefined ? parseIp(m[1]) : undefined;
      if (!m || (m[1] !== undefined && hostIp === undefined) || !validPort(m[2]!) || !validPort(m[3]!)) {
        return this.r.invalid(path, `publish "${String(v)}" is not HOST:CONTAINER[/proto]`, "Write \"8080:80\", \"8301:8301/udp\" or \"192.168.1.71:8080:80\".");
      }
      return { hostPort: Number(m[2]), containerPort: Number(m[3]), proto: (m[4] ?? "tcp") as Proto, path, ...(hostIp !== undefined ? { hostIp } : {}) };
    }
    const o = this.r.object(v, path, "a published port", PUBLISH_KEYS);
    if (!o) return undefined;
    const hostPort = o.num("host_port", { required: true, min: 1, max: 65535 });
    const containerPort = o.num("container_port", { required: true, min: 1, max: 65535 });
    const proto = this.proto(o, "proto", "tcp");
    const hostIp = o.ip("host_ip");
    if (hostPort === undefined || containerPort === undefined) return undefined;
    return { hostPort, containerPort, proto, path, ...(hostIp !== undefined ? { hostIp } : {}) };
  }

  private checkAttachments(containers: Container[], networks: Network[], hostIndex: Map<string, Host>): void {
    const byName = new Map(networks.map((n) => [n.name, n] as const));
    for (const c of containers) {
      for (const a of c.attachments) {
        const n = byName.get(a.network);
        if (!n) continue;
        if (n.scope === "local" && !instanceOn(n, c.host) && hostIndex.has(c.host)) {
          this.r.report(diag("unknown_reference", {
            path: a.path,
            message: `network "${a.network}" is not created on ${c.host}, where "${c.name}" runs`,
            hint: `Add ${c.host} to the network's hosts list.`,
          }));
        }
      }
    }
  }

  // ---- consul ------------------------------------------------------------------------------

  private consul(v: unknown, path: PlanPath, hostIndex: Map<string, Host>): Consul | undefined {
    const o = this.r.object(v, path, "consul", CONSUL_KEYS);
    if (!o) return undefined;
    const datacenter = o.str("datacenter", { pattern: /^[A-Za-z0-9_-]+$/, patternHint: "Use letters, digits, '_' and '-'." }) ?? "dc1";
    const image = o.str("image", { pattern: IMAGE_REF, patternHint: IMAGE_REF_HINT }) ?? "consul:1.15";
    const agents = this.unique(o.list("agents", "agents", (av, ap) => this.agent(av, ap, datacenter, image, hostIndex)), "Consul agent", new Set());
    return { datacenter, image, agents, path };
  }

  private agent(v: unknown, path: PlanPath, dc: string, image: string, hostIndex: Map<string, Host>): ConsulAgent | undefined {
    const o = this.r.object(v, path, "a Consul agent", AGENT_KEYS);
    if (!o) return undefined;
    const name = o.str("name", { required: true, pattern: CONTAINER_NAME, patternHint: CONTAINER_NAME_HINT });
    const host = o.str("host", { required: true });
    const fileConfig = this.agentConfig(o, false);
    const flagsObj = o.object("flags", "agent flags", FLAG_KEYS);
    const flags = flagsObj ? this.agentConfig(flagsObj, true) : {};
    const portsObj = o.object("ports", "ports", PORT_KEYS);
    // Client listeners may be turned off with -1 (Consul's ports docs); 0 is no port at all.
    const clientPort = (k: string) => {
      const v = portsObj?.num(k, { min: -1, max: 65535 });
      if (v === 0) {
        this.r.invalid([...portsObj!.path, k], "0 is not a port", `Write a port, or -1 to turn the ${k} listener off.`);
        return undefined;
      }
      return v;
    };
    const https = clientPort("https");
    const grpc = clientPort("grpc");
    const ports = {
      dns: clientPort("dns") ?? CONSUL_DEFAULT_PORTS.dns,
      http: clientPort("http") ?? CONSUL_DEFAULT_PORTS.http,
      ...(https !== undefined ? { https } : {}),
      ...(grpc !== undefined ? { grpc } : {}),
      serfLan: portsObj?.num("serf_lan", { min: 1, max: 65535 }) ?? CONSUL_DEFAULT_PORTS.serfLan,
      serfWan: portsObj?.num("serf_wan", { min: 1, max: 65535 }) ?? CONSUL_DEFAULT_PORTS.serfWan,
      server: portsObj?.num("server", { min: 1, max: 65535 }) ?? CONSUL_DEFAULT_PORTS.server,
    };
    const leave = o.bool("leave_on_terminate");
    const dataDirDeclared = o.str("data_dir", { pattern: ABS_PATH, patternHint: ABS_PATH_HINT });
    const dataDir = dataDirDeclared ?? "/opt/consul/data";
    const logLevel = o.str("log_level", { oneOf: ["TRACE", "DEBUG", "INFO", "WARN", "ERR", "trace", "debug", "info", "warn", "err"] }) ?? "INFO";
    const agentImage = o.str("image", { pattern: IMAGE_REF, patternHint: IMAGE_REF_HINT }) ?? image;
    const prev = o.ip("previous_advertise_addr");
    const configFile = o.str("config_file", { pattern: /^[A-Za-z0-9_.-]+\.json$/, patternHint: "Write a file name such as server1.json." });
    const network = this.agentNetwork(o);
    if (name === undefined || host === undefined || network === undefined) return undefined;
    // Server or client is unknown when server could not be read (reported there): guessing either way would
    // bring follow-on findings about the datacenter's servers that are not the plan's.
    const unreadable = (x: Obj | undefined) => x !== undefined && x.get("server") != null && typeof x.get("server") !== "boolean";
    if (unreadable(o) || unreadable(flagsObj)) return undefined;
    if (!this.ref("host", host, this.allHostNames, () => o.at("host")) || !hostIndex.has(host)) return undefined;
    // Effective settings: command-line flags win over the file for single values and add to lists
    // (Consul merges -retry-join flags with retry_join from config files).
    const eff = <K extends keyof ConsulAgentConfig>(k: K): ConsulAgentConfig[K] => (flags[k] !== undefined ? flags[k] : fileConfig[k]);
    const server = eff("server") ?? false;
    const datacenter = eff("datacenter") ?? dc;
    const iface = (n: string): Ip | undefined => (network === "host" ? hostIndex.get(host)?.nics.find((x) => x.name === n)?.ip : n === "eth0" ? network.ip : undefined);
    // Under --net=host the plan lists every interface Consul can see (NICs, shims; Docker's bridges are named by Docker).
    const knownIfaces = network === "host" && hostIndex.has(host) ? new Set([...hostIndex.get(host)!.nics.map((x) => x.name), ...hostIndex.get(host)!.shims.map((x) => x.name), "docker0", "docker_gwbridge", "lo"]) : undefined;
    const unresolved: AgentAddressKind[] = [];
    const missing: AgentAddressKind[] = [];
    const bind = this.agentAddr(eff("bindAddr"), flags.bindAddr !== undefined ? [...path, "flags", "bind"] : o.at("bind_addr"), "bind", iface, unresolved, missing, knownIfaces);
    const adv = this.agentAddr(eff("advertiseAddr"), flags.advertiseAddr !== undefined ? [...path, "flags", "advertise"] : o.at("advertise_addr"), "advertise", iface, unresolved, missing, knownIfaces);
    const clientRaw = eff("clientAddr");
    const clientTemplate = clientRaw !== undefined && clientRaw.startsWith("{{");
    const clientIp = clientTemplate ? this.agentAddr(clientRaw, flags.clientAddr !== undefined ? [...path, "flags", "client"] : o.at("client_addr"), "client", iface, unresolved, missing, knownIfaces) : undefined;
    return {
      name, host, datacenter, server, bootstrap: eff("bootstrap") ?? false,
      ...(eff("bootstrapExpect") !== undefined ? { bootstrapExpect: eff("bootstrapExpect") } : {}),
      ...(bind !== undefined && bind !== 0 ? { bindAddr: bind } : {}),
      ...(adv !== undefined ? { advertiseAddr: adv } : {}),
      // An unevaluated client template: Consul binds somewhere of its own; 0.0.0.0 keeps crosshost from guessing.
      clientAddr: clientTemplate ? (clientIp !== undefined ? formatIp(clientIp) : "0.0.0.0") : clientRaw ?? "127.0.0.1",
      ...(unresolved.length > 0 ? { addressTemplates: unresolved } : {}),
      ...(missing[0] !== undefined ? { unresolvableTemplate: missing[0] } : {}),
      retryJoin: [...(fileConfig.retryJoin ?? []), ...(flags.retryJoin ?? [])],
      startJoin: [...(fileConfig.startJoin ?? []), ...(flags.startJoin ?? [])],
      ports,
      // Consul's defaults: servers stay in the cluster when stopped, clients leave (agent config docs).
      leaveOnTerminate: leave ?? !server,
      ui: eff("ui") ?? false,
      dataDir, ...(dataDirDeclared !== undefined ? { dataDirDeclared: true } : {}), logLevel, image: agentImage, network,
      ...(prev !== undefined ? { previousAdvertiseAddr: prev } : {}),
      configFile: configFile ?? `${name}.json`,
      fileConfig, flags, path,
    };
  }

  /**
   * An agent address: an IPv4 address, or a go-sockaddr template. `{{ GetInterfaceIP "NAME" }}` is evaluated
   * where crosshost knows the interface (a host NIC under --net=host; eth0 with a fixed ip on a Docker network);
   * any other template is left to Consul, said once as a warning, and the checks that need it are skipped.
   */
  private agentAddr(v: string | undefined, path: PlanPath, what: AgentAddressKind, iface?: (name: string) => Ip | undefined, unresolved?: AgentAddressKind[], missing?: AgentAddressKind[], knownIfaces?: Set<string>): Ip | undefined {
    if (v === undefined) return undefined;
    if (v.startsWith("{{")) {
      const m = /^\{\{\s*GetInterfaceIP\s+"([^"]+)"\s*\}\}$/.exec(v);
      const ip = m ? iface?.(m[1]!) : undefined;
      if (ip !== undefined) return ip;
      if (m && knownIfaces && !knownIfaces.has(m[1]!)) {
        // Consul resolves the template at start; an interface the host lacks resolves to nothing and the agent exits.
        missing?.push(what);
        return this.r.invalid(path, `${what} address template names interface "${m[1]}", which the host does not have: Consul cannot resolve it and exits`, `Name one of the host's interfaces (${[...knownIfaces].filter((x) => x !== "lo").join(", ")}).`);
      }
      unresolved?.push(what);
      this.r.report(diag("invalid_value", {
        severity: "warning", path,
        message: `${what} address ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)} is a go-sockaddr template crosshost cannot evaluate here`,
        hint: m ? `The interface is not known in the plan: name a NIC of the host (under network: host) or give the agent a fixed ip and use "eth0".` : "crosshost assumes the address Consul would detect and skips the checks that need it; write the address itself to have them.",
      }));
      return undefined;
    }
    const ip = parseIp(v);
    if (ip === undefined) return this.r.invalid(path, `${what} address "${v}" is not an IPv4 address`, "Write an address such as 192.168.1.71 (go-sockaddr templates are not evaluated by crosshost).");
    return ip;
  }

  private agentConfig(o: Obj, isFlags: boolean): ConsulAgentConfig {
    const k = (file: string, flag: string) => (isFlags ? flag : file);
    const addr = { pattern: /^(?:[0-9.]+|\{\{[^\u0000-\u001f]*\}\})$/, patternHint: "Write an IPv4 address, or a go-sockaddr template such as {{ GetInterfaceIP \"eth0\" }}." };
    const server = o.bool("server");
    const bootstrapExpect = o.num("bootstrap_expect", { min: 0, max: 99 });
    const bootstrap = o.bool("bootstrap");
    const bindAddr = o.str(k("bind_addr", "bind"), addr);
    const advertiseAddr = o.str(k("advertise_addr", "advertise"), addr);
    // "::" is the IPv6 any-address; Consul's listeners on it take IPv4 too (dual stack).
    const clientAddr = o.str(k("client_addr", "client"), { pattern: /^(?:(?:[0-9.]+|::)(?: +(?:[0-9.]+|::))*|\{\{[^\u0000-\u001f]*\}\})$/, patternHint: "Write an IPv4 address such as 0.0.0.0 (or :: for every address)." });
    const retryJoin = o.has("retry_join") ? o.strList("retry_join", { pattern: /^[A-Za-z0-9.:-]+$/, patternHint: "Write an address or host name." }) : undefined;
    const startJoin = o.has(k("start_join", "join")) ? o.strList(k("start_join", "join"), { pattern: /^[A-Za-z0-9.:-]+$/, patternHint: "Write an address or host name." }) : undefined;
    const datacenter = isFlags ? o.str("datacenter", { pattern: /^[A-Za-z0-9_-]+$/ }) : o.str("datacenter", { pattern: /^[A-Za-z0-9_-]+$/ });
    const ui = o.bool("ui");
    const nodeName = isFlags ? o.str("node", { pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT }) : undefined;
    const out: { -readonly [K in keyof ConsulAgentConfig]: ConsulAgentConfig[K] } = {};
    if (server !== undefined) out.server = server;
    if (bootstrapExpect !== undefined && bootstrapExpect !== 0) out.bootstrapExpect = bootstrapExpect;
    if (bootstrap !== undefined) out.bootstrap = bootstrap;
    if (bindAddr !== undefined) out.bindAddr = bindAddr;
    if (advertiseAddr !== undefined) out.advertiseAddr = advertiseAddr;
    if (clientAddr !== undefined) out.clientAddr = clientAddr;
    if (retryJoin !== undefined) out.retryJoin = retryJoin;
    if (startJoin !== undefined) out.startJoin = startJoin;
    if (datacenter !== undefined) out.datacenter = datacenter;
    if (ui !== undefined) out.ui = ui;
    if (nodeName !== undefined) out.nodeName = nodeName;
    return out;
  }

  /** undefined: the network could not be read (reported); the agent is then left out. */
  private agentNetwork(o: Obj): ConsulAgent["network"] | undefined {
    const raw = o.get("network");
    if (raw === undefined || raw === null || raw === "host") return "host";
    if (typeof raw === "string") {
      return this.ref("network", raw, this.networkNames, o.at("network")) ? { network: raw, publish: [] } : undefined;
    }
    const n = this.r.object(raw, o.at("network"), "an agent network", AGENT_NET_KEYS);
    if (!n) return undefined;
    const network = n.str("network", { required: true });
    let ip = n.ip("ip");
    const publish = n.list("publish", "publish", (pv, pp) => this.publish(pv, pp));
    if (network === undefined || !this.ref("network", network, this.networkNames, n.at("network"))) return undefined;
    if (network === DEFAULT_BRIDGE && ip !== undefined) ip = this.onDefaultBridge(n.at("ip"), "a fixed ip", "--ip", "user specified IP address is supported on user defined networks only");
    return { network, publish, ...(ip !== undefined ? { ip } : {}) };
  }

  // ---- services ----------------------------------------------------------------------------

  private service(v: unknown, path: PlanPath, consul: Consul | undefined, containers: Map<string, Container>): ServiceRegistration | undefined {
    const o = this.r.object(v, path, "a service registration", SERVICE_KEYS);
    if (!o) return undefined;
    const id = o.str("id", { required: true, pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT });
    const name = o.str("name", { pattern: DOCKER_NAME, patternHint: DOCKER_NAME_HINT }) ?? id;
    const agent = o.str("agent", { required: true });
    const address = o.has("address") ? this.addressRef(o.get("address"), o.at("address"), containers) : o.missing("address", "Add address: <IP>, { container: name } or { host: name }.");
    const port = o.num("port", { required: true, min: 1, max: 65535 });
    const tags = o.strList("tags", { pattern: SAFE_TEXT, patternHint: SAFE_TEXT_HINT });
    const provider = o.str("provider");
    if (provider !== undefined) this.ref("container", provider, this.containerNames, o.at("provider"));
    const consumers = o.list("consumers", "consumers", (cv, cp) => this.endpoint(cv, cp, containers));
    if (!consul && agent !== undefined) {
      this.r.report(diag("unknown_reference", { path: o.at("agent"), message: `service "${id ?? "?"}" names agent "${agent}", but the plan has no consul section`, hint: "Add consul: { agents: [...] }." }));
      return undefined;
    }
    if (agent !== undefined && !this.ref("Consul agent", agent, this.agentNames, o.at("agent"))) return undefined;
    if (id === undefined || name === undefined || agent === undefined || address === undefined || port === undefined) return undefined;
    // An agent that is declared but could not be read (its host is unknown, ...) was reported already.
    if (!consul?.agents.some((a) => a.name === agent)) return undefined;
    const check = o.has("check") ? this.check(o.get("check"), o.at("check"), address, port, containers) : undefined;
    return {
      id, name, agent, address, port, tags, consumers, path,
      ...(check ? { check } : {}), ...(provider !== undefined && containers.has(provider) ? { provider } : {}),
    };
  }

  private check(v: unknown, path: PlanPath, address: AddressRef, port: number, containers: Map<string, Container>): HealthCheck | undefined {
    const o = this.r.object(v, path, "a health check", CHECK_KEYS);
    if (!o) return undefined;
    const type = (o.str("type", { oneOf: ["http", "tcp"] }) ?? "http") as "http" | "tcp";
    const target = o.has("address") ? this.addressRef(o.get("address"), o.at("address"), containers) : address;
    const checkPort = o.num("port", { min: 1, max: 65535 }) ?? port;
    const urlPath = o.str("path", { pattern: URL_PATH, patternHint: "Write a URL path starting with /." }) ?? "/";
    let interval = o.str("interval", { pattern: DURATION, patternHint: DURATION_HINT }) ?? "10s";
    // Consul refuses to register an http or tcp check without an interval ("Interval must be > 0",
    // agent/structs/check_type.go, CheckType.Validate).
    if (durationMs(interval) === 0) {
      this.r.invalid(o.at("interval"), `${type === "http" ? "an http" : "a tcp"} check needs an interval above 0: Consul refuses to register it`, "Write the interval Consul should run the check at, such as 10s.");
      interval = "10s";
    }
    const timeout = o.str("timeout", { pattern: DURATION, patternHint: DURATION_HINT }) ?? "5s";
    if (target === undefined) return undefined;
    return { type, target, port: checkPort, path: urlPath, interval, timeout, planPath: path };
  }

  private addressRef(v: unknown, path: PlanPath, containers: Map<string, Container>): AddressRef | undefined {
    if (typeof v === "string") {
      const ip = parseIp(v);
      if (ip !== undefined) return { kind: "ip", ip, path };
      return this.r.invalid(path, `address "${v}" is not an IPv4 address`, "Write an address, { container: NAME [, network: NET] } or { host: NAME }.");
    }
    const o = this.r.object(v, path, "an address", ADDRESS_KEYS);
    if (!o) return undefined;
    const container = o.str("container");
    const network = o.str("network");
    const host = o.str("host");
    if ((container === undefined) === (host === undefined)) {
      return this.r.invalid(path, "an address names either a container or a host", "Write { container: web-service-2 } or { host: consul-server-1 }.");
    }
    if (host !== undefined) return this.ref("host", host, this.allHostNames, () => o.at("host")) ? { kind: "host", host, path } : undefined;
    if (!this.ref("container", container!, this.containerNames, o.at("container"))) return undefined;
    if (network !== undefined) {
      if (!this.ref("network", network, this.networkNames, o.at("network"))) return undefined;
      const c = containers.get(container!);
      if (c && !c.attachments.some((a) => a.network === network)) {
        this.r.report(diag("unknown_reference", { path: o.at("network"), message: `container "${container}" is not attached to "${network}"`, hint: `It is on: ${c.attachments.map((a) => a.network).join(", ") || "the host network"}.` }));
        return undefined;
      }
    }
    return { kind: "container", container: container!, path, ...(network !== undefined ? { network } : {}) };
  }

  private endpoint(v: unknown, path: PlanPath, containers: Map<string, Container>): Endpoint | undefined {
    if (typeof v !== "string") return this.r.invalid(path, `${describe(v)} is not a container or host:NAME`, "Write a container name, or host:NAME for a host itself.");
    if (v.startsWith("host:")) {
      const host = v.slice(5);
      return this.ref("host", host, this.allHostNames, path) ? { kind: "host", host, path } : undefined;
    }
    if (!this.ref("container", v, this.containerNames, path)) return undefined;
    return containers.has(v) ? { kind: "container", container: v, path } : undefined;
  }

  private target(v: unknown, path: PlanPath, containers: Map<string, Container>): Target | undefined {
    if (typeof v === "string") {
      const ip = parseIp(v);
      if (ip !== undefined) return { kind: "ip", ip, path };
      if (v.startsWith("host:")) {
        const host = v.slice(5);
        return this.ref("host", host, this.allHostNames, path) ? { kind: "host", host, path } : undefined;
      }
      const [name, network] = v.split("@") as [string, string | undefined];
      if (!this.ref("container", name, this.containerNames, path)) return undefined;
      if (network !== undefined && !this.ref("network", network, this.networkNames, path)) return undefined;
      return containers.has(name) ? { kind: "container", container: name, path, ...(network !== undefined ? { network } : {}) } : undefined;
    }
    return this.r.invalid(path, `${describe(v)} is not an address, a container or host:NAME`, "Write 172.29.0.72, box2, box2@macvlan-test or host:docker-71.");
  }

  // ---- expectations and faults -------------------------------------------------------------

  private expectation(v: unknown, path: PlanPath, containers: Map<string, Container>, hosts: Map<string, Host>, networks: Network[]): Expectation | undefined {
    const o = this.r.object(v, path, "an expectation", EXPECT_KINDS);
    if (!o) return undefined;
    const kinds = Object.keys(o.raw).filter((k) => EXPECT_KINDS.includes(k));
    if (kinds.length !== 1) {
      if (Object.keys(o.raw).length === kinds.length) this.r.invalid(path, `an expectation has exactly one of ${EXPECT_KINDS.join(", ")}`, "Split it into one list item per expectation.");
      return undefined;
    }
    const kind = kinds[0]!;
    const p = o.at(kind);
    const val = o.get(kind);
    switch (kind) {
      case "reach": case "no_reach": {
        const r = this.r.object(val, p, kind, REACH_KEYS);
        if (!r) return undefined;
        const from = r.has("from") ? this.endpoint(r.get("from"), r.at("from"), containers) : r.missing("from", "Add from: <container> or from: host:<name>.");
        const to = r.has("to") ? this.target(r.get("to"), r.at("to"), containers) : r.missing("to", "Add to: <address>, <container> or host:<name>.");
        const by = (r.str("by", { oneOf: ["address", "name"] }) ?? "address") as "address" | "name";
        const size = r.num("size", { min: 0, max: 65507 }) ?? DEFAULT_PING_PAYLOAD;
        const proto = (r.str("proto", { oneOf: ["icmp", "tcp", "udp"] }) ?? "icmp") as "icmp" | Proto;
        const port = r.num("port", { min: 1, max: 65535 });
        if (proto !== "icmp" && port === undefined) r.missing("port", `Add port: <number> for a ${proto} probe.`);
        if (by === "name" && to && to.kind !== "container") this.r.invalid(r.at("by"), "by: name needs a container as the target", "Name a container in to:, or use by: address.");
        if (!from || !to || (proto !== "icmp" && port === undefined)) return undefined;
        return { kind: "reach", from, to, by, size, proto, reach: kind === "reach", path, ...(port !== undefined ? { port } : {}) };
      }
      case "consul_leader": case "swarm_leader": {
        if (typeof val === "boolean") return { kind, leader: val, path };
        if (typeof val !== "string") return this.r.invalid(p, `${kind} must be a name or true/false`, `Write ${kind}: consul-server-1, or ${kind}: true.`);
        if (kind === "consul_leader" && !this.ref("Consul agent", val, this.agentNames, p)) return undefined;
        if (kind === "swarm_leader" && !this.ref("host", val, this.allHostNames, p)) return undefined;
        return { kind, leader: val, path };
      }
      case "service_passing": case "service_critical": {
        if (typeof val !== "string") return this.r.invalid(p, `${kind} must name a service id`, `Write ${kind}: web-service-1.`);
        if (!this.ref("service", val, this.serviceIds, p)) return undefined;
        return { kind: "service_health", service: val, health: kind === "service_passing" ? "passing" : "critical", path };
      }
      case "sees_network": case "not_sees_network": {
        const s = this.r.object(val, p, kind, SEES_KEYS);
        if (!s) return undefined;
        const host = s.str("host", { required: true });
        const network = s.str("network", { required: true });
        if (host === undefined || network === undefined) return undefined;
        if (!this.ref("host", host, this.allHostNames, s.at("host")) || !hosts.has(host)) return undefined;
        if (!this.ref("network", network, new Set(networks.map((n) => n.name)), s.at("network"))) return undefined;
        return { kind: "sees_network", host, network, sees: kind === "sees_network", path };
      }
    }
    return undefined;
  }

  private fault(v: unknown, path: PlanPath, segments: Segment[]): Fault[] {
    let text: string | undefined;
    if (typeof v === "string") text = v;
    else if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1) {
      const [k, val] = Object.entries(v)[0]!;
      if (typeof val === "string" || typeof val === "number") text = `${k}:${val}`;
    }
    if (text === undefined) {
      this.r.invalid(path, `${describe(v)} is not a fault`, "Write a fault as text, e.g. \"stop:consul-server-2\" or \"mtu:lan=1400\".");
      return [];
    }
    const out: Fault[] = [];
    for (const res of parseFault(text, path, segments.map((s) => s.name))) {
      if (!res.ok) { this.r.invalid(path, res.message, res.hint); continue; }
      if (this.faultRefsOk(res.fault, path)) out.push(res.fault);
    }
    return out;
  }

  private faultRefsOk(f: Fault, path: PlanPath): boolean {
    switch (f.kind) {
      case "stop_agent": case "start_agent": return this.ref("Consul agent", f.agent, this.agentNames, path);
      case "stop_container": case "start_container": return this.ref("container", f.container, this.containerNames, path);
      case "partition": return f.groups.every((g) => g.every((h) => this.ref("host", h, this.allHostNames, path)));
      case "block_port": case "unblock_port": return this.ref("host", f.from, this.allHostNames, path) && this.ref("host", f.to, this.allHostNames, path);
      case "set_mtu": return this.ref("segment", f.segment, this.segmentNames, path);
      case "heal_partition": return true;
      default: return this.ref("host", f.host, this.allHostNames, path);
    }
  }
}

/** Shared empty values: a 100k-container plan should not allocate 100k empty arrays. */
const NONE: readonly never[] = Object.freeze([]);
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

interface PendingBinding {
  host: string;
  path: PlanPath;
  subnet?: Cidr;
  gateway?: Ip;
  ipRange?: Cidr;
  parent?: string;
  aux: { name: string; ip: Ip; path: PlanPath }[];
}

interface PendingNetwork {
  name: string;
  driver: NetworkDriver;
  scope: "local" | "swarm";
  attachable: boolean;
  encrypted: boolean;
  internal: boolean;
  subnet?: Cidr;
  gateway?: Ip;
  ipRange?: Cidr;
  aux: { name: string; ip: Ip; path: PlanPath }[];
  parent?: string;
  mode?: string;
  mtu?: number;
  createOn?: string;
  bindings: PendingBinding[];
  hostsDeclared: boolean;
  path: PlanPath;
}

/** A Consul agent runs as a container named after it (the seed's `docker run --name=consul-server-1`). */
function agentContainer(a: ConsulAgent): Container {
  // HTTP and DNS listen on client_addr (127.0.0.1 unless set); RPC and gossip on bind_addr.
  const client = parseIp(a.clientAddr.split(" ")[0] ?? "");
  const clientIp = client !== undefined && client !== 0 ? { ip: client } : {};
  const bindIp = a.bindAddr !== undefined ? { ip: a.bindAddr } : {};
  const listen = [
    ...(a.server ? [{ port: a.ports.server, proto: "tcp" as const, ...bindIp }] : []),
    { port: a.ports.serfLan, proto: "tcp" as const, ...bindIp }, { port: a.ports.serfLan, proto: "udp" as const, ...bindIp },
    ...[a.ports.http, a.ports.https ?? -1, a.ports.grpc ?? -1].filter((p) => p > 0).map((port) => ({ port, proto: "tcp" as const, ...clientIp })),
    ...(a.ports.dns > 0 ? [{ port: a.ports.dns, proto: "tcp" as const, ...clientIp }, { port: a.ports.dns, proto: "udp" as const, ...clientIp }] : []),
    ...(a.server ? [{ port: a.ports.serfWan, proto: "tcp" as const, ...bindIp }, { port: a.ports.serfWan, proto: "udp" as const, ...bindIp }] : []),
  ];
  const net = a.network;
  return {
    name: a.name, host: a.host, image: a.image, agent: a.name, labels: {}, path: a.path,
    networkMode: net === "host" ? "host" : "networks",
    attachments: net === "host" ? [] : [{ network: net.network, aliases: [], path: [...a.path, "network"], ...(net.ip !== undefined ? { ip: net.ip } : {}) }],
    publish: net === "host" ? [] : net.publish,
    listen,
  };
}

function validPort(s: string): boolean {
  const n = Number(s);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function uniqueIps(xs: Ip[]): Ip[] {
  return [...new Set(xs)];
}

function fmt(ip: Ip): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}
