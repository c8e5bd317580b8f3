// The crosshost command line. Exit codes: 0 success (warnings allowed), 1 findings (errors, failed
// expectations, disagreements), 2 the input could not be read or the command was misused, 70 a bug (EX_SOFTWARE).
import { Command, CommanderError } from "commander";
import { ALL_CODES, CODES, isDiagnosticCode } from "../model/codes.js";
import { didYouMean, hasErrors } from "../model/diagnostics.js";
import { listScenarios } from "../scenarios/index.js";
import { diagnosticJson, renderDiagnostics, summaryLine } from "./render-diagnostics.js";
import { explainCode } from "./explain-code.js";
import { InputError, loadPlan } from "./load.js";
import { makeStyle } from "./style.js";
import { FAULT_SYNTAX } from "../model/faults.js";
import { compileSteps } from "../model/steps/compile.js";
import { isPlanArgument, loadOrThrow, renderSimulation, renderSteps, simulatePlan, simulationJson, simulationOk, stepsJson, validationSummary } from "./simulate.js";
import { labReportJson, labRun, registerLabCommands, renderLabReport } from "./lab.js";
import { registerRemoteCommands } from "./remote.js";

export const EXIT = { ok: 0, findings: 1, input: 2, bug: 70 } as const;

export class ExitError extends Error {
  constructor(readonly exitCode: number, message = "") {
    super(message);
  }
}

function out(...parts: string[]): void {
  const s = parts.join("\n");
  if (s !== "") process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
}

function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function inputFailure(e: unknown, json: boolean): never {
  if (e instanceof InputError) {
    if (json) printJson({ error: { message: e.message, hint: e.hint }, ...(e.loaded ? { diagnostics: e.loaded.validation.diagnostics.map(diagnosticJson) } : {}) });
    else if (e.loaded && !e.loaded.validation.parsed) {
      process.stderr.write(`${renderDiagnostics(e.loaded.validation.diagnostics, e.loaded.validation.source ?? e.loaded.text, e.loaded.label, makeStyle(process.stderr))}\n`);
    } else process.stderr.write(`crosshost: ${e.message}\n  hint: ${e.hint}\n`);
    throw new ExitError(EXIT.input);
  }
  throw e;
}

