// Swarm: manager quorum, who may run cluster operations, advertise addresses, joins, attachability,
// lazily created overlays on workers, and the data-path port against the underlay's own VXLAN.
import { diag, type Diagnostic } from "../diagnostics.js";
import { formatIp, isGlobalUnicast } from "../ip.js";
import { listOf, onOwnLanUnheld, type RuleContext } from "./context.js";

/** Docker recommends at most seven managers (docs.docker.com/engine/swarm/admin_guide/). */
const MAX_MANAGERS = 7;

/** Raft needs floor(N/2)+1 managers (moby/moby#24407, #33251). */
export function swarmQuorum(ctx: RuleContext): Diagnostic[] {
  const swarm = ctx.plan.swarm;
  if (!swarm) return [];
  const managers = swarm.nodes.filter((n) => n.role === "manager").length;
  if (managers === 0) return [];
  const tolerates = Math.floor((managers - 1) / 2);
  if (managers === 1) {
    return [diag("swarm_quorum_fault_tolerance", { severity: "info", path: swarm.path, message: "one swarm manager: losing it leaves the swarm unmanageable (running containers keep working)", hint: "Use 3 managers to tolerate one failure." })];
  }
  if (managers % 2 === 0) {
    return [diag("swarm_quorum_fault_tolerance", {
      path: swarm.path,
      message: managers === 2
        ? "2 swarm managers need both for quorum: losing either one leaves the swarm without a leader (no fault tolerance)"
        : `${managers} swarm managers need ${Math.floor(managers / 2) + 1} for quorum and tolerate ${tolerates} failure${tolerates === 1 ? "" : "s"}, as ${managers - 1} would`,
      hint: managers < MAX_MANAGERS
        ? `Use an odd number of managers: ${managers + 1} tolerates ${Math.floor(managers / 2)}.`
        : `Use ${MAX_MANAGERS} managers, Docker's recommended maximum (more managers slow every Raft write): they tolerate ${(MAX_MANAGERS - 1) / 2} failures; make the other hosts workers.`,
    })];
  }
  return [];
}

/** Cluster operations need a manager; overlays need a swarm (moby/moby#23845). */
export function swarmManagerOps(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const swarm = ctx.plan.swarm;
  if (!swarm) return out;
  for (const n of ctx.plan.networks) {
    if (n.scope !== "swarm" || n.implicit || n.createOn === undefined) continue;
    const node = ctx.index.swarmNodes.get(n.createOn);
    if (!node || node.role !== "manager") {
      out.push(diag("swarm_not_manager", {
        path: [...n.path, "create_on"], host: n.createOn,
        message: `docker network create -d overlay "${n.name}" runs on ${n.createOn}, which is ${node ? "a worker" : "not in the swarm"}: "This node is not a swarm manager"`,
        hint: `Create it on a manager (${swarm.nodes.filter((x) => x.role === "manager").map((x) => x.host).join(", ")}).`,
      }));
    }
  }
  for (const c of ctx.plan.containers) {
    for (const a of c.attachments) {
      const n = ctx.index.networks.get(a.network);
      if (n?.driver !== "overlay") continue;
      if (!ctx.index.swarmNodes.has(c.host)) {
        out.push(diag("swarm_not_manager", {
          path: a.path, host: c.host,
          message: `${c.name} attaches to overlay "${n.name}", but ${c.host} is not in the swarm`,
          hint: `Add ${c.host} to swarm.nodes (as worker or manager).`,
        }));
      }
    }
  }
  return out;
}

/**
 * Advertise addresses. `swarm init` without one picks the single global address of the host's UP
 * physical NICs and refuses when there are several; with one that is not local it needs a listen
 * address (daemon/cluster/listen_addr.go; moby/moby#27647). `swarm join` never refuses: the manager
 * records the address the join came from, so only peers' reachability matters there.
 */
