// Diagnostics for people (file:line:col, the source line, message, hint) and for programs (--json).
import { countBySeverity, formatPath, type Diagnostic, type Severity } from "../model/diagnostics.js";
import type { PlanSource } from "../model/source.js";
import type { Style } from "./style.js";

export function diagnosticJson(d: Diagnostic): Record<string, unknown> {
  return {
    code: d.code,
    severity: d.severity,
    path: d.path,
    pathText: formatPath(d.path),
    location: d.location ?? null,
    message: d.message,
    hint: d.hint,
    ...(d.host ? { host: d.host } : {}),
    ...(d.related ? { related: d.related.map((r) => ({ path: r.path, pathText: formatPath(r.path), location: r.location ?? null, message: r.message })) } : {}),
  };
}

function sev(style: Style, s: Severity): string {
  return s === "error" ? style.red("error") : s === "warning" ? style.yellow("warning") : style.blue("info");
}

/** `source`: the parsed plan, or just its text when it did not parse (a parse error still shows its line). */
export function renderDiagnostics(ds: readonly Diagnostic[], source: PlanSource | string | undefined, label: string, style: Style): string {
  const lines: string[] = [];
  if (ds.length === 0) return "";
  const rawLines = typeof source === "string" ? source.split(/\r?\n/) : undefined;
  const lineText = (n: number): string => (typeof source === "string" ? (rawLines![n - 1] ?? "") : (source?.lineText(n) ?? ""));
  lines.push(style.bold(label));
  for (const d of ds) {
    const where = d.location ? `${d.location.line}:${d.location.column}` : formatPath(d.path);
    lines.push(`  ${style.dim(where.padEnd(7))} ${sev(style, d.severity)} ${style.dim(d.code)}`);
    lines.push(`    ${d.message}`);
    if (d.location && source) {
      const text = lineText(d.location.line);
      if (text.trim() !== "") {
        const num = String(d.location.line);
        lines.push(style.dim(`    ${num} | `) + text);
        lines.push(style.dim(`    ${" ".repeat(num.length)} | `) + " ".repeat(Math.max(0, d.location.column - 1)) + style.bold("^"));
      }
    } else if (d.location === undefined) {
      lines.push(style.dim(`    at ${formatPath(d.path)}`));
    }
    for (const r of d.related ?? []) {
      lines.push(style.dim(`    see ${r.location ? `${r.location.line}:${r.location.column}` : formatPath(r.path)}: ${r.message}`));
    }
    lines.push(`    ${style.green("hint:")} ${d.hint}`);
  }
  return lines.join("\n");
}

export function summaryLine(ds: readonly Diagnostic[], style: Style): string {
  const c = countBySeverity(ds);
  const parts = [`${c.error} error${c.error === 1 ? "" : "s"}`, `${c.warning} warning${c.warning === 1 ? "" : "s"}`, `${c.info} info`];
  const mark = c.error > 0 ? style.red("✗") : style.green("✓");
  return `${mark} ${parts.join(", ")}`;
}
