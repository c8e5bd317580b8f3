// One interface for every way of making a plan real: the simulator, the lab, real hosts over SSH.
// A driver applies compiled steps (src/model/steps) and reports what it observes in the shared shape
// (src/model/observation.ts), so that prediction and reality can be compared observation by observation.
import type { Observation, ProbeSpec } from "../model/observation.js";
import type { Step, StepResult } from "../model/steps/step.js";

export interface Driver {
  /** "sim", "lab", "ssh". */
  readonly name: string;
  /** Applies one step. Idempotent: a step whose effect is already there returns status "unchanged". Never rejects for a failed step: that is a "failed" result. */
  apply(step: Step): Promise<StepResult>;
  /** Observes the hosts as they are now and runs the given probes. */
  observe(probes: readonly ProbeSpec[]): Promise<Observation>;
  /** Removes everything this driver created for the plan, and only that. Idempotent. */
  teardown(): Promise<void>;
}

/** Applies steps in order; returns every result. A failed step does not stop the others (Docker would not either). */
export async function applyAll(driver: Driver, steps: readonly Step[], onResult?: (step: Step, r: StepResult) => void): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (const s of steps) {
    const r = await driver.apply(s);
    onResult?.(s, r);
    out.push(r);
  }
  return out;
}
