// Every plan the reader returns, however broken its file was, goes through plan, simulate and explain
// without throwing: the reader drops what cannot be used, and nothing downstream meets a dangling name.
// Mutations of real plans (the scenarios and the public-report cases) find what random values cannot:
// a deleted host that a Consul agent and a service still name, a route through a NIC that is not there.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { observationProbes } from "../../src/model/sim/probes.js";
import { evaluateExpectations } from "../../src/model/sim/evaluate.js";
import { World } from "../../src/model/sim/world.js";
import { compileSteps } from "../../src/model/steps/compile.js";
import { renderStep } from "../../src/model/steps/render.js";
import { validateValue } from "../../src/model/validate.js";
import { ROOT } from "../helpers/sim.js";
import { RUNS, SEED } from "./arbitraries.js";

type Path = (string | number)[];
const scenarioDir = join(ROOT, "src", "scenarios");
const caseDir = join(ROOT, "test", "fixtures", "cases");
const sources = [
  ...readdirSync(scenarioDir).filter((f) => f.endsWith(".yaml")).map((f) => join(scenarioDir, f)),
  ...readdirSync(caseDir).filter((f) => f.endsWith(".yaml")).sort().filter((_, i) => i % 4 === 0).map((f) => join(caseDir, f)),
];
const docs = sources.map((f) => parse(readFileSync(f, "utf8")) as unknown);

function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (at.length > 0) out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}
function strings(v: unknown, out = new Set<string>()): string[] {
  if (typeof v === "string") out.add(v);
  else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
  else if (v && typeof v === "object") Object.values(v).forEach((x) => strings(x, out));
  return [...out];
}

type Mutation = { at: number; op: "delete" | "empty_list" | "other_name" | "garbage" | "number"; pick: number };
function mutate(doc: unknown, ms: readonly Mutation[]): unknown {
  const copy = structuredClone(doc);
  for (const m of ms) {
    const ps = paths(copy);
    if (ps.length === 0) break;
    const p = ps[m.at % ps.length]!;
    let parent = copy as Record<string | number, unknown>;
    for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const key = p[p.length - 1]!;
    const names = strings(copy);
    switch (m.op) {
      case "delete": if (Array.isArray(parent)) parent.splice(key as number, 1); else delete parent[key]; break;
      case "empty_list": parent[key] = []; break;
      case "other_name": parent[key] = names[m.pick % names.length]; break;
      case "garbage": parent[key] = "nope"; break;
      case "number": parent[key] = m.pick; break;
    }
  }
  return copy;
}

const mutation = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("delete", "empty_list", "other_name", "garbage", "number") as fc.Arbitrary<Mutation["op"]>,
  pick: fc.nat({ max: 70000 }),
});

describe(`pipeline on mutated real plans (fast-check seed ${SEED})`, () => {
  it("plan, simulate, observe, explain and evaluate never throw, whatever the reader was given", () => {
    fc.assert(
      fc.property(fc.nat({ max: docs.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (which, ms) => {
        const v = validateValue(mutate(docs[which], ms));
        expect(v.diagnostics.filter((d) => d.code === "internal_error").map((d) => d.message)).toEqual([]);
        const plan = v.plan;
        if (!plan) return;
        const steps = compileSteps(plan);
        for (const s of steps) renderStep(s, { plan: plan.name });
        const world = new World(plan);
        for (const s of steps) world.apply(s);
        const obs = world.observe(observationProbes(plan));
        evaluateExpectations(plan, obs);
        for (const c of plan.containers.slice(0, 3)) for (const h of plan.hosts.slice(0, 3)) world.probe({ from: `host:${h.name}`, to: c.name, by: "address", size: 56, proto: "icmp" });
      }),
      { numRuns: RUNS * 10 },
    );
  });
});
