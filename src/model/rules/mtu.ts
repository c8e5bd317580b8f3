// MTU along every path: NICs against their links, overlays (container MTU + VXLAN [+ ESP]) against the
// smallest underlay between their nodes, and bridges against the NIC their traffic leaves by.
import { diag, type Diagnostic } from "../diagnostics.js";
import { ESP_OVERHEAD, VXLAN_OVERHEAD, overlayInterfaceMtu } from "../defaults.js";
import { contains } from "../ip.js";
import { listOf, type RuleContext } from "./context.js";

/** A NIC whose MTU exceeds its link's drops large frames silently at the switch. */
export function nicMtu(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of ctx.plan.segments) {
    const nics = s.members.flatMap((m) => {
      const h = ctx.index.hosts.get(m.host);
      const i = h?.nics.findIndex((n) => n.name === m.nic) ?? -1;
      return i >= 0 ? [{ h: h!, nic: h!.nics[i]! }] : [];
    });
    // The smallest receiver on the segment: a frame larger than a NIC's MTU is dropped by that NIC,
    // silently, since nothing on one L2 segment sends "fragmentation needed" (B15's mixed MTUs, one hop down).
    const smallest = nics.reduce<(typeof nics)[number] | undefined>((a, x) => (a === undefined || x.nic.mtu < a.nic.mtu ? x : a), undefined);
    for (const { h, nic } of nics) {
      if (nic.mtu > s.mtu) {
        out.push(diag("mtu_exceeds_path", {
          path: [...nic.path, "mtu"], host: h.name,
          message: `${h.name}'s ${nic.name} sends ${nic.mtu}-byte frames onto segment ${s.name}, which carries ${s.mtu}`,
          hint: `Set the NIC's MTU to ${s.mtu}, or raise the switch's MTU.`,
        }));
      } else if (smallest && nic.mtu > smallest.nic.mtu) {
        out.push(diag("mtu_exceeds_path", {
          severity: "warning", path: [...nic.path, "mtu"], host: h.name,
          message: `${h.name}'s ${nic.name} sends up to ${nic.mtu}-byte frames on segment ${s.name}, which ${smallest.h.name}'s ${smallest.nic.name} (MTU ${smallest.nic.mtu}) drops: large UDP and ICMP packets between them are lost (TCP's MSS hides it)`,
          hint: `Give every NIC on segment ${s.name} the same MTU (${smallest.nic.mtu}, or raise ${smallest.h.name}'s ${smallest.nic.name} to ${nic.mtu}).`,
        }));
      }
    }
  }
  return out;
}

/** The MTU a host's overlay traffic meets on its way out: its tunnel NIC and that NIC's segment. */
function underlayMtu(ctx: RuleContext, host: string): { mtu: number; what: string; switch?: boolean } | undefined {
  const h = ctx.index.hosts.get(host);
  const node = ctx.index.swarmNodes.get(host);
  if (!h) return undefined;
  const addr = node?.advertiseAddr;
  const nic = h.nics.find((n) => n.ip === addr) ?? h.nics[0];
  if (!nic) return undefined;
  const segName = ctx.index.segmentOfNic.get(`${host}/${nic.name}`);
  const seg = segName !== undefined ? ctx.index.segments.get(segName) : undefined;
  if (seg && seg.mtu < nic.mtu) return { mtu: seg.mtu, what: `segment ${seg.name} (${seg.mtu})`, switch: true };
  return { mtu: nic.mtu, what: `${host}'s ${nic.name} (${nic.mtu})` };
}

/**
 * VXLAN adds 50 bytes and encryption 26 more; Docker takes the overlay's driver MTU (default 1500) as
 * the underlay's and never checks the host's NIC (libnetwork overlay maxMTU; moby/libnetwork#1021).
 */
