// What a real host is, found over its Transport before anything changes: Docker and its version, the
// kernel's link types, NICs with addresses and MTUs, listening ports, Docker networks, swarm state.
// The facts are applied to the plan so that the validator's own rules speak about the real hosts.
import { diag, type Diagnostic } from "../../model/diagnostics.js";
import { formatIp } from "../../model/ip.js";
import type { Host, KernelFeature, Plan, Proto } from "../../model/plan.js";
import { OWNER_LABEL } from "../../model/steps/step.js";
import type { Transport } from "../transport.js";

export interface HostFacts {
  readonly host: string;
  readonly docker?: { readonly version: string; readonly swarm: string };
  readonly dockerError?: string;
  readonly kernel: Partial<Record<KernelFeature, boolean>>;
  readonly nics: readonly { readonly name: string; readonly address?: string; readonly prefix?: number; readonly mtu: number }[];
  readonly listening: readonly { readonly port: number; readonly proto: Proto }[];
  readonly networks: readonly string[];
  /** Names of containers crosshost already created on the host (they may own some listening ports). */
  readonly ownContainers: readonly string[];
}

const PROBES: Partial<Record<KernelFeature, (parent: string) => string[]>> = {
  macvlan: (p) => ["link", p, "type", "macvlan", "mode", "bridge"],
  ipvlan: (p) => ["link", p, "type", "ipvlan", "mode", "l2"],
  vxlan: () => ["type", "vxlan", "id", "4242", "dstport", "0"],
  "8021q": (p) => ["link", p, "type", "vlan", "id", "4042"],
};

export async function gatherFacts(t: Transport, host: Host): Promise<HostFacts> {
  const run = (argv: string[]) => t.exec(argv, { timeoutMs: 20_000 });
  const [ver, addrs, ss, nets, own] = await Promise.all([
    run(["docker", "version", "--format", "{{.Server.Version}}"]),
    run(["ip", "-j", "addr", "show"]),
    run(["ss", "-H", "-l", "-n", "-t", "-u"]),
    run(["docker", "network", "ls", "--format", "{{.Name}}"]),
    run(["docker", "ps", "-a", "--filter", `label=${OWNER_LABEL}=true`, "--format", "{{.Names}}"]),
  ]);
  const swarm = ver.code === 0 ? await run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]) : undefined;
  const nics: { name: string; address?: string; prefix?: number; mtu: number }[] = [];
  try {
    for (const l of JSON.parse(addrs.stdout) as { ifname: string; mtu: number; addr_info?: { family: string; local: string; prefixlen: number }[] }[]) {
      const v4 = (l.addr_info ?? []).filter((a) => a.family === "inet");
      if (v4.length === 0) nics.push({ name: l.ifname, mtu: l.mtu });
      for (const a of v4) nics.push({ name: l.ifname, address: a.local, prefix: a.prefixlen, mtu: l.mtu });
    }
  } catch {
    // no JSON from ip: NIC checks are skipped
  }
  const listening: { port: number; proto: Proto }[] = [];
  for (const line of ss.stdout.split("\n")) {
    const cols = line.trim().split(/\s+/);
    const proto = cols[0] === "tcp" ? "tcp" : cols[0] === "udp" ? "udp" : undefined;
    const local = cols[4];
    const port = local ? Number(local.slice(local.lastIndexOf(":") + 1)) : NaN;
    if (proto && Number.isInteger(port) && port > 0 && !listening.some((x) => x.port === port && x.proto === proto)) listening.push({ port, proto });
  }
  const kernel: Partial<Record<KernelFeature, boolean>> = {};
  const parent = host.nics[0]?.name && nics.some((n) => n.name === host.nics[0]!.name) ? host.nics[0]!.name : nics.find((n) => n.name !== "lo")?.name;
  for (const [feature, args] of Object.entries(PROBES) as [KernelFeature, (p: string) => string[]][]) {
    if (!parent && feature !== "vxlan") continue;
    const name = `cxprobe${feature.length}${process.pid % 1000}`;
    const r = await run(["ip", "link", "add", name, ...args(parent ?? "lo")]);
    kernel[feature] = r.code === 0;
    if (r.code === 0) await run(["ip", "link", "del", name]);
  }
  return {
    host: host.name,
    ...(ver.code === 0 ? { docker: { version: ver.stdout.trim(), swarm: swarm?.stdout.trim() ?? "" } } : { dockerError: (ver.stderr.trim() || `exit ${ver.code}`).split("\n")[0] ?? "" }),
    kernel, nics, listening,
    networks: nets.code === 0 ? nets.stdout.split("\n").map((s) => s.trim()).filter(Boolean) : [],
    ownContainers: own.code === 0 ? own.stdout.split("\n").map((s) => s.trim()).filter(Boolean) : [],
  };
}

