// bench/validate-phases: where validation time goes at 10k hosts / 100k containers: reading, the shared
// context (indexes, IPAM), and each rule over 8 ms; the minimum of five runs.
//   npx tsx bench/validate-phases.ts            (CONSUL=1: with a Consul agent on every host)
import { readPlan } from "../src/model/read/read-plan.js";
import { makeContext } from "../src/model/rules/context.js";
import { RULES } from "../src/model/validate.js";
import { validateValue } from "../src/model/validate.js";
import { generatePlan } from "./gen.js";
const plan = generatePlan(10000, 10, { consul: process.env.CONSUL === "1" });
const min = new Map<string, number>();
const put = (k: string, v: number) => min.set(k, Math.min(min.get(k) ?? Infinity, v));
for (let rep = 0; rep < 5; rep++) {
  let t = performance.now();
  const r = readPlan(plan);
  put("read", performance.now() - t); t = performance.now();
  const ctx = makeContext(r.plan);
  put("ctx", performance.now() - t);
  let tot = 0;
  for (const [name, rule] of RULES) { t = performance.now(); rule(ctx); const d = performance.now() - t; tot += d; put(name, d); }
  put("rules", tot);
  t = performance.now(); validateValue(plan); put("validate", performance.now() - t);
}
console.log([...min].filter(([, v]) => v > 8).map(([k, v]) => `${k}=${v.toFixed(0)}`).join(" "));
