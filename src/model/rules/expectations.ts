// Expectations that the plan itself rules out, found before anything runs.
import { diag, type Diagnostic } from "../diagnostics.js";
import { formatIp } from "../ip.js";
import { resolveName } from "../net/dns.js";
import { ALL_UP, pingProbe, trace } from "../net/trace.js";
import { endpointLabel, endpointNetns, targetAddress, targetLabel, type RuleContext } from "./context.js";
import type { Target } from "../plan.js";

export function expectationFindings(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const e of ctx.plan.expectations) {
    switch (e.kind) {
      case "reach": {
        if (e.by === "name" && e.to.kind === "container") {
          const from = e.from.kind === "container" ? ctx.index.containers.get(e.from.container) : undefined;
          const res = resolveName(ctx.topo, from, e.to.container);
          const incomplete = from?.networksIncomplete === true || ctx.index.containers.get(e.to.container)?.networksIncomplete === true;
          if (!res.ok && e.reach && !incomplete) {
            out.push(diag("name_resolution_unavailable", { path: e.path, message: `${endpointLabel(e.from)} cannot reach ${e.to.container} by name: ${res.reason}`, hint: "Attach both containers to a user-defined network, or reach it by address." }));
          }
          continue;
        }
        // A host reaching its own macvlan container needs a shim (moby/libnetwork#1915).
        if (!e.reach || e.from.kind !== "host") continue;
        const ns = endpointNetns(ctx, e.from);
        const ip = targetAddress(ctx, e.to, e.from);
        if (!ns || ip === undefined) continue;
        const res = trace(ctx.topo, ALL_UP, ns, ip, pingProbe(e.size));
        // A duplicate address or a firewall has findings of its own; this one is about parent isolation.
        if (res.code === "isolation" || (!res.ok && res.code !== "duplicate" && res.code !== "firewall" && ownMacvlanChild(ctx, e.from.host, e.to))) {
          out.push(diag("macvlan_host_isolation", {
            severity: "error", path: e.path, host: e.from.host,
            message: `${endpointLabel(e.from)} is expected to reach ${targetLabel(e.to)}, its own macvlan container: the kernel never passes that traffic${ctx.index.hosts.get(e.from.host)?.shims.length ? " outside a shim, and no shim routes it" : ""}`,
            hint: ctx.index.hosts.get(e.from.host)?.shims.length
              ? `Add ${formatIp(ip)}/32 (or the host's ip_range) to the routes of ${e.from.host}'s shim (hosts[].shims[].routes).`
              : "Add a macvlan shim on the host (hosts[].shims: [{ parent, address, routes }]).",
          }));
        }
        continue;
      }
      case "consul_leader": {
        if (typeof e.leader !== "string") continue;
        const a = ctx.index.agents.get(e.leader);
        if (a && !a.server) out.push(diag("expectation_unsatisfiable", { path: e.path, message: `${e.leader} is a client agent: only servers can lead`, hint: "Name a server agent, or write consul_leader: true." }));
        continue;
      }
      case "swarm_leader": {
        if (typeof e.leader !== "string") continue;
        const n = ctx.index.swarmNodes.get(e.leader);
        if (!n || n.role !== "manager") out.push(diag("expectation_unsatisfiable", { path: e.path, message: `${e.leader} is ${n ? "a worker" : "not in the swarm"}: only managers can lead`, hint: "Name a manager, or write swarm_leader: true." }));
        continue;
      }
      case "service_health":
      case "sees_network":
        continue;
    }
  }
  return out;
}

/** The target is a macvlan/ipvlan container on the host itself. */
function ownMacvlanChild(ctx: RuleContext, host: string, to: Target): boolean {
  if (to.kind !== "container") return false;
  const c = ctx.index.containers.get(to.container);
  if (!c || c.host !== host) return false;
  return c.attachments.some((a) => {
    const d = ctx.index.networks.get(a.network)?.driver;
    return (d === "macvlan" || d === "ipvlan") && (to.network === undefined || to.network === a.network);
  });
}
