// The contract every Driver must keep, run against the simulator always and against real drivers
// where the machine can host them (lab.contract.test.ts). The same scenario goes through both.
import { describe, expect, it } from "vitest";
import type { Driver } from "../../src/drivers/driver.js";
import { applyAll } from "../../src/drivers/driver.js";
import { observationProbes } from "../../src/model/sim/probes.js";
import { compileSteps } from "../../src/model/steps/compile.js";
import { probeKey } from "../../src/model/observation.js";
import type { Plan } from "../../src/model/plan.js";

export interface ContractOptions {
  /** Scenarios (plans) that apply without a failed step. */
  readonly plans: readonly { name: string; plan: Plan }[];
  /** Per-test timeout for real drivers. */
  readonly timeoutMs?: number;
}

export function describeDriverContract(name: string, makeDriver: (plan: Plan) => Promise<Driver>, opts: ContractOptions): void {
  describe.sequential(`Driver contract: ${name}`, () => {
    for (const { name: scenario, plan } of opts.plans) {
      it(`${scenario}: applies every step, then applying again changes nothing`, async () => {
        const driver = await makeDriver(plan);
        try {
          const steps = compileSteps(plan, { faults: false });
          const first = await applyAll(driver, steps);
          expect(first.filter((r) => r.status === "failed")).toEqual([]);
          expect(first.map((r) => r.id)).toEqual(steps.map((s) => s.id));
          const second = await applyAll(driver, steps);
          expect(second.filter((r) => r.status !== "unchanged").map((r) => `${r.id}: ${r.status} ${r.message}`)).toEqual([]);
        } finally {
          await driver.teardown();
        }
      }, opts.timeoutMs);

      it(`${scenario}: observes every host, container, agent, service and requested probe`, async () => {
        const driver = await makeDriver(plan);
        try {
          await applyAll(driver, compileSteps(plan, { faults: false }));
          const probes = observationProbes(plan, { matrix: false });
          const obs = await driver.observe(probes);
          expect(Object.keys(obs.hosts).sort()).toEqual(plan.hosts.map((h) => h.name).sort());
          expect(Object.keys(obs.containers).sort()).toEqual(plan.containers.filter((c) => !c.agent).map((c) => c.name).sort());
          expect(obs.swarm === null).toBe(plan.swarm === undefined);
          expect(obs.consul === null).toBe(plan.consul === undefined);
          if (plan.consul) expect(Object.keys(obs.consul!).sort()).toEqual(plan.consul.agents.map((a) => a.name).sort());
          expect(Object.keys(obs.services).sort()).toEqual(plan.services.map((s) => s.id).sort());
          expect(obs.probes.map(probeKey).sort()).toEqual(probes.map(probeKey).sort());
          for (const c of Object.values(obs.containers)) expect(c.state).toBe("running");
        } finally {
          await driver.teardown();
        }
      }, opts.timeoutMs);

      it(`${scenario}: teardown removes what was created, and the plan applies again afterwards`, async () => {
        const driver = await makeDriver(plan);
        try {
          const steps = compileSteps(plan, { faults: false });
          await applyAll(driver, steps);
          await driver.teardown();
          const after = await driver.observe([]);
          for (const c of Object.values(after.containers)) expect(c.state).toBe("absent");
          const again = await applyAll(driver, steps);
          expect(again.filter((r) => r.status === "failed")).toEqual([]);
        } finally {
          await driver.teardown();
        }
      }, opts.timeoutMs);
    }
  });
}
