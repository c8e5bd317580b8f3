// The crosshost command line. Exit codes: 0 success (warnings allowed), 1 findings (errors, failed
// expectations, disagreements), 2 the input could not be read or the command was misused.
import { Command, CommanderError } from "commander";
import { ALL_CODES, isDiagnosticCode } from "../model/codes.js";
import { didYouMean, hasErrors } from "../model/diagnostics.js";
import { listScenarios } from "../scenarios/index.js";
import { diagnosticJson, renderDiagnostics, summaryLine } from "./render-diagnostics.js";
import { explainCode } from "./explain-code.js";
import { InputError, loadPlan } from "./load.js";
import { makeStyle } from "./style.js";

export const EXIT = { ok: 0, findings: 1, input: 2 } as const;

export class ExitError extends Error {
  constructor(readonly exitCode: number, message = "") {
    super(message);
  }
}

function out(s: string): void {
  if (s !== "") process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
}

function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function inputFailure(e: unknown, json: boolean): never {
  if (e instanceof InputError) {
    if (json) printJson({ error: { message: e.message, hint: e.hint } });
    else process.stderr.write(`crosshost: ${e.message}\n  hint: ${e.hint}\n`);
    throw new ExitError(EXIT.input);
  }
  throw e;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("crosshost")
    .description("Write a cross-host container network (Swarm overlay, macvlan, Consul) once as a plan,\nprove it sound, predict what happens, apply it to a lab or real hosts, and check reality.")
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

Exit codes: 0 ok (warnings allowed), 1 errors found, 2 unreadable input or bad usage.`);

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
        out(renderDiagnostics(shown, v.source, loaded.label === loaded.file ? loaded.file : `${loaded.label} (${loaded.file})`, style));
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
    .command("explain")
    .description("Explain a diagnostic code (crosshost explain CODE).")
    .argument("<code>", `a diagnostic code, e.g. subnet_overlap; "all" lists them`)
    .option("--json", "print as JSON")
    .action((what: string, opts: { json?: boolean }) => {
      const style = makeStyle();
      if (what === "all") {
        if (opts.json) return printJson(ALL_CODES);
        return out(ALL_CODES.join("\n"));
      }
      if (!isDiagnosticCode(what)) {
        const guess = didYouMean(what, ALL_CODES);
        process.stderr.write(`crosshost: "${what}" is not a diagnostic code${guess ? `; did you mean "${guess}"?` : ""}\n  hint: crosshost explain all lists them.\n`);
        throw new ExitError(EXIT.input);
      }
      out(explainCode(what, style));
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ExitError) return e.exitCode;
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT.ok;
      return EXIT.input;
    }
    process.stderr.write(`crosshost: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n  hint: this is a bug; please report it with the command line.\n`);
    return 70;
  }
}

