// Plan text → plain value, keeping a way back from a plan path to the line and column it came from.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { diag, type Diagnostic, type PlanPath, type SourceLocation } from "./diagnostics.js";

export interface PlanSource {
  readonly file: string;
  readonly text: string;
  /** The document as plain data (objects, arrays, strings, numbers, booleans, null). */
  readonly value: unknown;
  /** Position of the element at `path` (for a map entry: its key), or the closest existing ancestor. */
  locate(path: PlanPath): SourceLocation | undefined;
  /** The text of a 1-based line, without its newline. */
  lineText(line: number): string;
}

export type ParseResult = { ok: true; source: PlanSource } | { ok: false; diagnostics: Diagnostic[] };

const MAX_ALIAS_COUNT = 1000;

/** Parses YAML (and therefore JSON). Never throws: syntax errors come back as parse_error diagnostics. */
export function parsePlanText(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  } catch (e) {
    return { ok: false, diagnostics: [parseError(file, `cannot parse: ${errorText(e)}`, { line: 1, column: 1 })] };
  }
  const lines = text.split(/\r?\n/);
  const lineText = (n: number) => lines[n - 1] ?? "";
  if (doc.errors.length > 0) {
    const seen = new Set<string>();
    const diagnostics: Diagnostic[] = [];
    for (const err of doc.errors) {
      const pos = err.linePos?.[0] ?? (Array.isArray(err.pos) ? lineCounter.linePos(err.pos[0]) : undefined);
      const where = pos ? { line: pos.line, column: pos.col } : { line: 1, column: 1 };
      const message = firstLine(err.message);
      const key = `${where.line}:${where.column}:${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      diagnostics.push(parseError(file, message, where));
    }
    return { ok: false, diagnostics };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    return { ok: false, diagnostics: [parseError(file, `cannot read the document: ${errorText(e)}`, { line: 1, column: 1 })] };
  }
  const locate = (path: PlanPath): SourceLocation | undefined => {
    let node: unknown = doc.contents;
    let best: number | undefined = rangeStart(node);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) break;
        best = rangeStart(pair.key) ?? best;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (item === undefined) break;
        best = rangeStart(item) ?? best;
        node = item;
      } else {
        break;
      }
    }
    if (best === undefined) return undefined;
    const { line, col } = lineCounter.linePos(best);
    return { file, line, column: col };
  };
  return { ok: true, source: { file, text, value, locate, lineText } };
}

/** Fills in `location` (and related locations) of each diagnostic from the source. */
export function locateAll(ds: Diagnostic[], source: PlanSource | undefined): Diagnostic[] {
  if (!source) return ds;
  for (const d of ds) {
    if (!d.location) {
      const loc = source.locate(d.path);
      if (loc) d.location = loc;
    }
    for (const r of d.related ?? []) {
      if (!r.location) {
        const loc = source.locate(r.path);
        if (loc) r.location = loc;
      }
    }
  }
  return ds;
}

function parseError(file: string, message: string, where: { line: number; column: number }): Diagnostic {
  const d = diag("parse_error", {
    path: [],
    message,
    hint: "Check indentation and quoting near this position; JSON is accepted too.",
  });
  d.location = { file, ...where };
  return d;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}
