// A host's inbound firewall as the plan describes it. It filters what is addressed to the host itself
// (INPUT: host-network services, VXLAN, ESP). Ports Docker publishes are DNATed before INPUT and go
// through FORWARD, which INPUT rules such as ufw's never see (moby/moby#4737, #22054).
import { contains, type Ip } from "../ip.js";
import type { FirewallRule, Host } from "../plan.js";

export type FlowProto = "tcp" | "udp" | "esp" | "icmp";

export interface FirewallVerdict {
  readonly allowed: boolean;
  /** The rule that allowed it, when one did. */
  readonly rule?: FirewallRule;
}

export function firewallAllows(dst: Host, srcHost: string | undefined, srcIp: Ip | undefined, proto: FlowProto, port?: number): FirewallVerdict {
  const fw = dst.firewall;
  if (!fw) return { allowed: true };
  if (proto === "icmp") return { allowed: fw.icmp === "allow" };
  for (const rule of fw.allow) {
    if (rule.proto !== "any" && rule.proto !== proto) continue;
    if (rule.ports && (port === undefined || port < rule.ports[0] || port > rule.ports[1])) continue;
    if (rule.from && !rule.from.some((f) => (typeof f === "string" ? f === srcHost : srcIp !== undefined && contains(f, srcIp)))) continue;
    return { allowed: true, rule };
  }
  return { allowed: fw.inbound === "allow" };
}

/** The sources a rule set lets through for one flow: "any", or the hosts among `candidates` that pass. */
export function allowedSources(dst: Host, candidates: readonly { host: string; ip: Ip | undefined }[], proto: FlowProto, port?: number): { host: string; allowed: boolean }[] {
  return candidates.map((c) => ({ host: c.host, allowed: firewallAllows(dst, c.host, c.ip, proto, port).allowed }));
}
