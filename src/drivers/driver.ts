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

/**
 * Applies steps concurrently where that cannot change the outcome: a step starts once everything in its
 * `after` is done, one step at a time per host, container runs in plan order among those sharing an
 * address pool (Docker's IPAM hands out addresses in the order containers start), Consul agents in plan
 * order, faults in order after everything else. The simulator's
 * order-independence property (test/property/simulate.property.test.ts) is what makes this safe.
 */
export async function applyConcurrent(driver: Driver, steps: readonly Step[], onResult?: (step: Step, r: StepResult) => void): Promise<StepResult[]> {
  const results = new Map<string, StepResult>();
  const ids = new Set(steps.map((s) => s.id));
  // Containers keep their order (IPAM); Consul agents too (who starts first decides who a join finds,
  // and a one-shot start_join fails when its target is not up yet).
  const containerSteps = steps.filter((s): s is Extract<Step, { kind: "container_run" }> => s.kind === "container_run");
  const agentOrder = steps.filter((s) => s.kind === "consul_agent").map((s) => s.id);
  const firstFault = steps.findIndex((s) => s.kind === "fault");
  const deps = new Map(steps.map((s, i) => {
    const d = new Set(s.after.filter((a) => ids.has(a)));
    if (s.kind === "container_run") {
      // After the previous container that takes addresses from one of the same pools.
      const mine = new Set(s.pools);
      const earlier = containerSteps.slice(0, containerSteps.findIndex((c) => c.id === s.id));
      const prev = [...earlier].reverse().find((c) => c.pools.some((p) => mine.has(p)));
      if (prev) d.add(prev.id);
    }
    if (s.kind === "consul_agent") {
      const prev = agentOrder[agentOrder.indexOf(s.id) - 1];
      if (prev) d.add(prev);
    }
    // Faults wait for every step before them.
    if (s.kind === "fault" || (firstFault >= 0 && i > firstFault)) for (const x of steps.slice(0, i)) d.add(x.id);
    return [s.id, d] as const;
  }));
  const busy = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const pending = [...steps];
  while (pending.length > 0 || running.size > 0) {
    for (const s of [...pending]) {
      if (busy.has(s.host) || ![...deps.get(s.id)!].every((d) => results.has(d))) continue;
      pending.splice(pending.indexOf(s), 1);
      busy.add(s.host);
      running.set(s.id, driver.apply(s).then((r) => {
        results.set(s.id, r);
        onResult?.(s, r);
        busy.delete(s.host);
        running.delete(s.id);
      }));
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  return steps.map((s) => results.get(s.id) ?? { id: s.id, status: "skipped" as const, message: "a step it depends on never ran" });
}
