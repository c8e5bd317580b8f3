// bench/simulate: time to compile, apply and observe the seed scenario, and generated plans of 100 and
// 1,000 hosts with 10 containers each (reachability per equivalence class of endpoints), and a swarm whose
// nodes are all managers (Raft membership and quorum settle after every step).
//   npx tsx bench/simulate.ts [sizes...]
import { performance } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { validateText, validateValue } from "../src/model/validate.js";
import { compileSteps } from "../src/model/steps/compile.js";
import { World } from "../src/model/sim/world.js";
import { observationProbes } from "../src/model/sim/probes.js";
import type { Plan } from "../src/model/plan.js";
import { generatePlan } from "./gen.js";

function run(plan: Plan, classes: boolean): { ms: number; steps: number; cells: number; leader: string | null } {
  const t0 = performance.now();
  const steps = compileSteps(plan);
  const w = new World(plan);
  for (const s of steps) w.apply(s);
  const obs = w.observe(observationProbes(plan, { matrix: !classes }), { classes });
  return { ms: performance.now() - t0, steps: steps.length, cells: classes ? obs.classes!.cells.length : obs.probes.length, leader: obs.swarm?.leader ?? null };
}

const seedText = readFileSync(new URL("../src/scenarios/seed-swarm-consul.yaml", import.meta.url), "utf8");
const seed = validateText(seedText, "seed-swarm-consul.yaml").plan!;
for (let i = 0; i < 5; i++) run(seed, false); // warm up
const seedRuns = Array.from({ length: 10 }, () => run(seed, false).ms).sort((a, b) => a - b);
console.log(`seed-swarm-consul (full matrix): median ${seedRuns[5]!.toFixed(1)} ms over 10 runs (target < 50 ms)`);

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
console.log("hosts  containers  steps   simulate(ms)  class cells  swarm leader");
for (const n of sizes.length ? sizes : [100, 1000]) {
  const plan = validateValue(generatePlan(n, 10)).plan!;
  const r = run(plan, true);
  console.log(`${String(n).padEnd(6)} ${String(n * 10).padEnd(11)} ${String(r.steps).padEnd(7)} ${r.ms.toFixed(0).padStart(12)}  ${String(r.cells).padStart(11)}  ${r.leader}`);
}

console.log("managers  steps   simulate(ms)  swarm leader");
for (const n of [100, 1000]) {
  const value = generatePlan(n, 1, { consul: false }) as { swarm: { nodes: { role: string }[] } };
  for (const node of value.swarm.nodes) node.role = "manager";
  const r = run(validateValue(value).plan!, true);
  console.log(`${String(n).padEnd(9)} ${String(r.steps).padEnd(7)} ${r.ms.toFixed(0).padStart(12)}  ${r.leader}`);
}
