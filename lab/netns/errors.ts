/** What a failed lab step was doing; every field that is known goes into the message. */
export interface LabErrorContext {
  readonly host?: string;
  readonly command?: readonly string[];
  readonly code?: number;
  readonly stderr?: string;
  readonly logFile?: string;
}

export class LabError extends Error {
  readonly context: LabErrorContext;
  constructor(summary: string, context: LabErrorContext = {}) {
    super(formatLabError(summary, context));
    this.name = "LabError";
    this.context = context;
  }
}

/** Teardown could not remove everything; `problems` lists what is left and why. The state file is kept. */
export class LabTeardownError extends Error {
  readonly problems: readonly string[];
  constructor(stateFile: string, problems: readonly string[]) {
    super(`lab teardown left ${problems.length} problem(s); state kept in ${stateFile}:\n- ${problems.join("\n- ")}`);
    this.name = "LabTeardownError";
    this.problems = problems;
  }
}

function formatLabError(summary: string, c: LabErrorContext): string {
  const parts = [c.host !== undefined ? `host ${c.host}: ${summary}` : summary];
  if (c.command) parts.push(`command: ${c.command.join(" ")}${c.code !== undefined ? ` (exit ${c.code})` : ""}`);
  const stderr = c.stderr?.trim();
  if (stderr) parts.push(`stderr: ${stderr}`);
  if (c.logFile !== undefined) parts.push(`log: ${c.logFile}`);
  return parts.join("\n  ");
}
