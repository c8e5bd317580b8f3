// `crosshost explain CODE` and docs/diagnostics.md: both made from the catalogue in src/model/codes.ts.
import { ALL_CODES, CODES, type DiagnosticCode } from "../model/codes.js";
import type { Style } from "./style.js";

export function explainCode(code: DiagnosticCode, style: Style): string {
  const c = CODES[code];
  return [
    `${style.bold(code)} (${c.severity}, ${c.family})`,
    `  ${c.title}`,
    "",
    `  ${style.bold("Why:")} ${c.why}`,
    `  ${style.bold("Fix:")} ${c.fix}`,
    `  ${style.bold("Source:")} ${c.source}`,
  ].join("\n");
}

export function diagnosticsMarkdown(): string {
  const lines = [
    "# Diagnostic codes",
    "",
    "Generated from `src/model/codes.ts` by `npm run docs`; `crosshost explain CODE` prints the same text.",
    "Severity is the rule's usual one; some findings are raised or lowered where the rule says why.",
    "",
  ];
  const families = [...new Set(ALL_CODES.map((k) => CODES[k].family))];
  for (const f of families) {
    lines.push(`## ${f}`, "");
    for (const k of ALL_CODES.filter((x) => CODES[x].family === f)) {
      const c = CODES[k];
      lines.push(`### \`${k}\` (${c.severity})`, "", c.title, "", `- **Why:** ${c.why}`, `- **Fix:** ${c.fix}`, `- **Source:** ${c.source}`, "");
    }
  }
  return lines.join("\n");
}