export function swarmAdvertise(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const swarm = ctx.plan.swarm;
  if (!swarm) return out;
  const allNicIps = new Set(ctx.plan.hosts.flatMap((h) => h.nics.map((n) => n.ip)));
  for (const node of swarm.nodes) {
    const h = ctx.index.hosts.get(node.host);
    if (!h) continue;
    const isInit = node.host === swarm.init;
    if (node.advertiseAddr === undefined) {
      const candidates = h.nics.filter((n) => isGlobalUnicast(n.ip));
      if (isInit && candidates.length > 1) {
        out.push(diag("swarm_advertise_ambiguous", {
          path: node.path, host: h.name,
          message: `swarm init on ${h.name} cannot choose an advertise address: ${candidates.map((n) => `${formatIp(n.ip)} on ${n.name}`).join(" and ")}`,
          // The short form (managers: [...]) has no place for it: say where it goes.
          hint: node.path.includes("nodes")
            ? `Set advertise_addr to the address the other nodes reach ${h.name} on.`
            : `List the node under swarm.nodes with its address: nodes: [{ host: ${h.name}, role: ${node.role}, advertise_addr: ${formatIp(candidates[0]!.ip)} }] (the address the other nodes reach it on).`,
        }));
      }
      continue;
    }
    const local = h.nics.some((n) => n.ip === node.advertiseAddr);
    if (local) continue;
    if (isInit && node.listenAddr === undefined) {
      out.push(diag("swarm_advertise_not_local", {
        path: [...node.path, "advertise_addr"], host: h.name,
        message: `advertise address ${formatIp(node.advertiseAddr)} is not an address of ${h.name}, and no listen_addr is given`,
        hint: `Add listen_addr: ${h.nics[0] ? formatIp(h.nics[0].ip) : "<a local address>"} (Docker cannot tell which interface to listen on).`,
      }));
    } else if (!allNicIps.has(node.advertiseAddr) && swarm.nodes.length > 1 && onOwnLanUnheld(ctx, h.name, node.advertiseAddr)) {
      // On the host's own LAN and held by nothing there: a typo, not NAT. A joining manager is refused by the
      // leader's health check on that address (swarmkit raft checkHealth); peers never reach a worker there.
      out.push(diag("swarm_advertise_not_local", {
        path: [...node.path, "advertise_addr"], host: h.name,
        message: `${h.name} advertises ${formatIp(node.advertiseAddr)}, which is on its own LAN but held by no host or router there: ${node.role === "manager" && !isInit ? "the leader cannot reach it and refuses the join" : "peers cannot reach it"}`,
        hint: `Advertise one of ${h.name}'s addresses (${h.nics.map((n) => formatIp(n.ip)).join(", ")}).`,
      }));
    } else if (!allNicIps.has(node.advertiseAddr) && swarm.nodes.length > 1) {
      out.push(diag("swarm_advertise_not_local", {
        severity: "warning",
        path: [...node.path, "advertise_addr"], host: h.name,
        message: `${h.name} advertises ${formatIp(node.advertiseAddr)}, which is no host's NIC address: peers reach it only through NAT (hairpin)`,
        hint: "Make sure every node can reach that address, or advertise the address peers share with it.",
      }));
    }
    if (node.listenAddr !== undefined && !h.nics.some((n) => n.ip === node.listenAddr)) {
      out.push(diag("invalid_value", { path: [...node.path, "listen_addr"], host: h.name, message: `listen address ${formatIp(node.listenAddr)} is not an address of ${h.name}`, hint: "Listen on one of the host's own addresses." }));
    }
  }
  // Joins go to a manager that exists by then.
  const managerAddrs = new Map<number, string>();
  for (const node of swarm.nodes) {
    const h = ctx.index.hosts.get(node.host);
    const addr = node.advertiseAddr ?? h?.nics[0]?.ip;
    if (node.host === swarm.init && addr !== undefined) managerAddrs.set(addr, node.host);
  }
  for (const node of swarm.nodes) {
    if (node.host === swarm.init) continue;
    if (node.join !== undefined) {
      const target = managerAddrs.get(node.join) ?? [...ctx.index.hosts.values()].find((h) => h.nics.some((n) => n.ip === node.join) && managerAddrs.has(h.nics[0]!.ip))?.name;
      if (target === undefined) {
        out.push(diag("swarm_no_manager_reachable", {
          path: [...node.path, "join"], host: node.host,
          message: `${node.host} joins ${formatIp(node.join)}:2377, where no manager that exists by then listens`,
          hint: `Join the init manager: ${[...managerAddrs.entries()].map(([ip, h]) => `${formatIp(ip)} (${h})`).join(", ")}.`,
        }));
      }
    }
    if (node.role === "manager") {
      const h = ctx.index.hosts.get(node.host);
      const addr = node.advertiseAddr ?? h?.nics[0]?.ip;
      if (addr !== undefined) managerAddrs.set(addr, node.host);
    }
  }
  return out;
}

