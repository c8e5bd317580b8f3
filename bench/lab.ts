// bench/lab: swarm-consul on three hosts, from nothing to a verified swarm + overlay + Consul leader +
// passing checks, compared with the prediction: lab up, images, apply, observe, compare, down and total,
// for each lab backend this machine supports, side by side.
//   npx tsx bench/lab.ts [scenario] [--backend netns|dind]
import { chooseBackend } from "../lab/detect.js";
import type { LabBackend } from "../lab/lab.js";
import { runInLab } from "../lab/session.js";
import { planFrom } from "../test/helpers/sim.js";

const args = process.argv.slice(2);
const scenario = args.find((a) => !a.startsWith("--")) ?? "swarm-consul";
const only = args.includes("--backend") ? (args[args.indexOf("--backend") + 1] as LabBackend) : undefined;
const rows: Record<string, Record<string, string>> = {};
for (const backend of (only ? [only] : ["netns", "dind"]) as LabBackend[]) {
  const c = await chooseBackend(backend);
  if (!c.ok) {
    console.log(`${backend}: skipped (${c.why})`);
    continue;
  }
  const r = await runInLab(planFrom(scenario), { backend, name: `bench-${backend}` });
  const t = r.timings;
  const s = (k: string) => (t[k] !== undefined ? (t[k]! / 1000).toFixed(1) : "-");
  rows[backend] = {
    "lab up": s("up"), images: s("images"), apply: s("apply"), observe: s("observe"), compare: s("compare"), down: s("down"), total: s("total"),
    disagreements: String(r.differences.length), "checks passing": String(Object.values(r.reality?.services ?? {}).filter((x) => x.health === "passing").length),
  };
  if (r.error) console.log(`${backend}: ${r.error}`);
}
const keys = ["lab up", "images", "apply", "observe", "compare", "down", "total", "disagreements", "checks passing"];
const backends = Object.keys(rows);
console.log(`\n${scenario} (seconds)`);
console.log(["".padEnd(16), ...backends.map((b) => b.padStart(8))].join(""));
for (const k of keys) console.log([k.padEnd(16), ...backends.map((b) => rows[b]![k]!.padStart(8))].join(""));