export function overlayMtu(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const swarm = ctx.plan.swarm;
  if (!swarm || swarm.nodes.length < 2) return out;
  const paths = swarm.nodes.map((n) => ({ host: n.host, u: underlayMtu(ctx, n.host) })).filter((x) => x.u !== undefined) as { host: string; u: { mtu: number; what: string; switch?: boolean } }[];
  if (paths.length < 2) return out;
  const min = paths.reduce((m, p) => Math.min(m, p.u.mtu), Infinity);
  const seenWhat = new Set<string>();
  const tight = paths.filter((p) => p.u.mtu === min && !seenWhat.has(p.u.what) && seenWhat.add(p.u.what));
  const mixed = paths.some((p) => p.u.mtu !== min);
  for (const n of ctx.plan.networks) {
    if (n.scope !== "swarm") continue;
    const inner = overlayInterfaceMtu(n.mtu, n.encrypted);
    const outer = inner + VXLAN_OVERHEAD + (n.encrypted ? ESP_OVERHEAD : 0);
    if (outer <= min) continue;
    const suggest = min;
    const containers = overlayInterfaceMtu(suggest, n.encrypted);
    // A switch (or a smaller receiving NIC) drops the oversized outer packet silently. When every host's own
    // NIC is the limit, the sender fragments the outer packet of plain traffic (Linux sets no DF on VXLAN by
    // default), but the VXLAN device answers don't-fragment traffic (every TCP segment) with "fragmentation
    // needed", which rarely finds its way back: overlays "do not work" on 1450-byte OpenStack NICs (moby/libnetwork#1021).
    const lost = mixed || tight.some((t) => t.u.switch === true);
    out.push(diag("mtu_exceeds_path", {
      severity: n.ingress ? "warning" : "error",
      path: n.implicit ? n.path : [...n.path, "mtu"],
      message: `${n.ingress ? "the ingress network" : `overlay "${n.name}"`}: containers send up to ${inner} bytes, ${outer} with VXLAN${n.encrypted ? "+ESP" : ""}, but the path through ${listOf(tight.map((t) => t.u.what))} carries ${min}${mixed ? " (the swarm's hosts have different underlay MTUs: the smallest decides)" : ""}: ${lost ? "full-size packets are lost" : "full-size TCP segments (don't-fragment) are refused with 'fragmentation needed' and stall; only plain pings and UDP arrive, fragmented"}`,
      hint: `Set mtu: ${suggest} on the ${n.ingress ? "ingress (swarm.ingress.mtu)" : "overlay"} (com.docker.network.driver.mtu is the underlay MTU; Docker subtracts ${n.encrypted ? "50 + 26" : "50"}, so containers get ${containers}).`,
    }));
  }
  return out;
}

/** A bridge whose MTU exceeds the NIC its traffic leaves by breaks TCP to the outside (moby/moby#49398). */
export function bridgeMtu(ctx: RuleContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const n of ctx.plan.networks) {
    if (n.driver !== "bridge" || n.internal) continue;
    for (const inst of n.instances) {
      if (!inst.host) continue;
      const h = ctx.index.hosts.get(inst.host)!;
      const mtu = n.mtu ?? (n.name === "bridge" ? h.docker.bridge.mtu : n.name === "docker_gwbridge" ? h.docker.gwbridge.mtu : 1500);
      // Traffic leaves by the NIC of the default route (its gateway's NIC), else the first NIC.
      const defaultVia = h.routes.find((r) => r.to.prefix === 0);
      const egress = (defaultVia?.dev ? h.nics.find((x) => x.name === defaultVia.dev) : undefined)
        ?? (defaultVia?.via !== undefined ? h.nics.find((x) => contains(x.cidr, defaultVia.via!)) : undefined)
        ?? h.nics.find((x) => x.gateway !== undefined) ?? h.nics[0];
      if (!egress || mtu <= egress.mtu) continue;
      const label = n.name === "bridge" ? "docker0" : n.name;
      out.push(diag("mtu_exceeds_path", {
        severity: "warning", host: h.name,
        path: n.name === "bridge" ? [...h.path, "docker", "bridge", "mtu"] : n.name === "docker_gwbridge" ? [...h.path, "docker", "gwbridge", "mtu"] : [...n.path, "mtu"],
        message: `${label} on ${h.name} has MTU ${mtu}, above ${egress.name}'s ${egress.mtu} where its traffic leaves: large packets to the outside are lost (connections reset or hang)`,
        hint: n.name === "bridge" ? `Set hosts[].docker.bridge.mtu to ${egress.mtu} on ${h.name} (Docker: daemon.json "mtu").`
          : n.name === "docker_gwbridge" ? `Set hosts[].docker.gwbridge.mtu to ${egress.mtu} on ${h.name} (Docker: docker_gwbridge's com.docker.network.driver.mtu).`
          : `Set mtu: ${egress.mtu} on network "${n.name}" (networks[].mtu; Docker: com.docker.network.driver.mtu).`,
      }));
    }
  }
  return out;
}
