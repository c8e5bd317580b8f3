// plan / simulate / explain --from --to / run: the simulator's commands.
import { statSync } from "node:fs";
import { findScenario } from "../scenarios/index.js";
import { countBySeverity, hasErrors } from "../model/diagnostics.js";
import { parseFault } from "../model/faults.js";
import type { Fault, Plan } from "../model/plan.js";
import type { Observation } from "../model/observation.js";
import { matrixEndpoints, observationProbes } from "../model/sim/probes.js";
import { evaluateExpectations, type ExpectationResult } from "../model/sim/evaluate.js";
import { appendFaults, compileSteps, orderSteps } from "../model/steps/compile.js";
import type { Step, StepResult } from "../model/steps/step.js";
import { renderStep } from "../model/steps/render.js";
import { SimDriver } from "../drivers/sim/sim-driver.js";
import { applyAll } from "../drivers/driver.js";
import { diagnosticJson, renderDiagnostics, summaryLine } from "./render-diagnostics.js";
import { renderExpectations, renderObservation, renderSteps } from "./render-observation.js";
import { InputError, loadPlan, type LoadedPlan } from "./load.js";
import type { Style } from "./style.js";

/** Above this many endpoints (containers + hosts) the matrix is shown per class. */
export const FULL_MATRIX_LIMIT = 40;

export function matrixEndpointCount(plan: Plan): number {
  const m = matrixEndpoints(plan);
  return m.containers.length + m.hosts.length;
}

export interface SimulationRun {
  readonly loaded: LoadedPlan;
  readonly plan: Plan;
  readonly steps: Step[];
  readonly results: StepResult[];
  readonly observation: Observation;
  readonly expectations: ExpectationResult[];
  readonly driver: SimDriver;
}

/** Loads a plan, or throws InputError when it cannot be read or parsed at all. */
export function loadOrThrow(arg: string): LoadedPlan & { plan: Plan } {
  const loaded = loadPlan(arg);
  if (!loaded.validation.parsed || !loaded.validation.plan) {
    const first = loaded.validation.diagnostics[0];
    throw new InputError(
      `${loaded.label}: ${first ? `${first.location ? `${first.location.line}:${first.location.column}: ` : ""}${first.message}` : "cannot be read"}`,
      first?.hint ?? "Fix the file so that it parses as YAML or JSON.",
      loaded,
    );
  }
  return { ...loaded, plan: loaded.validation.plan };
}

export function cliFaults(plan: Plan, texts: readonly string[]): Fault[] {
  const out: Fault[] = [];
  for (const t of texts) {
    for (const r of parseFault(t, ["--fault"], plan.segments.map((s) => s.name))) {
      if (!r.ok) throw new InputError(`--fault ${t}: ${r.message}`, r.hint);
      const f = r.fault;
      const names = "host" in f ? [f.host] : "from" in f ? [f.from, f.to] : "groups" in f ? f.groups.flat() : [];
      for (const n of names) if (!plan.hosts.some((h) => h.name === n)) throw new InputError(`--fault ${t}: no host named "${n}"`, `Hosts: ${plan.hosts.map((h) => h.name).join(", ")}.`);
      if ("agent" in f && !plan.consul?.agents.some((a) => a.name === f.agent)) throw new InputError(`--fault ${t}: no Consul agent named "${f.agent}"`, "Name an agent of the plan.");
      if ("container" in f && !plan.containers.some((c) => c.name === f.container)) throw new InputError(`--fault ${t}: no container named "${f.container}"`, "Name a container of the plan.");
      if ("segment" in f && !plan.segments.some((s) => s.name === f.segment)) throw new InputError(`--fault ${t}: no segment named "${f.segment}"`, `Segments: ${plan.segments.map((s) => s.name).join(", ")}.`);
      out.push(f);
    }
  }
  return out;
}

