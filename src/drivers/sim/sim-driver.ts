// The simulator as a Driver: the model's World (src/model/sim/world.ts) behind the common interface.
import type { Observation, ProbeSpec } from "../../model/observation.js";
import type { Plan } from "../../model/plan.js";
import { World, type WorldOptions } from "../../model/sim/world.js";
import type { Step, StepResult } from "../../model/steps/step.js";
import type { Driver } from "../driver.js";

export class SimDriver implements Driver {
  readonly name = "sim";
  private world: World;

  constructor(private readonly plan: Plan, private readonly options: WorldOptions = {}) {
    this.world = new World(plan, undefined, options);
  }

  async apply(step: Step): Promise<StepResult> {
    return this.world.apply(step);
  }

  async observe(probes: readonly ProbeSpec[]): Promise<Observation> {
    return this.world.observe(probes);
  }

  async teardown(): Promise<void> {
    this.world = new World(this.plan, undefined, this.options);
  }

  /** The world, for explanations (hop-by-hop traces). */
  get state(): World {
    return this.world;
  }
}
