// The driver contract against the real driver on a namespace lab: the same suite the simulator passes.
import { afterAll } from "vitest";
import { NetnsLab, type StartedNetnsLab } from "../../lab/netns/netns-lab.js";
import { labDriver, labName, loadLabImages, planToLabSpec } from "../../lab/plan-lab.js";
import { labPlan } from "../../lab/session.js";
import { detection, labOk, labTitle } from "../lab/lab-helpers.js";
import { planFrom } from "../helpers/sim.js";
import { describeDriverContract } from "./driver-contract.js";
import { describe } from "vitest";

const plans = ["seed-macvlan", "swarm-consul"].map((name) => ({ name, plan: labPlan(planFrom(name), detection?.caps) }));
const labs = new Map<string, StartedNetnsLab>();

describe.runIf(labOk)(labTitle("RealDriver on a namespace lab"), () => {
  afterAll(async () => {
    for (const lab of labs.values()) await lab.down();
  }, 120_000);

  // One lab per scenario, shared by its contract tests; each test tears down what it applied.
  describeDriverContract("RealDriver (netns lab)", async (plan) => {
    let lab = labs.get(plan.name);
    if (!lab) {
      lab = await new NetnsLab().up(planToLabSpec(plan, `c-${labName(plan)}`.slice(0, 20).replace(/-+$/, "")));
      await loadLabImages(lab, plan);
      labs.set(plan.name, lab);
    }
    return labDriver(plan, lab);
  }, { plans, timeoutMs: 300_000 });
});
