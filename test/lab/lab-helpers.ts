import { access } from "node:fs/promises";
import { detectNetnsLab, type Capability, type NetnsLabDetection } from "../../lab/detect.js";
import { engineProcesses } from "../../lab/netns/engine.js";
import type { LabState } from "../../lab/netns/state.js";
import { cgroupDirs, isRunning, listLinks, mountsUnder, netnsNames, tryRun } from "../../lab/netns/sys.js";
import type { Transport } from "../../src/drivers/transport.js";

/** The lab gate: CROSSHOST_LAB=0 opts out; otherwise the machine's capabilities decide. */
export const detection: NetnsLabDetection | undefined = process.env.CROSSHOST_LAB === "0" ? undefined : await detectNetnsLab();
export const labOk = detection?.ok === true;

/** Suite title that says why the suite is skipped, when it is. */
export function labTitle(title: string, extra?: { name: string; cap: Capability | undefined }): string {
  if (!detection) return `${title} (skipped: CROSSHOST_LAB=0)`;
  const reasons = detection.ok ? [] : [...detection.reasons];
  if (extra?.cap && !extra.cap.ok) reasons.push(`${extra.name}: ${extra.cap.reason}`);
  return reasons.length === 0 ? title : `${title} (skipped: ${reasons.join("; ")})`;
}

/** Everything recorded in the state that still exists on the machine; empty after a clean teardown. */
export async function leftovers(state: LabState): Promise<string[]> {
  const out: string[] = [];
  const nss = await netnsNames();
  for (const ns of state.netns) if (nss.includes(ns)) out.push(`netns ${ns}`);
  const links = new Set((await listLinks()).map((l) => l.ifname));
  for (const l of state.links) if (links.has(l)) out.push(`link ${l}`);
  for (const r of state.rules) {
    if (r.netns !== undefined) continue;
    const c = await tryRun(["iptables", "-w", "-t", r.table, "-C", r.chain, ...r.rule]);
    if (c.code === 0) out.push(`iptables ${r.chain} ${r.rule.join(" ")}`);
  }
  for (const m of await mountsUnder(state.layout.labDir)) out.push(`mount ${m}`);
  for (const [host, pids] of Object.entries(state.enginePids)) {
    for (const pid of pids) if (await isRunning(pid)) out.push(`dockerd pid ${pid} of ${host}`);
  }
  for (const h of state.layout.hosts) for (const pid of await engineProcesses(h)) out.push(`engine process ${pid} of ${h.name}`);
  for (const rel of state.cgroups) for (const d of await cgroupDirs(rel)) out.push(`cgroup ${d}`);
  const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
  if (await exists(state.layout.labDir)) out.push(`dir ${state.layout.labDir}`);
  for (const d of state.sharedDirs) if (await exists(d)) out.push(`shared dir ${d} (absent before the lab)`);
  return out;
}

/** Runs argv through the transport and returns stdout; throws with stderr on a non-zero exit. */
export async function ok(t: Transport, argv: string[]): Promise<string> {
  const r = await t.exec(argv, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${t.describe}: ${argv.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** iputils ping inside a lab host; true when at least one reply came back. */
export async function ping(t: Transport, address: string, opts: { size?: number; df?: boolean; count?: number } = {}): Promise<boolean> {
  const argv = ["ping", "-n", "-q", "-c", String(opts.count ?? 2), "-i", "0.2", "-W", "1"];
  if (opts.df) argv.push("-M", "do");
  if (opts.size !== undefined) argv.push("-s", String(opts.size));
  const r = await t.exec([...argv, address], { timeoutMs: 15_000 });
  return r.code === 0;
}

/** Polls fn until it returns true or the timeout passes; returns the last result. */
export async function eventually(fn: () => Promise<boolean>, timeoutMs: number, pollMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
