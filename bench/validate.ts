// bench/validate: time and peak memory of validation for generated plans of 100, 1k and 10k hosts with
// 10 containers each on a swarm overlay (and, for comparison, YAML parsing of the same plan as text), then
// the same plans with a Consul agent on every host as well (10% more containers, every agent a peer).
//   npx tsx bench/validate.ts [sizes...]
// Each size: the first run (it also grows the heap) and the median of five more.
import { performance } from "node:perf_hooks";
import { stringify } from "yaml";
import { validateText, validateValue } from "../src/model/validate.js";
import { generatePlan } from "./gen.js";

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const runs = sizes.length > 0 ? sizes : [100, 1000, 10000];

function measure<T>(f: () => T): { ms: number; peakMb: number; value: T } {
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  const t0 = performance.now();
  const value = f();
  const ms = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { ms, peakMb: (peak - before) / 2 ** 20, value };
}

for (const consul of [false, true]) {
console.log(`\n${consul ? "with a Consul agent on every host" : "hosts + swarm + overlay + containers"}`);
console.log("hosts   containers  first(ms)  median(ms)  heap+(MB)  findings  | yaml text (MB)  parse+validate(ms)");
let prev: { n: number; ms: number } | undefined;
for (const n of runs) {
  const plan = generatePlan(n, 10, { consul });
  validateValue(generatePlan(Math.min(n, 50), 10, { consul })); // warm up the JIT
  // The first validation of a plan this size also pays for growing the heap; then the median of five.
  const v = measure(() => validateValue(plan));
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) warm.push(measure(() => validateValue(plan)).ms);
  const median = warm.sort((a, b) => a - b)[2]!;
  const text = n <= 1000 ? stringify(plan) : undefined;
  const t = text ? measure(() => validateText(text, "gen.yaml")) : undefined;
  const growth = prev ? `  (median x${(median / prev.ms).toFixed(1)} for x${n / prev.n})` : "";
  console.log(
    `${String(n).padEnd(7)} ${String(n * 10).padEnd(11)} ${v.ms.toFixed(0).padStart(9)}  ${median.toFixed(0).padStart(10)}  ${v.peakMb.toFixed(0).padStart(9)}  ${String(v.value.diagnostics.filter((d) => d.severity !== "info").length).padStart(8)}  | ${text ? (text.length / 2 ** 20).toFixed(1).padStart(14) : "             -"}  ${t ? t.ms.toFixed(0).padStart(18) : "                 -"}${growth}`,
  );
  if (v.value.diagnostics.some((d) => d.severity === "error")) console.log("  unexpected errors:", v.value.diagnostics.filter((d) => d.severity === "error").slice(0, 3).map((d) => d.message));
  prev = { n, ms: median };
}
}
