// Service registrations: the health check runs from the agent's own network namespace (Consul
// agent/checks/check.go), so its target must be reachable from there; the registered address must be
// reachable from the consumers the plan declares (hashicorp/docker-consul#42, gliderlabs/registrator#291).
import { diag, type Diagnostic } from "../diagnostics.js";
import { formatIp } from "../ip.js";
import { agentNetns, stockPageMissing } from "../net/topology.js";
import { ALL_UP, trace } from "../net/trace.js";
import { hostPortBindings, type AddressRef } from "../plan.js";
import { endpointLabel, endpointNetns, resolveAddress, type RuleContext } from "./context.js";

function refLabel(ref: AddressRef): string {
  switch (ref.kind) {
    case "ip": return "the address";
    case "host": return `${ref.host}'s address`;
    case "container": return `${ref.container}'s address${ref.network ? ` on ${ref.network}` : ""}`;
  }
}

export function serviceChecks(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of ctx.plan.services) {
    const agent = ctx.index.agents.get(s.agent);
    if (agent && agent.ports.http < 0) {
      out.push(diag("invalid_value", {
        path: [...s.path, "agent"],
        message: `service ${s.id} is registered through ${agent.name}'s HTTP API, which ports.http: -1 turns off`,
        hint: `Give ${agent.name} an HTTP port, or register the service with another agent.`,
      }));
      continue;
    }
    const check = s.check;
    if (!agent || !check) continue;
    const from = agentNetns(agent);
    const ip = resolveAddress(ctx, check.target);
    if (ip === undefined) continue;
    const res = trace(ctx.topo, ALL_UP, from, ip, { proto: "tcp", port: check.port, ipSize: 60, df: true });
    if (res.ok) {
      // The port answers; whether the path does depends on what serves it.
      const missing = check.type === "http" ? stockPageMissing(ctx.topo, ctx.index, res.answeredBy, check.path) : undefined;
      if (missing) {
        const { container: served, paths } = missing;
        out.push(diag("service_check_path_not_found", {
          path: [...check.planPath, "path"], host: agent.host,
          message: `the http check of ${s.id} (http://${formatIp(ip)}:${check.port}${check.path}) can never pass: ${served.name} runs ${served.image} as it comes, which serves ${paths.join(" and ")} only (any other path is a 404)`,
          hint: `Check a path the image serves (path: ${paths[0]}), or a tcp check on port ${check.port}; or give ${served.name} an image or command that serves ${check.path}.`,
        }));
      }
      continue;
    }
    const where = agent.network === "host" ? `the network of host ${agent.host} (the agent uses --net=host)` : `agent ${agent.name}'s container`;
    out.push(diag("service_check_unreachable", {
      path: check.planPath, host: agent.host,
      message: `the ${check.type} check of ${s.id} (${check.type === "http" ? `http://${formatIp(ip)}:${check.port}${check.path}` : `${formatIp(ip)}:${check.port}`}) can never pass: from ${where}, ${res.reason}`,
      hint: checkHint(ctx, s.id, res.code),
    }));
  }
  return out;
}

function checkHint(ctx: RuleContext, id: string, code: string | undefined): string {
  const s = ctx.index.services.get(id)!;
  const provider = s.provider ? ctx.index.containers.get(s.provider) : undefined;
  const pub = provider?.publish[0];
  // A published port something else on the host already binds (a host-network agent's 8500) never comes up.
  const taken = (port: number) => (ctx.topo.containersOn.get(provider?.host ?? "") ?? []).some((c) => c !== provider && hostPortBindings(c).some((b) => b.port === port && b.proto === "tcp"));
  if (code === "not_listening" && pub && taken(pub.hostPort)) return `Publish ${provider!.name}'s port on a free host port (${pub.hostPort} is already bound on ${provider!.host}) and register ${provider!.host}'s address with it.`;
  if (code === "not_listening" && pub) return `Register ${provider!.host}'s address with the published port ${pub.hostPort} (${pub.hostPort}:${pub.containerPort}).`;
  if (code === "not_published" && provider) return `Attach ${provider.name} to a network that is not internal as well (or drop internal: true): ports of a container only on internal networks are not published.`;
  if (code === "no_route" && provider) {
    return provider.publish.length > 0
      ? `Register ${provider.host}'s address and the published port ${provider.publish[0]!.hostPort}: the agent has no route into the overlay.`
      : `Publish ${provider.name}'s port (e.g. "8080:${s.port}") and register ${provider.host}'s address with it: a host-network agent has no route into the overlay.`;
  }
  return "Register an address and port the agent itself can reach.";
}

export function serviceConsumers(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of ctx.plan.services) {
    if (s.consumers.length === 0) continue;
    const ip = resolveAddress(ctx, s.address);
    if (ip === undefined) continue;
    const agent = ctx.index.agents.get(s.agent);
    // A literal address inside a Docker bridge of the agent's host means that host's container; the same
    // range exists on every host, so elsewhere it is another container or nothing (hashicorp/docker-consul#42).
    const bridge = s.address.kind === "ip" && agent ? localBridgeOf(ctx, agent.host, ip) : undefined;
    for (const c of s.consumers) {
      const from = endpointNetns(ctx, c);
      if (!from) continue;
      const consumerHost = c.kind === "host" ? c.host : ctx.index.containers.get(c.container)?.host;
      if (bridge && consumerHost !== agent!.host) {
        out.push(diag("service_address_unreachable", {
          path: c.path,
          message: `${s.id} is registered as ${formatIp(ip)}:${s.port}, an address on ${bridge} of ${agent!.host}: ${endpointLabel(c)} on ${consumerHost} cannot reach it (that range is local to each host)`,
          hint: `Register ${agent!.host}'s own address with a published port for consumers on other hosts.`,
        }));
        continue;
      }
      const res = trace(ctx.topo, ALL_UP, from, ip, { proto: "tcp", port: s.port, ipSize: 60, df: true });
      if (res.ok) continue;
      out.push(diag("service_address_unreachable", {
        path: c.path,
        message: `${s.id} is registered as ${refLabel(s.address)} ${formatIp(ip)}:${s.port}, which ${endpointLabel(c)} cannot reach: ${res.reason}`,
        hint: "Register an address every consumer can reach: the host's address with a published port for consumers on other hosts, the overlay address for consumers on the overlay.",
      }));
    }
  }
  return out;
}

function localBridgeOf(ctx: RuleContext, host: string, ip: number): string | undefined {
  for (const n of ctx.plan.networks) {
    if (n.driver !== "bridge") continue;
    const inst = n.instances.find((i) => i.host === host);
    if (inst && ip >= inst.subnet.first && ip <= inst.subnet.last) return n.name === "bridge" ? "docker0" : n.name;
  }
  return undefined;
}
