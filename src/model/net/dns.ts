// Docker's embedded DNS (127.0.0.11): a container resolves another container's name (or alias) only on
// a user-defined network they share, never on the default bridge; hosts do not use it at all (Docker
// docs, "bridge network driver: differences between user-defined bridges and the default bridge").
import type { Ip } from "../ip.js";
import type { Container } from "../plan.js";
import type { Topology } from "./topology.js";

export type NameResolution = { ok: true; ip: Ip; network: string } | { ok: false; reason: string };

export function resolveName(topo: Topology, from: Container | undefined, name: string): NameResolution {
  if (!from) return { ok: false, reason: `hosts do not use Docker's embedded DNS: "${name}" does not resolve` };
  if (from.networkMode === "host") return { ok: false, reason: `${from.name} uses the host network: no embedded DNS, "${name}" does not resolve` };
  const target = topo.index.containers.get(name) ?? topo.plan.containers.find((c) => c.attachments.some((a) => a.aliases.includes(name)));
  if (!target) return { ok: false, reason: `no container is named "${name}"` };
  let otherEngine = false;
  for (const a of from.attachments) {
    if (a.network === "bridge") continue;
    const shared = target.attachments.find((b) => b.network === a.network && (target.name === name || b.aliases.includes(name)));
    if (!shared) continue;
    // Each engine's DNS knows the containers of its own local networks; only swarm networks share names
    // across hosts (measured in the lab: macvlan containers on two hosts do not resolve each other).
    if (topo.index.networks.get(a.network)?.scope !== "swarm" && target.host !== from.host) {
      otherEngine = true;
      continue;
    }
    const ip = topo.allocation.addresses.get(target.name, a.network);
    if (ip !== undefined) return { ok: true, ip, network: a.network };
  }
  if (otherEngine) return { ok: false, reason: `"${name}" does not resolve from ${from.name}: ${target.name} runs on ${target.host}, and a local network's names are known only to its own host's engine` };
  const onlyDefault = from.attachments.every((a) => a.network === "bridge") || target.attachments.every((a) => a.network === "bridge");
  return {
    ok: false,
    reason: onlyDefault
      ? `"${name}" does not resolve from ${from.name}: the default bridge has no embedded DNS`
      : `"${name}" does not resolve from ${from.name}: they share no user-defined network`,
  };
}