/** Bad usage: the message (and hint) on stderr, or as { error } on stdout with --json; exit 2. */
function usageFailure(message: string, hint: string | undefined, json: boolean): never {
  if (json) printJson({ error: { message, ...(hint ? { hint } : {}) } });
  else process.stderr.write(`crosshost: ${message}\n${hint ? `  hint: ${hint}\n` : ""}`);
  throw new ExitError(EXIT.input);
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("crosshost")
    .description("Write a cross-host container network (Swarm overlay, macvlan, Consul) once as a plan, prove it sound, predict what happens, apply it to a lab or real hosts, and check reality.")
    .version("0.1.0")
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false })
    .addHelpText("after", `
Plans are YAML or JSON files; built-in scenarios can be named instead of a file:
  ${listScenarios().map((s) => s.name).join(", ")}

Examples:
  crosshost validate seed-swarm-consul        the seed's walk-through, checked
  crosshost validate my-plan.yaml --json      findings as JSON for scripts
  crosshost explain service_check_unreachable what a finding means, how to fix it
  crosshost run seed-swarm-consul             validate, plan, simulate, report
  crosshost simulate swarm-consul --fault stop:consul-server-2
  crosshost explain seed-macvlan --from host:docker-71 --to box1

Exit codes: 0 ok (warnings allowed), 1 errors found, 2 unreadable input or bad usage, 70 a bug in crosshost: please report it.`);

  program
    .command("validate")
    .description("Check a plan before anything runs: every finding with file:line:col, the source line and a hint.")
    .argument("<plan>", "plan file (YAML/JSON), - for stdin, or a built-in scenario name")
    .option("--json", "print { diagnostics: [...] } as JSON")
    .option("--no-info", "hide info findings")
    .addHelpText("after", "\nExit codes: 0 no errors (warnings allowed), 1 errors, 2 the plan could not be read or parsed.")
    .action((planArg: string, opts: { json?: boolean; info: boolean }) => {
      let loaded;
      try {
        loaded = loadPlan(planArg);
      } catch (e) {
        inputFailure(e, !!opts.json);
      }
      const v = loaded.validation;
      const shown = opts.info ? v.diagnostics : v.diagnostics.filter((d) => d.severity !== "info");
      if (opts.json) {
        printJson({ plan: v.plan?.name ?? null, file: loaded.file, ok: v.ok, parsed: v.parsed, diagnostics: shown.map(diagnosticJson) });
      } else {
        const style = makeStyle();
        out(renderDiagnostics(shown, v.source ?? loaded.text, loaded.label === loaded.file ? loaded.file : `${loaded.label} (${loaded.file})`, style));
        out(summaryLine(v.diagnostics, style));
      }
      if (!v.parsed) throw new ExitError(EXIT.input);
      if (hasErrors(v.diagnostics)) throw new ExitError(EXIT.findings);
    });

  program
    .command("scenarios")
    .description("List the built-in scenarios (plan files you can name instead of a path).")
    .option("--json", "print them as JSON")
    .action((opts: { json?: boolean }) => {
      const list = listScenarios();
      if (opts.json) return printJson(list.map((s) => ({ name: s.name, file: s.file, description: s.description })));
      const style = makeStyle();
      const w = Math.max(...list.map((s) => s.name.length));
      for (const s of list) out(`${style.bold(s.name.padEnd(w))}  ${s.description}`);
    });

  program
    .command("plan")
    .description("Print the steps per host, with the exact docker commands and Consul configuration. Touches nothing.")
    .argument("<plan>", "plan file, - for stdin, or a built-in scenario")
    .option("--json", "print the steps (and their argv) as JSON")
    .addHelpText("after", "\nExit codes: 0 the plan is valid, 1 it has errors (the steps shown cover only what could be read), 2 unreadable input.")
    .action((planArg: string, opts: { json?: boolean }) => {
      let loaded;
      try {
        loaded = loadOrThrow(planArg);
      } catch (e) {
        inputFailure(e, !!opts.json);
      }
      const steps = compileSteps(loaded.plan);
      const valid = !hasErrors(loaded.validation.diagnostics);
      if (opts.json) printJson({ plan: loaded.plan.name, ok: valid, validation: { ok: valid, diagnostics: loaded.validation.diagnostics.map(diagnosticJson) }, steps: stepsJson(steps, loaded.plan.name) });
      else {
        const style = makeStyle();
        const hostCount = new Set(steps.map((s) => s.host)).size;
        out(`${style.bold(`Plan ${loaded.plan.name}`)}: ${steps.length} step${steps.length === 1 ? "" : "s"} on ${hostCount} host${hostCount === 1 ? "" : "s"} (${validationSummary(loaded, style)})`);
        if (!valid) out(style.red(`The plan has errors: these steps cover only what could be read. crosshost validate ${planArg} shows them.`));
        out(renderSteps(steps, style, { plan: loaded.plan.name }));
      }
      if (!valid) throw new ExitError(EXIT.findings);
    });

  program
    .command("simulate")
    .description("Predict what the plan does: networks per host, swarm and Consul state, health checks, who reaches whom.")
    .argument("<plan>", "plan file, - for stdin, or a built-in scenario")
    .option("--fault <fault>", `apply a fault after the plan (repeatable): ${FAULT_SYNTAX.replace(/\n/g, " ")}`, collect, [])
    .option("--json", "print the observation and expectation results as JSON")
    .addHelpText("after", "\nExit codes: 0 valid and every expectation holds, 1 the plan has errors, a step fails or an expectation fails, 2 unreadable input or a bad --fault.\n\nExample:\n  crosshost simulate swarm-consul --fault stop:consul-server-2 --fault mtu:lan=1400")
    .action(async (planArg: string, opts: { json?: boolean; fault: string[] }) => {
      let run;
      try {
        run = await simulatePlan(planArg, opts.fault);
      } catch (e) {
        inputFailure(e, !!opts.json);
      }
      if (opts.json) printJson(simulationJson(run));
      else {
        const style = makeStyle();
        out(`${style.bold(`Simulation of ${run.plan.name}`)}  (${validationSummary(run.loaded, style)})\n`);
        if (hasErrors(run.loaded.validation.diagnostics)) out(style.red(`The plan has errors: this predicts only what could be read. crosshost validate ${planArg} shows them.\n`));
        out(renderSimulation(run, style));
      }
      if (!simulationOk(run)) throw new ExitError(EXIT.findings);
    });

  program
    .command("explain")
    .description("Explain a diagnostic code, or (with --from/--to) why one endpoint can or cannot reach another, hop by hop.")
    .argument("<code-or-plan>", "a diagnostic code (\"all\" lists them), or a plan when --from/--to are given")
    .option("--from <endpoint>", "a container, or host:NAME")
    .option("--to <target>", "a container (by address), an address, or host:NAME")
    .option("--by <how>", "address or name", "address")
    .option("--size <bytes>", "ICMP payload (ping -s)", "56")
    .option("--fault <fault>", "apply a fault first (repeatable)", collect, [])
    .option("--json", "print as JSON")
    .addHelpText("after", "\nExit codes: 0 the code is known / the path reaches, 1 the path does not reach, 2 unknown code, unreadable plan or bad usage.\n\nExamples:\n  crosshost explain port_blocked\n  crosshost explain seed-macvlan --from host:docker-71 --to box1")
    .action(async (what: string, opts: { json?: boolean; from?: string; to?: string; by: string; size: string; fault: string[] }) => {
      const style = makeStyle();
      if (opts.from !== undefined || opts.to !== undefined) {
        const json = !!opts.json;
        if (opts.from === undefined || opts.to === undefined) usageFailure("explain needs both --from and --to", "crosshost explain seed-macvlan --from box1 --to box2", json);
        const size = Number(opts.size);
        if (!/^\d+$/.test(opts.size) || size > 65507) usageFailure(`--size ${opts.size} is not an ICMP payload size`, "Give a whole number of bytes from 0 to 65507 (ping -s); the packet is 28 bytes more.", json);
        if (opts.by !== "address" && opts.by !== "name") usageFailure(`--by ${opts.by} is not address or name`, "--by address pings the container's address; --by name resolves its name first.", json);
        let run;
        try {
          run = await simulatePlan(what, opts.fault, { matrix: false });
        } catch (e) {
          inputFailure(e, !!opts.json);
        }
        const plan = run.plan;
        const invalid = hasErrors(run.loaded.validation.diagnostics);
        const endpoints = [...plan.containers.map((c) => c.name), ...plan.hosts.map((h) => `host:${h.name}`)];
        if (endpoints.length === 0) usageFailure(`${what} has no host or container to explain a path between${invalid ? ": the plan has errors" : ""}`, `crosshost validate ${what} shows what could not be read.`, json);
        const guessEndpoint = (x: string) => (endpoints.includes(`host:${x}`) ? `host:${x}` : didYouMean(x, endpoints));
        if (!endpoints.includes(opts.from)) {
          const guess = guessEndpoint(opts.from);
          usageFailure(`--from ${opts.from} is neither a container nor host:NAME of the plan${guess ? `; did you mean "${guess}"?` : ""}`, `endpoints: ${endpoints.join(", ")}`, json);
        }
        // --to: an endpoint, an address, or CONTAINER@NETWORK (that network's address), as in expect: entries.
        const at = opts.to.lastIndexOf("@");
        const [toName, toNetwork] = at > 0 && !opts.to.startsWith("host:") ? [opts.to.slice(0, at), opts.to.slice(at + 1)] : [opts.to, undefined];
        const dotted = /^\d{1,3}(\.\d{1,3}){3}$/.test(toName);
        if (dotted && !endpoints.includes(toName) && toName.split(".").some((o) => Number(o) > 255)) {
          usageFailure(`--to ${opts.to} is not an IPv4 address: each of the four numbers is 0 to 255`, "Give a container, host:NAME, CONTAINER@NETWORK or a dotted IPv4 address such as 192.168.1.71.", json);
        }
        if (!endpoints.includes(toName) && !dotted) {
          const guess = guessEndpoint(toName);
          usageFailure(`--to ${opts.to} is not a container, host:NAME or address of the plan${guess ? `; did you mean "${guess}"?` : ""}`, `endpoints: ${endpoints.join(", ")}; CONTAINER@NETWORK picks that network's address`, json);
        }
        if (toNetwork !== undefined) {
          const c = plan.containers.find((x) => x.name === toName);
          if (!c || !c.attachments.some((a) => a.network === toNetwork)) {
            usageFailure(`--to ${opts.to}: ${toName} is not attached to a network named ${toNetwork}`, `${toName}'s networks: ${c?.attachments.map((a) => a.network).join(", ") || "none"}`, json);
          }
        }
        const result = run.driver.state.probe({ from: opts.from, to: toName, ...(toNetwork !== undefined ? { network: toNetwork } : {}), by: opts.by as "address" | "name", size, proto: "icmp" });
        if (opts.json) return printJson(invalid ? { ...result, validation: { ok: false, diagnostics: run.loaded.validation.diagnostics.map(diagnosticJson) } } : result);
        if (invalid) out(style.red(`The plan has errors: this explains only what could be read. crosshost validate ${what} shows them.`));
        out(`${style.bold(`${opts.from} → ${opts.to}`)}${opts.by === "name" ? " by name" : ""}, ${size + 28}-byte packet${result.address ? ` to ${result.address}` : ""}: ${result.ok ? style.green("reaches") : style.red("does not reach")}`);
        const width = Math.max(0, ...(result.hops ?? []).map((h) => h.at.length));
        for (const h of result.hops ?? []) out(`  ${style.dim(h.at.padEnd(width))}  ${h.note}`);
        if (!result.ok) throw new ExitError(EXIT.findings);
        return;
      }
      if (what === "all") {
        if (opts.json) return printJson(ALL_CODES);
        return out(ALL_CODES.join("\n"));
      }
      if (!isDiagnosticCode(what)) {
        if (isPlanArgument(what)) usageFailure(`${what} is a plan: say which path to explain`, `crosshost explain ${what} --from CONTAINER|host:NAME --to CONTAINER|host:NAME|ADDRESS`, !!opts.json);
        const guess = didYouMean(what, ALL_CODES);
        usageFailure(`"${what}" is not a diagnostic code${guess ? `; did you mean "${guess}"?` : ""}`, "crosshost explain all lists the codes; crosshost explain PLAN --from A --to B explains a path.", !!opts.json);
      }
      if (opts.json) return printJson({ code: what, ...CODES[what] });
      out(explainCode(what, style));
    });

  program
    .command("run")
    .description("The main job: validate the plan, print the steps, simulate them and report the prediction.")
    .argument("<plan>", "plan file, - for stdin, or a built-in scenario")
    .option("--fault <fault>", "apply a fault after the plan (repeatable)", collect, [])
    .option("--steps", "print every step with its commands")
    .option("--lab", "then build a disposable lab (root, docker.io), apply the plan, observe, compare with the prediction, tear down")
    .option("--keep", "with --lab: keep the lab running afterwards")
    .option("--backend <backend>", "with --lab: netns (root), dind (a Docker engine) or auto", "auto")
    .option("--json", "print validation, steps, observation and expectations as JSON")
    .addHelpText("after", "\nExit codes: 0 valid, every expectation holds (and with --lab: reality agrees), 1 errors, failed steps or expectations, or disagreements, 2 unreadable input or a lab that cannot be built.")
    .action(async (planArg: string, opts: { json?: boolean; fault: string[]; steps?: boolean; lab?: boolean; keep?: boolean; backend: string }) => {
      if (!["netns", "dind", "auto"].includes(opts.backend)) usageFailure(`--backend must be netns, dind or auto, not ${opts.backend}`, undefined, !!opts.json);
      if (opts.keep && !opts.lab) usageFailure("--keep only means something with --lab", `crosshost run ${planArg} --lab --keep`, !!opts.json);
      let run;
      try {
        run = await simulatePlan(planArg, opts.fault);
      } catch (e) {
        inputFailure(e, !!opts.json);
      }
      const v = run.loaded.validation;
      if (opts.json) printJson({ ...simulationJson(run), stepsPlanned: stepsJson(run.steps, run.plan.name) });
      else {
        const style = makeStyle();
        out(style.bold(`== 1. Validate ${run.loaded.label}`));
        const shown = v.diagnostics.filter((d) => d.severity !== "info");
        out(renderDiagnostics(shown, v.source, run.loaded.file, style));
        out(validationSummary(run.loaded, style));
        const hostCount = new Set(run.steps.map((s) => s.host)).size;
        out("", style.bold(`== 2. Plan: ${run.steps.length} step${run.steps.length === 1 ? "" : "s"} on ${hostCount} host${hostCount === 1 ? "" : "s"}`));
        if (opts.steps) out(renderSteps(run.steps, style, { plan: run.plan.name }));
        else out(style.dim(`  ${[...new Set(run.steps.map((s) => s.kind))].map((k) => `${run.steps.filter((s) => s.kind === k).length} ${k.replace(/_/g, " ")}`).join(", ")}  (--steps or crosshost plan ${planArg} shows every command)`));
        out("", style.bold("== 3. Simulate"));
        out(renderSimulation(run, style));
        if (hasErrors(v.diagnostics)) out("", style.red(`Fix the errors first: the steps and the prediction above cover only what could be read (crosshost validate ${planArg}).`));
        else if (!opts.lab) out("", style.dim(`Next: apply it to a disposable lab and compare with this prediction: crosshost run ${planArg} --lab (as root with docker.io, or with any Docker engine: --backend dind).`));
      }
      let labFailed = false;
      if (opts.lab) {
        const style = makeStyle();
        const started = Date.now();
        if (!opts.json) out("", style.bold("== 4. Lab: apply the same plan to real engines and compare"));
        const report = await labRun(run.plan, { keep: !!opts.keep, faults: opts.fault, backend: opts.backend as "netns" | "dind" | "auto", progress: opts.json ? undefined : (l: string) => out(`${style.dim(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`)} ${l}`) });
        if (opts.json) printJson(labReportJson(report));
        else out("", renderLabReport(report, style));
        if (report.error) throw new ExitError(report.error === "preflight failed" ? EXIT.input : EXIT.findings);
        labFailed = report.differences.length > 0 || report.results.some((r) => r.status === "failed");
      }
      if (!simulationOk(run) || labFailed) throw new ExitError(EXIT.findings);
    });

  const helpers = {
    out, json: printJson, style: () => makeStyle(),
    fail: (code: number): never => { throw new ExitError(code); },
    inputFailure,
    usage: usageFailure,
  };
  registerLabCommands(program, helpers);
  registerRemoteCommands(program, helpers);

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // Every command, nested ones too (lab up/status/down): commander must throw, not exit, so that exit codes are ours.
  const override = (c: Command): void => {
    c.exitOverride();
    for (const sub of c.commands) override(sub);
  };
  override(program);
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ExitError) return e.exitCode;
    if (e instanceof CommanderError) {
      // --help and --version exit 0; help shown because a command is missing (`crosshost`, `crosshost lab`) is bad usage.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return e.exitCode === 0 ? EXIT.ok : EXIT.input;
      return EXIT.input;
    }
    process.stderr.write(`crosshost: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n  hint: this is a bug; please report it with the command line.\n`);
    return EXIT.bug;
  }
}