/** Differences between the plan's idea of a host and the host, as diagnostics naming the host. */
export function factFindings(plan: Plan, facts: readonly HostFacts[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const f of facts) {
    const h = plan.hosts.find((x) => x.name === f.host);
    if (!h) continue;
    if (!f.docker) {
      out.push(diag("host_fact_mismatch", { path: h.path, host: h.name, message: `${h.name}: no Docker engine answers (${f.dockerError})`, hint: "Install Docker (docker.io) and start it, and let the SSH user use it (root, the docker group, or ssh.sudo: true)." }));
    }
    h.nics.forEach((n, i) => {
      const found = f.nics.filter((x) => x.name === n.name);
      const others = [...new Set(f.nics.filter((x) => x.name !== "lo" && x.address).map((x) => `${x.name} ${x.address}/${x.prefix}`))];
      if (found.length === 0) {
        out.push(diag("host_fact_mismatch", { path: [...h.path, "nics", i, "name"], host: h.name, message: `${h.name} has no interface ${n.name}; it has ${others.join(", ") || "none with an IPv4 address"}`, hint: `Name the host's real interface in the plan (e.g. ${others[0]?.split(" ")[0] ?? "eth0"}).` }));
        return;
      }
      const want = `${formatIp(n.ip)}/${n.cidr.prefix}`;
      if (!found.some((x) => `${x.address}/${x.prefix}` === want)) {
        out.push(diag("host_fact_mismatch", { path: [...h.path, "nics", i, "address"], host: h.name, message: `${h.name}'s ${n.name} has ${found.map((x) => (x.address ? `${x.address}/${x.prefix}` : "no IPv4 address")).join(", ")}, not ${want}`, hint: "Write the host's real address in the plan, or configure the host first." }));
      }
      if (found[0]!.mtu !== n.mtu) {
        out.push(diag("host_fact_mismatch", { severity: "warning", path: [...h.path, "nics", i, "mtu"], host: h.name, message: `${h.name}'s ${n.name} has MTU ${found[0]!.mtu}, the plan says ${n.mtu}`, hint: `Write mtu: ${found[0]!.mtu} in the plan so that the MTU checks use the real value.` }));
      }
    });
  }
  return out;
}

/**
 * The plan with each host's facts: kernel features, engine version, and ports already bound by something
 * other than what crosshost runs there (crosshost's own containers may own some after an earlier apply).
 */
export function applyFacts(plan: Plan, facts: readonly HostFacts[]): Plan {
  const byHost = new Map(facts.map((f) => [f.host, f] as const));
  const hosts = plan.hosts.map((h): Host => {
    const f = byHost.get(h.name);
    if (!f) return h;
    const ours = new Set<string>();
    for (const c of plan.containers) {
      if (c.host !== h.name || !f.ownContainers.includes(c.name)) continue;
      if (c.networkMode === "host") for (const l of c.listen) ours.add(`${l.proto}/${l.port}`);
      for (const p of c.publish) ours.add(`${p.proto}/${p.hostPort}`);
    }
    const swarmPorts = new Set(["tcp/2377", "tcp/7946", "udp/7946", `udp/${plan.swarm?.dataPathPort ?? 4789}`]);
    const inUse = f.listening.filter((l) => !ours.has(`${l.proto}/${l.port}`) && !(f.docker?.swarm === "active" && swarmPorts.has(`${l.proto}/${l.port}`)));
    return {
      ...h,
      kernel: { ...h.kernel, ...Object.fromEntries(Object.entries(f.kernel).map(([k, v]) => [k, h.kernel[k as KernelFeature] && v])) },
      docker: { ...h.docker, version: f.docker?.version ?? h.docker.version },
      portsInUse: [...h.portsInUse, ...inUse.map((l) => ({ port: l.port, proto: l.proto }))],
    };
  });
  return { ...plan, hosts };
}

