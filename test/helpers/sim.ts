// Test helpers: run a plan (scenario name, file, or YAML text) through the simulator.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseFault } from "../../src/model/faults.js";
import type { Observation, ProbeSpec } from "../../src/model/observation.js";
import type { Plan } from "../../src/model/plan.js";
import { observationProbes } from "../../src/model/sim/probes.js";
import { evaluateExpectations } from "../../src/model/sim/evaluate.js";
import { World } from "../../src/model/sim/world.js";
import { appendFaults, compileSteps } from "../../src/model/steps/compile.js";
import type { Step, StepResult } from "../../src/model/steps/step.js";
import { validateText } from "../../src/model/validate.js";

export const ROOT = join(import.meta.dirname, "..", "..");

export function planFrom(source: string): Plan {
  const text = /^[a-z0-9-]+$/.test(source) ? readFileSync(join(ROOT, "src", "scenarios", `${source}.yaml`), "utf8") : source.includes("\n") ? source : readFileSync(join(ROOT, source), "utf8");
  const v = validateText(text, "test.yaml");
  if (!v.plan || !v.parsed) throw new Error(`plan does not parse: ${v.diagnostics.map((d) => d.message).join("; ")}`);
  const bad = v.diagnostics.filter((d) => ["parse_error", "unknown_key", "invalid_value", "unknown_reference", "missing_field", "internal_error"].includes(d.code));
  if (bad.length > 0) throw new Error(`plan has input errors: ${bad.map((d) => `${d.code}: ${d.message}`).join("; ")}`);
  return v.plan;
}

export interface Simulated {
  plan: Plan;
  world: World;
  steps: Step[];
  results: StepResult[];
  obs: Observation;
  probe(p: Partial<ProbeSpec> & { from: string; to: string }): ReturnType<World["probe"]>;
  expectations: ReturnType<typeof evaluateExpectations>;
}

export function simulate(source: string | Plan, faults: string[] = [], opts: { consulVersion?: string } = {}): Simulated {
  const plan = typeof source === "string" ? planFrom(source) : source;
  const steps = compileSteps(plan);
  const extra: Step[] = [];
  appendFaults(extra, faults.flatMap((f) => parseFault(f, [], plan.segments.map((s) => s.name)).map((r) => {
    if (!r.ok) throw new Error(r.message);
    return r.fault;
  })));
  const n = steps.filter((s) => s.kind === "fault").length;
  const all = [...steps, ...extra.map((s) => ({ ...s, id: `cli-${n}-${s.id}` }) as Step)];
  const world = new World(plan, undefined, opts);
  const results = all.map((s) => world.apply(s));
  const obs = world.observe(observationProbes(plan));
  return {
    plan, world, steps: all, results, obs,
    probe: (p) => world.probe({ by: "address", size: 56, proto: "icmp", ...p }),
    expectations: evaluateExpectations(plan, obs),
  };
}
