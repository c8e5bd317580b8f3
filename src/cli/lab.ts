// `crosshost lab up|status|down`, `crosshost compare`, and the lab half of `crosshost run --lab`.
import { InvalidArgumentError, type Command } from "commander";
import { hasErrors } from "../model/diagnostics.js";
import type { Plan } from "../model/plan.js";
import { compareObservations, evaluateExpectations } from "../model/sim/evaluate.js";
import { observationProbes } from "../model/sim/probes.js";
import { applyConcurrent } from "../drivers/driver.js";
import { attachLab, downLab, listLabs, pickBackend, upLab, type BackendRequest } from "../../lab/backends.js";
import { labPreflight } from "../../lab/preflight.js";
import { labDriver, labName, loadLabImages, planToLabSpec } from "../../lab/plan-lab.js";
import { labPlan, labSteps, predict, runInLab, type LabRunReport } from "../../lab/session.js";
import { diagnosticJson, renderDiagnostics } from "./render-diagnostics.js";
import { renderDifferences, renderExpectations, table } from "./render-observation.js";
import { cliFaults, loadOrThrow } from "./simulate.js";
import type { Style } from "./style.js";

export function renderLabReport(r: LabRunReport, style: Style): string {
  const out: string[] = [];
  if (r.preflight.length > 0) out.push(renderDiagnostics(r.preflight, undefined, "lab preflight", style));
  if (r.error) {
    out.push(style.red(`✗ lab run stopped: ${r.error}`));
    return out.join("\n");
  }
  const failed = r.results.filter((x) => x.status === "failed");
  if (r.backend) out.push(style.dim(`lab ${r.lab}, ${r.backend} backend: ${r.backendWhy ?? ""}`));
  out.push(`${style.bold("Applied")} ${r.results.length} step${r.results.length === 1 ? "" : "s"} in the lab: ${failed.length === 0 ? style.green("none failed") : style.red(`${failed.length} failed`)}`);
  for (const f of failed) out.push(`  ${style.red("✗")} ${f.id}: ${f.message}`);
  out.push("", style.bold("Prediction against reality"), renderDifferences(r.differences, style));
  out.push("", renderExpectations(r.expectations, style).replace("Expectations", "Expectations, in the lab"));
  const t = r.timings;
  out.push("", style.dim(`timings: ${Object.entries(t).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(", ")}${r.kept ? `; lab ${r.lab} kept (crosshost lab down ${r.lab})` : ""}`));
  return out.join("\n");
}

export function labReportJson(r: LabRunReport): Record<string, unknown> {
  return {
    lab: r.lab, kept: r.kept, error: r.error ?? null,
    preflight: r.preflight.map(diagnosticJson),
    steps: r.results, differences: r.differences,
    expectations: r.expectations.map((e) => ({ expectation: e.text, ok: e.ok, ...(e.detail ? { detail: e.detail } : {}) })),
    reality: r.reality ?? null, prediction: r.prediction ?? null, timings: r.timings,
  };
}

export async function labRun(plan: Plan, opts: { keep?: boolean; faults?: string[]; backend?: BackendRequest; progress?: (l: string) => void }): Promise<LabRunReport> {
  return runInLab(plan, { keep: !!opts.keep, faults: cliFaults(plan, opts.faults ?? []), backend: opts.backend ?? "auto", ...(opts.progress ? { progress: opts.progress } : {}) });
}

function backendOption(v: string): BackendRequest {
  if (v !== "netns" && v !== "dind" && v !== "auto") throw new InvalidArgumentError("use netns, dind or auto.");
  return v;
}