/** Standalone containers only attach to --attachable overlays (moby/moby#28446). */
export function overlayAttachable(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const c of ctx.plan.containers) {
    for (const a of c.attachments) {
      const n = ctx.index.networks.get(a.network);
      if (n?.driver !== "overlay" || n.attachable) continue;
      out.push(diag("overlay_not_attachable", {
        path: a.path, host: c.host,
        message: `${c.name} is a standalone container on overlay "${n.name}", which is not attachable: "network ${n.name} not manually attachable"`,
        hint: n.implicit ? "Use a user-defined attachable overlay." : `Create "${n.name}" with attachable: true.`,
        related: [{ path: n.path, message: `"${n.name}" is defined here` }],
      }));
    }
  }
  return out;
}

/** Workers list an overlay only while something attached to it runs there (moby/moby#25004, #36197). */
export function overlayLazyOnWorker(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const e of ctx.plan.expectations) {
    if (e.kind !== "sees_network") continue;
    const n = ctx.index.networks.get(e.network);
    const node = ctx.index.swarmNodes.get(e.host);
    if (n?.scope !== "swarm" || !node || node.role !== "worker") continue;
    const attached = ctx.plan.containers.filter((c) => c.host === e.host && c.attachments.some((a) => a.network === e.network)).map((c) => c.name);
    if (attached.length === 0 && e.sees) {
      out.push(diag("overlay_lazy_on_worker", {
        severity: "warning", path: e.path, host: e.host,
        message: `worker ${e.host} will not list "${e.network}": nothing attached to it runs there`,
        hint: "Check the network on a manager, or only after a container on the worker has attached to it.",
      }));
    } else if (attached.length > 0) {
      out.push(diag("overlay_lazy_on_worker", {
        path: e.path, host: e.host,
        message: `worker ${e.host} lists "${e.network}" only while ${listOf(attached)} ${attached.length > 1 ? "are" : "is"} attached; before that (and after the last leaves) it does not`,
        hint: "Order checks after the attachment; managers list every overlay at once.",
      }));
    }
  }
  return out;
}

/** The data-path port must not be a VXLAN port the underlay already uses (moby/moby#33416; libnetwork#2282). */
export function vxlanPortConflict(ctx: RuleContext): Diagnostic[] {
  const swarm = ctx.plan.swarm;
  if (!swarm) return [];
  const out: Diagnostic[] = [];
  const encrypted = ctx.plan.networks.filter((n) => n.scope === "swarm" && n.encrypted).map((n) => n.name);
  if (encrypted.length > 0 && swarm.dataPathPort !== 4789) {
    // libnetwork's IPsec policy matched udp/4789 literally while VXLAN used the configured port: on such
    // engines the encrypted overlay's traffic leaves unencrypted or not at all (libnetwork encryption.go).
    out.push(diag("vxlan_port_conflict", {
      severity: "warning", path: [...swarm.path, "data_path_port"],
      message: `encrypted overlay ${listOf(encrypted)} with data-path port ${swarm.dataPathPort}: engines whose IPsec policy only matches udp/4789 do not encrypt (or drop) this traffic`,
      hint: "Keep the default data-path port 4789 for encrypted overlays, or check your engine version encrypts custom ports.",
    }));
  }
  const hit = swarm.nodes.map((n) => ctx.index.hosts.get(n.host)).filter((h) => h?.underlayVxlanPorts.includes(swarm.dataPathPort)).map((h) => h!.name);
  if (hit.length === 0) return out;
  return [...out, diag("vxlan_port_conflict", {
    path: [...swarm.path, "data_path_port"],
    message: `the swarm's data-path port udp/${swarm.dataPathPort} is already the underlay's VXLAN port on ${listOf(hit)}: overlay traffic will vanish`,
    hint: "Choose another data_path_port at swarm init (e.g. 7789); it cannot change later.",
  })];
}

