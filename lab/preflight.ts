// Before a lab is built: can this machine build it, and do the plan's subnets collide with the
// machine's own? Findings are diagnostics in the validator's format, never stack traces.
import { diag, type Diagnostic } from "../src/model/diagnostics.js";
import { overlaps, parseCidr, type Cidr } from "../src/model/ip.js";
import type { Plan } from "../src/model/plan.js";
import { runArgv } from "../src/drivers/transports/local-transport.js";
import { detectNetnsLab, type NetnsLabCaps } from "./detect.js";

export interface Preflight {
  readonly diagnostics: Diagnostic[];
  readonly caps?: NetnsLabCaps;
  readonly ok: boolean;
}

/** The machine's own subnets: addresses on its interfaces and its routes (root network namespace). */
export async function machineSubnets(): Promise<{ cidr: Cidr; what: string }[]> {
  const out: { cidr: Cidr; what: string }[] = [];
  const addrs = await runArgv(["ip", "-j", "-4", "addr", "show"], { timeoutMs: 5000 });
  try {
    for (const link of JSON.parse(addrs.stdout) as { ifname: string; addr_info?: { local: string; prefixlen: number }[] }[]) {
      for (const a of link.addr_info ?? []) {
        const c = parseCidr(`${a.local}/${a.prefixlen}`);
        if (c && c.cidr.prefix < 32 && !a.local.startsWith("127.")) out.push({ cidr: c.cidr, what: `${link.ifname} (${a.local}/${a.prefixlen})` });
      }
    }
  } catch {
    // no iproute2 JSON: nothing to compare against
  }
  const routes = await runArgv(["ip", "-j", "-4", "route", "show"], { timeoutMs: 5000 });
  try {
    for (const r of JSON.parse(routes.stdout) as { dst: string; dev?: string }[]) {
      if (r.dst === "default") continue;
      const c = parseCidr(r.dst.includes("/") ? r.dst : `${r.dst}/32`);
      if (c) out.push({ cidr: c.cidr, what: `route ${r.dst}${r.dev ? ` dev ${r.dev}` : ""}` });
    }
  } catch {
    // ignore
  }
  return out;
}

export async function labPreflight(plan: Plan, backend: "netns" | "dind" = "netns"): Promise<Preflight> {
  const diagnostics: Diagnostic[] = [];
  const det = await detectNetnsLab({ probeConsul: (plan.consul?.agents.length ?? 0) > 0 });
  if (!det.ok && backend === "netns") {
    for (const r of det.reasons) {
      diagnostics.push(diag("lab_requirement_missing", { path: [], message: r, hint: "Run as root on Linux with docker.io, busybox-static, iproute2 and iptables installed (see .ci/run)." }));
    }
  }
  if ((plan.consul?.agents.length ?? 0) > 0 && !det.caps.consul.ok) {
    diagnostics.push(diag("lab_requirement_missing", { path: ["consul"], message: `Consul for the lab: ${det.caps.consul.reason}`, hint: "The lab fetches Consul 1.8.7 from Debian's bullseye archive through apt; the machine's apt sources must reach a Debian mirror." }));
  }
  // Kernel features the plan needs but this kernel lacks: the simulator is told (facts), and said here.
  const needs = new Set<string>();
  for (const n of plan.networks) if (n.driver === "macvlan" || n.driver === "ipvlan") needs.add(n.driver);
  if (plan.networks.some((n) => n.instances.some((i) => i.parent?.includes(".")))) needs.add("8021q");
  const cap = (f: string) => (f === "macvlan" ? det.caps.macvlan : f === "ipvlan" ? det.caps.ipvlan : f === "8021q" ? det.caps.vlan8021q : det.caps.vxlan);
  for (const f of needs) {
    const c = cap(f);
    if (!c.ok) diagnostics.push(diag("kernel_feature_missing", { severity: "warning", path: [], message: `this machine's kernel has no ${f} (${c.reason}): the lab runs without it, and the prediction says what that means`, hint: `Run the lab on a kernel with ${f} to see the plan as written.` }));
  }
  const mine = await machineSubnets();
  const planned: { cidr: Cidr; what: string }[] = [];
  for (const h of plan.hosts) for (const n of h.nics) planned.push({ cidr: n.cidr, what: `${h.name}'s ${n.name}` });
  for (const n of plan.networks) for (const i of n.instances) if (!n.implicit) planned.push({ cidr: i.subnet, what: `network ${n.name}` });
  const seen = new Set<string>();
  for (const p of planned) {
    for (const m of mine) {
      if (!overlaps(p.cidr, m.cidr)) continue;
      const key = `${p.cidr.text}|${m.what}`;
      if (seen.has(key)) continue;
      seen.add(key);
      diagnostics.push(diag("lab_subnet_collision", {
        ...(backend === "dind" ? { severity: "error" as const } : {}),
        path: [],
        message: `${p.what} (${p.cidr.text}) overlaps this machine's ${m.what}`,
        hint: "The namespace lab stays isolated from it; change the plan's subnet if you want to reach the lab from this machine without confusion.",
      }));
    }
  }
  return { diagnostics, caps: det.caps, ok: !diagnostics.some((d) => d.severity === "error") };
}
