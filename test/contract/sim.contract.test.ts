import { SimDriver } from "../../src/drivers/sim/sim-driver.js";
import { planFrom } from "../helpers/sim.js";
import { describeDriverContract } from "./driver-contract.js";

const plans = ["seed-macvlan", "macvlan", "seed-swarm-consul", "swarm-consul", "swarm-consul-worker"].map((name) => ({ name, plan: planFrom(name) }));
describeDriverContract("SimDriver", async (plan) => new SimDriver(plan), { plans });
