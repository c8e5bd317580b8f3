// Plan input for every command: a file path, "-" for stdin, or the name of a built-in scenario.
import { readFileSync, statSync } from "node:fs";
import { didYouMean } from "../model/diagnostics.js";
import { validateText, type Validation } from "../model/validate.js";
import { findScenario, listScenarios } from "../scenarios/index.js";

export class InputError extends Error {
  constructor(message: string, readonly hint: string, readonly loaded?: LoadedPlan) {
    super(message);
  }
}

export interface LoadedPlan {
  readonly label: string;
  readonly file: string;
  readonly text: string;
  readonly validation: Validation;
}

export function readPlanInput(arg: string): { file: string; text: string; label: string } {
  if (arg === "-") return { file: "<stdin>", text: readFileSync(0, "utf8"), label: "<stdin>" };
  let isFile = false;
  let isDir = false;
  try {
    const st = statSync(arg);
    isFile = st.isFile();
    isDir = st.isDirectory();
  } catch {
    isFile = false;
  }
  if (isDir) throw new InputError(`${arg} is a directory, not a plan file`, "Give the path of a YAML or JSON plan file inside it.");
  if (isFile) {
    try {
      return { file: arg, text: readFileSync(arg, "utf8"), label: arg };
    } catch (e) {
      throw new InputError(`cannot read ${arg}: ${e instanceof Error ? e.message : String(e)}`, "Check the file's permissions.");
    }
  }
  const scenario = findScenario(arg);
  if (scenario) return { file: scenario.file, text: readFileSync(scenario.file, "utf8"), label: `scenario ${scenario.name}` };
  const names = listScenarios().map((s) => s.name);
  const guess = didYouMean(arg, names);
  throw new InputError(
    `no plan file and no built-in scenario named "${arg}"${guess ? `; did you mean "${guess}"?` : ""}`,
    `Give a path to a plan file (YAML or JSON), "-" for stdin, or a scenario: ${names.join(", ")}.`,
  );
}

export function loadPlan(arg: string): LoadedPlan {
  const input = readPlanInput(arg);
  return { ...input, validation: validateText(input.text, input.file) };
}