export function registerLabCommands(program: Command, h: {
  out: (...s: string[]) => void; json: (v: unknown) => void; style: () => Style; fail: (code: number) => never; inputFailure: (e: unknown, json: boolean) => never;
  usage: (message: string, hint: string | undefined, json: boolean) => never;
}): void {
  /** The named lab (exit 2 when there is none), or every lab. */
  const selectLabs = (name: string | undefined, json: boolean) => {
    const labs = listLabs().filter((l) => !name || l.name === name);
    if (name && labs.length === 0) h.usage(`no lab named ${name}`, "crosshost lab status lists the labs on this machine.", json);
    return labs;
  };

  const lab = program.command("lab").description("A disposable lab on this machine: one host per plan host, each with its own dockerd, on a switch of its own; netns backend (root: network namespaces) or dind backend (containers on a Docker engine).");

  lab
    .command("up")
    .description("Build a lab from a plan (hosts, NICs, switches, engines, images) and apply the plan to it; it keeps running.")
    .argument("<plan>", "plan file, - for stdin, or a built-in scenario")
    .option("--name <lab>", "lab name (default: from the plan's name)")
    .option("--backend <backend>", "netns (root: namespaces), dind (containers through a Docker engine) or auto", backendOption, "auto" as BackendRequest)
    .option("--json", "print the result as JSON")
    .action(async (planArg: string, opts: { name?: string; json?: boolean; backend: BackendRequest }) => {
      let loaded;
      try {
        loaded = loadOrThrow(planArg);
      } catch (e) {
        h.inputFailure(e, !!opts.json);
      }
      const style = h.style();
      const choice = await pickBackend(opts.backend);
      if (!choice.ok) {
        h.usage(`no lab backend: ${choice.why}`, "Run as root with docker.io installed (netns), or with a reachable Docker engine (dind).", !!opts.json);
      }
      if (!opts.json) h.out(`backend ${choice.backend}: ${choice.why}`);
      const pre = await labPreflight(loaded.plan, choice.backend);
      if (!opts.json && pre.diagnostics.length > 0) h.out(renderDiagnostics(pre.diagnostics, undefined, "lab preflight", style));
      if (!pre.ok) {
        if (opts.json) h.json({ ok: false, preflight: pre.diagnostics.map(diagnosticJson) });
        h.fail(2);
      }
      const plan = labPlan(loaded.plan, pre.caps);
      const name = opts.name ?? labName(plan);
      const started = Date.now();
      const say = (l: string) => { if (!opts.json) h.out(`${style.dim(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`)} ${l}`); };
      say(`building lab ${name}`);
      const lab = await upLab(choice.backend, planToLabSpec(plan, name), (m, host) => say(`  ${host ?? "lab"}: ${m}`));
      await loadLabImages(lab, plan, (m) => say(`  ${m}`));
      const results = await applyConcurrent(labDriver(plan, lab), labSteps(plan), (s, r) => say(`  ${r.status === "failed" ? style.red("✗") : "✓"} ${s.host.padEnd(18)} ${s.id}${r.status === "failed" ? `: ${r.message}` : ""}`));
      if (opts.json) h.json({ ok: true, lab: name, steps: results });
      else h.out(`lab ${style.bold(name)} is up: compare it with the prediction (crosshost compare ${planArg} --lab-name ${name}), then crosshost lab down ${name}`);
      if (results.some((r) => r.status === "failed")) h.fail(1);
    });

  lab
    .command("status")
    .description("List the labs on this machine: hosts, engines, swarm state, Consul leader.")
    .argument("[lab]", "one lab (default: all)")
    .option("--json", "print as JSON")
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const labs = selectLabs(name, !!opts.json);
      const statuses = [];
      for (const l of labs) {
        const lab = await attachLab(l);
        const hosts = await Promise.all(lab.hosts.map(async (host) => {
          const t = lab.transport(host);
          let swarm = "-", leader = "-", engine = false;
          const sw = await t.exec(["docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"], { timeoutMs: 10_000 }).catch(() => ({ code: 1, stdout: "", stderr: "" }));
          if (sw.code === 0) {
            engine = true;
            const [state, mgr] = sw.stdout.trim().split(" ");
            swarm = state === "active" ? (mgr === "true" ? "manager" : "worker") : state ?? "-";
            const agents = await t.exec(["docker", "ps", "--filter", "label=crosshost.owned=true", "--format", "{{.Names}} {{.Image}}"], { timeoutMs: 10_000 });
            const agent = agents.stdout.split("\n").find((x) => x.includes("consul"))?.split(" ")[0];
            if (agent) {
              const r = await t.exec(["docker", "exec", agent, "wget", "-q", "-O", "-", "http://127.0.0.1:8500/v1/status/leader"], { timeoutMs: 10_000 });
              leader = r.code === 0 ? ((JSON.parse(r.stdout || '""') as string) || "none") : "none";
            }
          }
          return { host, engine, swarm, consulLeader: leader };
        }));
        statuses.push({ lab: l.name, backend: l.backend, stateFile: l.stateFile, hosts });
      }
      if (opts.json) return h.json(statuses);
      const style = h.style();
      if (statuses.length === 0) return h.out("no labs on this machine");
      for (const st of statuses) {
        h.out(`${style.bold(st.lab)} (${st.backend})  ${style.dim(st.stateFile)}`);
        h.out(table([["host", "engine", "swarm", "consul leader"], ...st.hosts.map((x) => [x.host, x.engine ? "✓" : "✗", x.swarm, x.consulLeader])], style));
      }
    });

  lab
    .command("down")
    .description("Tear a lab down from its recorded state (also after a crash): namespaces, links, rules, engines, files.")
    .argument("[lab]", "the lab (may be left out when there is only one)")
    .option("--all", "every lab on this machine")
    .option("--json", "print as JSON")
    .addHelpText("after", "\nOnly what the lab recorded as its own is removed. Exit codes: 0 removed (or nothing to remove), 2 no such lab, or several labs and neither a name nor --all.")
    .action(async (name: string | undefined, opts: { json?: boolean; all?: boolean }) => {
      const labs = selectLabs(name, !!opts.json);
      // Several labs and no name: tearing all of them down unasked would surprise whoever runs the others.
      if (!name && !opts.all && labs.length > 1) h.usage(`${labs.length} labs on this machine: ${labs.map((l) => l.name).join(", ")}`, "Name the lab (crosshost lab down NAME), or add --all to remove every one.", !!opts.json);
      const reports = [];
      for (const l of labs) {
        const t = Date.now();
        await downLab(l);
        reports.push({ lab: l.name, backend: l.backend, ms: Date.now() - t });
        if (!opts.json) h.out(`lab ${l.name} (${l.backend}) removed in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      }
      if (opts.json) h.json(reports);
      else if (labs.length === 0) h.out("no labs on this machine");
    });

  program
    .command("compare")
    .description("Observe a running lab and compare it with the simulator's prediction, observation by observation.")
    .argument("<plan>", "the plan the lab was built from")
    .option("--lab-name <lab>", "the lab (default: from the plan's name)")
    .option("--json", "print the differences as JSON")
    .addHelpText("after", "\nExit codes: 0 reality agrees with the prediction, 1 disagreements, 2 unreadable input or no such lab.")
    .action(async (planArg: string, opts: { labName?: string; json?: boolean }) => {
      let loaded;
      try {
        loaded = loadOrThrow(planArg);
      } catch (e) {
        h.inputFailure(e, !!opts.json);
      }
      const pre = await labPreflight(loaded.plan, "dind");
      const plan = labPlan(loaded.plan, pre.caps);
      const name = opts.labName ?? labName(plan);
      const found = listLabs().find((l) => l.name === name);
      if (!found) h.usage(`no lab named ${name} on this machine`, `crosshost lab up ${planArg} builds it; crosshost lab status lists labs.`, !!opts.json);
      const lab = await attachLab(found);
      const steps = labSteps(plan);
      const reality = await labDriver(plan, lab).observe(observationProbes(plan));
      const diffs = compareObservations(predict(plan, steps), reality);
      if (opts.json) h.json({ lab: name, differences: diffs, expectations: evaluateExpectations(plan, reality) });
      else {
        const style = h.style();
        h.out(renderDifferences(diffs, style), "", renderExpectations(evaluateExpectations(plan, reality), style));
      }
      if (diffs.length > 0) h.fail(1);
    });
  void hasErrors;
}
