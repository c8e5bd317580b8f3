// The main job in a lab, end to end: preflight, lab up, images, apply, observe, predict, compare, down.
import type { Diagnostic } from "../src/model/diagnostics.js";
import type { Observation } from "../src/model/observation.js";
import type { Fault, Plan } from "../src/model/plan.js";
import { compareObservations, evaluateExpectations, type Difference, type ExpectationResult } from "../src/model/sim/evaluate.js";
import { observationProbes } from "../src/model/sim/probes.js";
import { World } from "../src/model/sim/world.js";
import { appendFaults, compileSteps } from "../src/model/steps/compile.js";
import type { Step, StepResult } from "../src/model/steps/step.js";
import { applyConcurrent } from "../src/drivers/driver.js";
import type { StartedLab } from "./lab.js";
import { diag } from "../src/model/diagnostics.js";
import { pickBackend, upLab, type BackendRequest } from "./backends.js";
import type { LabBackend } from "./lab.js";
import { labPreflight } from "./preflight.js";
import { LAB_CONSUL_VERSION, labDriver, labName, loadLabImages, planToLabSpec, withLabFacts, withoutRouters } from "./plan-lab.js";

export interface LabRunOptions {
  readonly keep?: boolean;
  /** netns, dind, or auto (the machine decides and the report says why). */
  readonly backend?: BackendRequest;
  /** Faults after the plan's own (command line). */
  readonly faults?: readonly Fault[];
  readonly name?: string;
  readonly progress?: (line: string) => void;
}

export interface LabRunReport {
  readonly lab: string;
  readonly plan: Plan;
  readonly preflight: Diagnostic[];
  readonly steps: Step[];
  readonly results: StepResult[];
  readonly prediction?: Observation;
  readonly reality?: Observation;
  readonly differences: Difference[];
  readonly expectations: ExpectationResult[];
  readonly timings: Record<string, number>;
  readonly kept: boolean;
  readonly backend?: LabBackend;
  readonly backendWhy?: string;
  /** Set when the run stopped early (preflight or a lab failure). */
  readonly error?: string;
}

/** The plan as the lab will really run it: this machine's kernel facts, no routers. */
export function labPlan(plan: Plan, caps: Parameters<typeof withLabFacts>[1]): Plan {
  return withoutRouters(withLabFacts(plan, caps));
}

export function labSteps(plan: Plan, faults: readonly Fault[] = []): Step[] {
  const steps = compileSteps(plan);
  const extra: Step[] = [];
  appendFaults(extra, faults);
  const before = steps.filter((s) => s.kind === "fault").length;
  return [...steps, ...extra.map((s) => ({ ...s, id: s.id.replace(/^fault:(\d+):/, (_m, n: string) => `fault:${Number(n) + before}:`) }) as Step)];
}

/** The simulator's prediction for the same lab plan and steps. */
export function predict(plan: Plan, steps: readonly Step[]): Observation {
  const world = new World(plan, undefined, { consulVersion: LAB_CONSUL_VERSION });
  for (const s of steps) world.apply(s);
  return world.observe(observationProbes(plan));
}

export async function runInLab(source: Plan, opts: LabRunOptions = {}): Promise<LabRunReport> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (k: string, since: number) => (timings[k] = Date.now() - since);
  const say = opts.progress ?? (() => {});
  const choice = await pickBackend(opts.backend ?? "auto");
  const backend: LabBackend = choice.ok ? choice.backend : "netns";
  const pre = await labPreflight(source, backend);
  if (!choice.ok) pre.diagnostics.unshift(diag("lab_requirement_missing", { path: [], message: choice.why, hint: "Run as root with docker.io installed (netns backend), or with a Docker engine this user can reach (dind backend)." }));
  const plan = labPlan(source, pre.caps);
  const name = opts.name ?? labName(plan);
  const steps = labSteps(plan, opts.faults);
  const base = { lab: name, plan, preflight: pre.diagnostics, steps, differences: [], expectations: [], timings, kept: false, backend, backendWhy: choice.why };
  if (!pre.ok || !choice.ok) return { ...base, results: [], error: "preflight failed" };
  let lab: StartedLab | undefined;
  try {
    let t = Date.now();
    say(`lab ${name}: building ${plan.hosts.length} hosts with the ${backend} backend (${choice.why})`);
    lab = await upLab(backend, planToLabSpec(plan, name), (m, host) => say(`  ${host ?? "lab"}: ${m}`));
    mark("up", t);
    t = Date.now();
    await loadLabImages(lab, plan, (m) => say(`  ${m}`));
    mark("images", t);
    t = Date.now();
    const driver = labDriver(plan, lab, process.env.CROSSHOST_DEBUG_SETTLE ? { log: (_h, m) => { if (m.startsWith("settling")) say(m); } } : {});
    say(`applying ${steps.length} steps`);
    const results = await applyConcurrent(driver, steps, (s, r) => say(`  ${r.status === "failed" ? "✗" : r.status === "unchanged" ? "=" : "✓"} ${s.host.padEnd(18)} ${s.id}${r.status === "failed" ? `: ${r.message}` : ""}`));
    mark("apply", t);
    t = Date.now();
    say("observing (waiting for the clusters to settle)");
    const probes = observationProbes(plan);
    const reality = await driver.observe(probes);
    mark("observe", t);
    t = Date.now();
    const prediction = predict(plan, steps);
    const differences = compareObservations(prediction, reality);
    const expectations = evaluateExpectations(plan, reality);
    mark("compare", t);
    if (!opts.keep) {
      t = Date.now();
      say(`tearing the lab down`);
      await lab.down();
      mark("down", t);
    }
    timings.total = Date.now() - t0;
    return { ...base, results, prediction, reality, differences, expectations, kept: !!opts.keep };
  } catch (e) {
    if (lab && !opts.keep) await lab.down().catch(() => undefined);
    timings.total = Date.now() - t0;
    return { ...base, results: [], error: e instanceof Error ? e.message : String(e) };
  }
}
