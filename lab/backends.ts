// The two lab backends behind one door: pick one (or let the machine decide), build, attach, list, tear down.
import { existsSync, readdirSync } from "node:fs";
import { chooseBackend } from "./detect.js";
import { DindLab, downFromState as dindDown } from "./dind/dind-lab.js";
import { defaultDindRoot, dindStateFileOf } from "./dind/layout.js";
import type { LabBackend, StartedLab } from "./lab.js";
import { NetnsLab } from "./netns/netns-lab.js";
import type { LabSpec } from "./spec.js";

export const NETNS_ROOT = "/var/lib/crosshost/labs";

export type BackendRequest = LabBackend | "auto";

export interface LabProgress {
  (message: string, host?: string): void;
}

export async function pickBackend(requested: BackendRequest = "auto"): Promise<{ ok: true; backend: LabBackend; why: string } | { ok: false; why: string }> {
  const c = await chooseBackend(requested);
  return c.ok ? { ok: true, backend: c.backend, why: c.why } : { ok: false, why: c.why };
}

export async function upLab(backend: LabBackend, spec: LabSpec, progress: LabProgress = () => {}): Promise<StartedLab> {
  if (backend === "netns") {
    return new NetnsLab().up(spec, { onProgress: (e) => { if (e.step === "engine-ready" || e.step === "ready") progress(e.message, e.host); } });
  }
  return new DindLab().up(spec, { onProgress: (e) => { if (["image", "engine", "engine-ready", "ready", "privileges"].includes(e.step)) progress(e.message, e.host); } });
}

export interface LabListing {
  readonly name: string;
  readonly backend: LabBackend;
  readonly stateFile: string;
}

export function listLabs(): LabListing[] {
  const out: LabListing[] = [];
  const scan = (root: string, backend: LabBackend, stateOf: (n: string) => string) => {
    if (!existsSync(root)) return;
    for (const d of readdirSync(root).sort()) if (existsSync(stateOf(d))) out.push({ name: d, backend, stateFile: stateOf(d) });
  };
  scan(NETNS_ROOT, "netns", (n) => `${NETNS_ROOT}/${n}/state.json`);
  const dind = defaultDindRoot();
  scan(dind, "dind", (n) => dindStateFileOf(dind, n));
  return out;
}

export async function attachLab(l: LabListing): Promise<StartedLab> {
  return l.backend === "netns" ? new NetnsLab().attach(l.name) : new DindLab().attach(l.name);
}

export async function downLab(l: LabListing): Promise<unknown> {
  return l.backend === "netns" ? new NetnsLab().down(l.name) : dindDown(l.stateFile);
}
