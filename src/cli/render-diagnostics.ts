// Diagnostics for people (file:line:col, the source line, message, hint) and for programs (--json).
import { countBySeverity, formatPath, safeText, type Diagnostic, type Severity } from "../model/diagnostics.js";
import type { PlanSource } from "../model/source.js";
import type { Style } from "./style.js";

export function diagnosticJson(d: Diagnostic): Record<string, unknown> {
  return {
    code: d.code,
    severity: d.severity,
    path: d.path,
    pathText: formatPath(d.path),
    location: d.location ?? null,
    message: safeText(d.message),
    hint: safeText(d.hint),
    ...(d.host ? { host: d.host } : {}),
    ...(d.related ? { related: d.related.map((r) => ({ path: r.path, pathText: formatPath(r.path), location: r.location ?? null, message: safeText(r.message) })) } : {}),
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
  const at = (d: { path: Diagnostic["path"]; location?: Diagnostic["location"] }) => (d.location ? `${d.location.line}:${d.location.column}` : safeText(formatPath(d.path)));
  lines.push(style.bold(safeText(label)));
  for (const d of ds) {
    lines.push(`  ${style.dim(at(d).padEnd(7))} ${sev(style, d.severity)} ${style.dim(d.code)}`);
    // why: diag() already escapes; this guards diagnostics built by hand
    lines.push(`    ${safeText(d.message)}`);
    if (d.location && source) {
      const text = lineText(d.location.line);
      if (text.trim() !== "") {
        const num = String(d.location.line);
        const shown = sourceExcerpt(text, d.location.column);
        lines.push(style.dim(`    ${num} | `) + shown.text);
        lines.push(style.dim(`    ${" ".repeat(num.length)} | `) + " ".repeat(shown.caret) + style.bold("^"));
      }
    } else if (d.location === undefined) {
      lines.push(style.dim(`    at ${safeText(formatPath(d.path))}`));
    }
    for (const r of d.related ?? []) {
      lines.push(style.dim(`    see ${at(r)}: ${safeText(r.message)}`));
    }
    lines.push(`    ${style.green("hint:")} ${safeText(d.hint)}`);
  }
  return lines.join("\n");
}

/**
 * A source line as shown under a finding: control and invisible characters escaped, and at most about `width`
 * characters around the 1-based `column` (… on a cut side); `caret` is the display offset of that column.
 */
export function sourceExcerpt(line: string, column: number, width = 160): { text: string; caret: number } {
  const col = Math.max(0, Math.min(column - 1, line.length));
  if (line.length <= width && safeText(line) === line) return { text: line, caret: col };
  // Each character shows as at least one, so `width` characters either side are enough to fill the window.
  const from = Math.max(0, col - width);
  const to = Math.min(line.length, col + width);
  const parts: string[] = [];
  let caretPart = -1;
  for (let i = from; i < to; ) {
    if (caretPart < 0 && i >= col) caretPart = parts.length;
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    parts.push(safeText(ch));
    i += ch.length;
  }
  if (caretPart < 0) caretPart = parts.length;
  let lo = caretPart, hi = caretPart, used = 0;
  if (hi < parts.length) used += parts[hi++]!.length;
  while (lo > 0 && used + parts[lo - 1]!.length <= width / 2) used += parts[--lo]!.length;
  while (hi < parts.length && used + parts[hi]!.length <= width) used += parts[hi++]!.length;
  while (lo > 0 && used + parts[lo - 1]!.length <= width) used += parts[--lo]!.length;
  const head = lo > 0 || from > 0 ? "…" : "";
  const tail = hi < parts.length || to < line.length ? "…" : "";
  let caret = head.length;
  for (let k = lo; k < caretPart; k++) caret += parts[k]!.length;
  return { text: head + parts.slice(lo, hi).join("") + tail, caret };
}

export function summaryLine(ds: readonly Diagnostic[], style: Style): string {
  const c = countBySeverity(ds);
  const parts = [`${c.error} error${c.error === 1 ? "" : "s"}`, `${c.warning} warning${c.warning === 1 ? "" : "s"}`, `${c.info} info`];
  const mark = c.error > 0 ? style.red("✗") : style.green("✓");
  return `${mark} ${parts.join(", ")}`;
}