/** Compiles the plan (with its faults and the command line's) and runs it through the simulator. */
export async function simulatePlan(arg: string, faultTexts: readonly string[] = [], opts: { matrix?: boolean } = {}): Promise<SimulationRun> {
  const loaded = loadOrThrow(arg);
  const plan = loaded.plan;
  const steps = compileSteps(plan);
  const extra = cliFaults(plan, faultTexts);
  const all = [...steps];
  if (extra.length > 0) {
    const before = all.filter((s) => s.kind === "fault").length;
    const tail: Step[] = [];
    appendFaults(tail, extra);
    for (const s of tail) all.push({ ...s, id: s.id.replace(/^fault:(\d+):/, (_m, n) => `fault:${Number(n) + before}:`), after: [] } as Step);
  }
  const ordered = orderSteps(all);
  const driver = new SimDriver(plan);
  const results = await applyAll(driver, ordered);
  // Beyond a few dozen endpoints the matrix is given per equivalence class of endpoints.
  const big = matrixEndpointCount(plan) > FULL_MATRIX_LIMIT;
  const observation = big && opts.matrix !== false
    ? driver.state.observe(observationProbes(plan, { matrix: false }), { classes: true })
    : await driver.observe(observationProbes(plan, { matrix: opts.matrix ?? true }));
  return { loaded, plan, steps: ordered, results, observation, expectations: evaluateExpectations(plan, observation), driver };
}

export function stepsJson(steps: readonly Step[], planName: string): unknown[] {
  return steps.map((s) => ({ ...s, commands: renderStep(s, { plan: planName }).map((c) => ({ argv: c.argv, ...(c.file ? { file: c.file } : {}), ...(c.stdin ? { stdin: c.stdin } : {}) })) }));
}

export function renderSimulation(run: SimulationRun, style: Style): string {
  const out: string[] = [];
  const failed = run.results.filter((r) => r.status === "failed");
  const faults = run.steps.filter((s) => s.kind === "fault");
  out.push(`${style.bold("Steps")}  ${run.results.length} applied, ${failed.length === 0 ? style.green("none failed") : style.red(`${failed.length} failed`)}${faults.length ? `, ${faults.length} fault${faults.length > 1 ? "s" : ""}: ${faults.map((f) => f.id.replace(/^fault:\d+:/, "")).join(", ")}` : ""}`);
  for (const r of failed) out.push(`  ${style.red("✗")} ${r.id}: ${r.message}`);
  out.push("", renderObservation(run.observation, style), "", renderExpectations(run.expectations, style));
  return out.join("\n");
}

export function validationSummary(loaded: LoadedPlan, style: Style): string {
  const c = countBySeverity(loaded.validation.diagnostics);
  if (c.error + c.warning === 0) return `${style.green("✓")} valid: no errors or warnings${c.info ? ` (${c.info} info: crosshost validate ${loaded.label.replace(/^scenario /, "")} shows ${c.info === 1 ? "it" : "them"})` : ""}`;
  return summaryLine(loaded.validation.diagnostics, style);
}

/** A simulation is good when the plan is valid, no step failed and every expectation holds. */
export function simulationOk(run: SimulationRun): boolean {
  return !hasErrors(run.loaded.validation.diagnostics) && run.results.every((r) => r.status !== "failed") && run.expectations.every((r) => r.ok);
}

/** True when `arg` names a plan (a file or a built-in scenario) rather than something else. */
export function isPlanArgument(arg: string): boolean {
  if (findScenario(arg)) return true;
  try {
    return statSync(arg).isFile();
  } catch {
    return false;
  }
}

export function simulationJson(run: SimulationRun): Record<string, unknown> {
  return {
    plan: run.plan.name,
    validation: { ok: !hasErrors(run.loaded.validation.diagnostics), diagnostics: run.loaded.validation.diagnostics.map(diagnosticJson) },
    steps: run.results,
    observation: run.observation,
    expectations: run.expectations.map((r) => ({ expectation: r.text, ok: r.ok, ...(r.detail ? { detail: r.detail } : {}) })),
    ok: simulationOk(run),
  };
}

export { renderDiagnostics, renderSteps };
