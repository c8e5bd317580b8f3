import { access, readlink } from "node:fs/promises";
import { detectDindLab, type DindLabDetection } from "../../../lab/detect.js";
import { dockerTry } from "../../../lab/dind/docker.js";
import { LAB_LABEL } from "../../../lab/dind/layout.js";
import { privateEngineProcesses } from "../../../lab/dind/outer-engine.js";
import { switchArgv } from "../../../lab/dind/teardown.js";
import type { DindLabState } from "../../../lab/dind/state.js";
import { cgroupDirs, isRunning, mountsUnder, netnsNames, tryRun } from "../../../lab/netns/sys.js";

/** The dind lab gate: CROSSHOST_LAB=0 opts out; otherwise the machine's capabilities decide. */
export const dindDetection: DindLabDetection | undefined = process.env.CROSSHOST_LAB === "0" ? undefined : await detectDindLab();
export const dindOk = dindDetection?.ok === true;
/** CI sets this: a lab suite that cannot run there is a failure, not a skip. */
export const labRequired = process.env.CROSSHOST_REQUIRE_LAB === "1";

/** Suite title that says why the suite is skipped, when it is. */
export function dindTitle(title: string): string {
  if (!dindDetection) return `${title} (skipped: CROSSHOST_LAB=0)`;
  return dindDetection.ok ? title : `${title} (skipped: ${dindDetection.reasons.join("; ")})`;
}

/** Everything recorded in the state that still exists; empty after a clean teardown. */
export async function dindLeftovers(state: DindLabState): Promise<string[]> {
  const out: string[] = [];
  const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
  const e = state.engine;
  if (e?.kind === "machine") {
    const label = `label=${LAB_LABEL}=${state.layout.lab}`;
    for (const id of (await dockerTry(e.dockerHost, ["ps", "-aq", "--filter", label])).stdout.split("\n").filter(Boolean)) out.push(`container ${id}`);
    for (const id of (await dockerTry(e.dockerHost, ["network", "ls", "-q", "--filter", label])).stdout.split("\n").filter(Boolean)) out.push(`network ${id}`);
    for (const name of state.containers) if ((await dockerTry(e.dockerHost, ["inspect", name])).code === 0) out.push(`container ${name}`);
  }
  if (e?.kind === "private") {
    if ((await netnsNames()).includes(e.netns)) out.push(`netns ${e.netns}`);
    for (const pid of e.pids) if (await isRunning(pid)) out.push(`outer dockerd pid ${pid}`);
    for (const pid of await privateEngineProcesses(e)) out.push(`outer engine process ${pid}`);
    for (const d of await cgroupDirs(e.cgroupParent)) out.push(`cgroup ${d}`);
    if (await exists(e.socket)) out.push(`socket ${e.socket}`);
  }
  for (const r of state.rules) {
    if (r.where.kind === "netns" && !(await netnsNames()).includes(r.where.netns)) continue;
    const c = await tryRun(switchArgv(r.where, e?.dockerHost, ["iptables", "-w", "-t", r.table, "-C", r.chain, ...r.rule]));
    if (c.code === 0) out.push(`iptables ${r.chain} ${r.rule.join(" ")}`);
  }
  for (const l of state.tcLinks) if ((await readlink(l).catch(() => undefined)) !== undefined) out.push(`link ${l}`);
  for (const m of await mountsUnder(state.layout.labDir)) out.push(`mount ${m}`);
  if (await exists(state.layout.labDir)) out.push(`dir ${state.layout.labDir}`);
  return out;
}
