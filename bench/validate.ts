// bench/validate: time and peak memory of validation for generated plans of 100, 1k and 10k hosts with
// 10 containers each on a swarm overlay (and, for comparison, YAML parsing of the same plan as text), then
// the same plans with a Consul agent on every host as well (10% more containers, every agent a peer).
//   npx tsx bench/validate.ts [sizes...]
// Each size runs in a fresh child process, so that its peak memory is its own: "peak RSS+" is the
// process's peak resident set size during the validations minus its resident set just before them, i.e.
// what validating the plan costs on top of holding the plan itself. On Linux the peak (VmHWM) is reset
// just before validating (writing 5 to /proc/self/clear_refs, see proc(5)); elsewhere it is getrusage's
// maxRSS over the whole process, which may include the plan generation before it.
// Times: the first run (it also grows the heap) and the median of five more.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { validateText, validateValue } from "../src/model/validate.js";
import { generatePlan } from "./gen.js";

interface Figures {
  readonly first: number;
  readonly median: number;
  readonly peakMb: number;
  readonly findings: number;
  readonly errors: string[];
  readonly textMb?: number;
  readonly textMs?: number;
}

/** Resets the kernel's peak-RSS mark of this process (Linux); false where that is not possible. */
function resetPeak(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** VmHWM (bytes): the peak resident set since the last reset. */
function peakSinceReset(): number | undefined {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : undefined;
}

/** One size, in this process: what the parent prints a row of. */
function child(n: number, consul: boolean): Figures {
  const plan = generatePlan(n, 10, { consul });
  validateValue(generatePlan(Math.min(n, 50), 10, { consul })); // warm up the JIT
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  const hwmReset = resetPeak();
  let t0 = performance.now();
  const v = validateValue(plan);
  const first = performance.now() - t0;
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    t0 = performance.now();
    validateValue(plan);
    warm.push(performance.now() - t0);
  }
  const peak = (hwmReset ? peakSinceReset() : undefined) ?? process.resourceUsage().maxRSS * 1024;
  const peakMb = Math.max(0, peak - baseline) / 2 ** 20;
  const text = n <= 1000 ? stringify(plan) : undefined;
  let textMs: number | undefined;
  if (text) {
    t0 = performance.now();
    validateText(text, "gen.yaml");
    textMs = performance.now() - t0;
  }
  return {
    first,
    median: warm.sort((a, b) => a - b)[2]!,
    peakMb,
    findings: v.diagnostics.filter((d) => d.severity !== "info").length,
    errors: v.diagnostics.filter((d) => d.severity === "error").slice(0, 3).map((d) => d.message),
    ...(text ? { textMb: text.length / 2 ** 20, textMs } : {}),
  };
}

if (process.argv[2] === "--child") {
  process.stdout.write(JSON.stringify(child(Number(process.argv[3]), process.argv[4] === "consul")));
} else {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const runs = sizes.length > 0 ? sizes : [100, 1000, 10000];
  const self = fileURLToPath(import.meta.url);
  for (const consul of [false, true]) {
    console.log(`\n${consul ? "with a Consul agent on every host" : "hosts + swarm + overlay + containers"}`);
    console.log("hosts   containers  first(ms)  median(ms)  peak RSS+(MB)  findings  | yaml text (MB)  parse+validate(ms)");
    let prev: { n: number; ms: number } | undefined;
    for (const n of runs) {
      // process.execArgv carries tsx's loader, so the child runs this same TypeScript file.
      const r = spawnSync(process.execPath, [...process.execArgv, "--expose-gc", self, "--child", String(n), consul ? "consul" : "plain"], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (r.status !== 0) {
        console.log(`${n}: the child failed (${r.status ?? r.signal}): ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
        continue;
      }
      const f = JSON.parse(r.stdout) as Figures;
      const growth = prev ? `  (median x${(f.median / prev.ms).toFixed(1)} for x${n / prev.n})` : "";
      console.log(
        `${String(n).padEnd(7)} ${String(n * (consul ? 11 : 10)).padEnd(11)} ${f.first.toFixed(0).padStart(9)}  ${f.median.toFixed(0).padStart(10)}  ${f.peakMb.toFixed(0).padStart(13)}  ${String(f.findings).padStart(8)}  | ${f.textMb !== undefined ? f.textMb.toFixed(1).padStart(14) : "             -"}  ${f.textMs !== undefined ? f.textMs.toFixed(0).padStart(18) : "                 -"}${growth}`,
      );
      if (f.errors.length > 0) console.log("  unexpected errors:", f.errors);
      prev = { n, ms: f.median };
    }
  }
}
