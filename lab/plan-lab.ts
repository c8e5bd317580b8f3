// From a plan to a running lab: the lab's hosts, NICs and switches as the plan describes them, the
// images the lab can build (no registry is reachable: a busybox stand-in for nginx, Consul 1.8.7 from
// Debian), and a RealDriver bound to the lab. Also the facts the lab's machine imposes on the plan
// (which kernel features exist), so that the simulator predicts this lab, not an ideal one.
import { formatIp } from "../src/model/ip.js";
import type { Host, KernelFeature, Plan } from "../src/model/plan.js";
import type { ConsulAgentStep, ContainerRunStep } from "../src/model/steps/step.js";
import { RealDriver, type RealDriverOptions, type Workload } from "../src/drivers/real/real-driver.js";
import type { StartedLab } from "./lab.js";
import type { LabSpec } from "./spec.js";
import { BUSYBOX_IMAGE, CONSUL_IMAGE, buildBusyboxImage, buildConsulImage } from "./images.js";
import type { NetnsLabCaps } from "./detect.js";

/** A lab id from a plan name: [a-z0-9-]{1,20}. */
export function labName(plan: Plan): string {
  const base = plan.name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return (base || "lab").slice(0, 20).replace(/-+$/, "") || "lab";
}

/** The lab's hosts, NICs, routes (no default route: nothing leaves a lab) and switches. */
export function planToLabSpec(plan: Plan, name = labName(plan)): LabSpec {
  return {
    name,
    hosts: plan.hosts.map((h) => ({
      name: h.name,
      nics: h.nics.map((n) => ({ name: n.name, address: formatIp(n.ip), prefix: n.cidr.prefix, mtu: n.mtu })),
      routes: h.routes.filter((r) => r.to.prefix > 0).map((r) => ({ to: r.to.text, ...(r.via !== undefined ? { via: formatIp(r.via) } : {}), ...(r.dev !== undefined ? { dev: r.dev } : {}) })),
    })),
    segments: plan.segments.map((s) => ({ name: s.name, mtu: s.mtu, members: s.members.map((m) => ({ host: m.host, nic: m.nic })) })),
  };
}

/**
 * Workloads in the lab: nginx becomes busybox httpd on the ports the plan says it listens on; every
 * other image becomes a busybox that stays up. The plan's own command wins when it has one.
 */
export function labWorkload(step: ContainerRunStep): Workload {
  if (step.command && step.command.length > 0) return { image: BUSYBOX_IMAGE, command: step.command };
  const tcp = step.listen.filter((l) => l.proto === "tcp").map((l) => l.port);
  if (tcp.length === 0) return { image: BUSYBOX_IMAGE, command: ["sleep", "2147483647"] };
  if (tcp.length === 1) return { image: BUSYBOX_IMAGE, command: ["httpd", "-f", "-p", String(tcp[0]), "-h", "/var/www"] };
  return { image: BUSYBOX_IMAGE, command: ["sh", "-c", `${tcp.map((p) => `httpd -p ${p} -h /var/www`).join("; ")}; exec sleep 2147483647`] };
}

/** Consul in the lab: Debian's 1.8.7 in a local image, started as `consul agent …` like the seed's image does. */
export function labConsul(_step: ConsulAgentStep): { image: string; argv: readonly string[] } {
  return { image: CONSUL_IMAGE, argv: ["consul"] };
}

export const LAB_CONSUL_VERSION = "1.8.7";

/** The plan as this machine can run it: kernel features the lab lacks are switched off (facts win). */
export function withLabFacts(plan: Plan, caps: NetnsLabCaps | undefined): Plan {
  if (!caps) return plan;
  const has: Partial<Record<KernelFeature, boolean>> = { macvlan: caps.macvlan.ok, vxlan: caps.vxlan.ok, ipvlan: caps.ipvlan.ok, "8021q": caps.vlan8021q.ok };
  const hosts: Host[] = plan.hosts.map((h) => ({ ...h, kernel: { ...h.kernel, ...Object.fromEntries(Object.entries(has).map(([k, v]) => [k, h.kernel[k as KernelFeature] && v])) } }));
  return { ...plan, hosts };
}

/** The lab has no routers: addresses the plan's segments name as routers answer nobody here. */
export function withoutRouters(plan: Plan): Plan {
  return { ...plan, segments: plan.segments.map((s) => ({ ...s, routers: [] })) };
}

export async function loadLabImages(lab: StartedLab, plan: Plan, progress?: (m: string) => void): Promise<void> {
  const busybox = await buildBusyboxImage();
  progress?.(`busybox image ${busybox.cached ? "cached" : "built"} (${busybox.ms} ms)`);
  const needConsul = new Set(plan.consul?.agents.map((a) => a.host) ?? []);
  const consul = needConsul.size > 0 ? await buildConsulImage({ onProgress: progress }) : undefined;
  if (consul) progress?.(`Consul ${LAB_CONSUL_VERSION} image ${consul.cached ? "cached" : "built"} (${consul.ms} ms)`);
  await Promise.all(lab.hosts.map(async (h) => {
    await lab.loadImage(h, busybox);
    if (consul && needConsul.has(h)) await lab.loadImage(h, consul);
  }));
}

export function labDriver(plan: Plan, lab: StartedLab, extra: Partial<RealDriverOptions> = {}): RealDriver {
  return new RealDriver(plan, {
    name: `lab-${lab.backend}`,
    transport: (h) => lab.transport(h),
    hostDir: (h) => lab.hostDir(h),
    workload: labWorkload,
    consulImage: labConsul,
    faults: lab,
    // HashiCorp's production recommendation; it only shortens Raft's timeouts (elections in ~1 s instead of ~5 s).
    // retry_interval: the default 30 s between join attempts only makes the lab wait; the joins are the same.
    consulExtraConfig: { performance: { raft_multiplier: 1 }, retry_interval: "2s" },
    ...extra,
  });
}
