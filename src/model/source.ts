// Plan text → plain value, keeping a way back from a plan path to the line and column it came from.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
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
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, merge: true });
  } catch (e) {
    return { ok: false, diagnostics: [tooDeep(e, file, { line: 1, column: 1 }) ?? parseError(file, `cannot parse: ${errorText(e)}`, { line: 1, column: 1 })] };
  }
  const lines = text.split(/\r?\n/);
  const lineText = (n: number) => lines[n - 1] ?? "";
  if (doc.errors.length > 0) {
    const seen = new Set<string>();
    const diagnostics: Diagnostic[] = [];
    let unclosedAt: number | undefined;
    let flowOpen: number | undefined;
    // Where a multi-line implicit key starts: a value whose next line is indented too deep.
    const misindented = new Set(doc.errors.flatMap((e) => {
      if (e.code !== "MULTILINE_IMPLICIT_KEY" || !Array.isArray(e.pos)) return [];
      const nl = text.indexOf("\n", e.pos[0]);
      return nl >= 0 && nl < e.pos[1] ? [e.pos[0]] : [];
    }));
    const at = (offset: number) => {
      const { line, col } = lineCounter.linePos(offset);
      return { line, column: col };
    };
    for (const err of doc.errors) {
      const offset = Array.isArray(err.pos) ? err.pos[0] : undefined;
      const pos = err.linePos?.[0];
      let where = pos ? { line: pos.line, column: pos.col } : offset !== undefined ? at(offset) : { line: 1, column: 1 };
      let message = firstLine(err.message);
      let hint: string | undefined;
      if (err.code === "MULTIPLE_DOCS") {
        message = 'the file holds more than one YAML document: a "---" line starts a second one here';
        hint = "A plan is one document: remove the --- line (merging the parts), or put each plan in its own file.";
      } else if (/Maximum call stack size exceeded/i.test(err.message)) {
        // why: the parser reports this once per level it unwinds; one finding, at the deepest level
        if (seen.has("too deep")) continue;
        seen.add("too deep");
        diagnostics.push(tooDeep(err, file, where)!);
        continue;
      } else if (err.code === "MISSING_CHAR" && /quote/.test(err.message) && offset !== undefined) {
        // why: the parser places it where the text ran out; the quoted scalar it read so far starts at the opening quote
        const open = openQuoteBefore(doc, offset);
        if (open !== undefined) {
          const end = where.line;
          where = at(open);
          const runs = text.slice(offset).trim() === "" ? " (it runs to the end of the file)" : end > where.line ? ` (it runs to line ${end})` : "";
          message = `a quoted value is never closed: its ${err.message.includes("'") ? "'" : '"'} opens here and nothing closes it${runs}`;
          hint = "Add the closing quote at the end of the value.";
          unclosedAt = offset;
        }
      } else if (offset !== undefined && offset === unclosedAt) {
        continue; // a flow collection left open because the quote swallowed its end
      } else if (flowOpen !== undefined) {
        continue; // after a [ or { that never closes, what follows is read inside it: noise, not findings
      } else if (err.code === "BAD_INDENT" && offset !== undefined && /^Flow (sequence|mapping)\b.*end with a ([\]}])/.test(message)) {
        // why: the parser notices where the next block line starts; the mistake is the opening bracket before it
        const close = /end with a ([\]}])/.exec(message)![1]!;
        const open = openFlowAt(doc, offset, close === "]" ? "seq" : "map");
        if (open !== undefined) {
          where = at(open);
          message = `a flow ${close === "]" ? "list" : "mapping"} is never closed: its ${close === "]" ? "[" : "{"} opens here and no ${close} closes it`;
          hint = `Add the closing ${close} at the end of the ${close === "]" ? "list" : "mapping"} (on its own line it must be indented more than the key).`;
          flowOpen = open;
        }
      } else if (err.code === "MULTILINE_IMPLICIT_KEY" && offset !== undefined && misindented.has(offset)) {
        // why: a line indented deeper than the key before it continues that key's value, and YAML then reads the
        // two lines as one key; the line to fix is the deeper one
        const nl = text.indexOf("\n", offset);
        const prev = at(offset).line;
        where = at(nl + 1 + (/^[ \t]*/.exec(text.slice(nl + 1))?.[0].length ?? 0));
        message = `this line is indented deeper than the key on line ${prev}: YAML reads it as part of that value`;
        hint = `Indent it as the key on line ${prev} (or as the key it belongs under).`;
      } else if (err.code === "BLOCK_AS_IMPLICIT_KEY" && offset !== undefined && misindented.has(offset)) {
        continue; // the same mis-indented line, reported once (above)
      }

      // A position at the start of an indented line points at its first character, where the reader looks.
      if (where.column === 1) where = { line: where.line, column: 1 + (/^[ \t]*/.exec(lineText(where.line))?.[0].length ?? 0) };
      const key = `${where.line}:${where.column}:${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      diagnostics.push(parseError(file, message, where, hint));
    }
    return { ok: false, diagnostics };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    return { ok: false, diagnostics: [tooDeep(e, file, { line: 1, column: 1 }) ?? parseError(file, `cannot read the document: ${errorText(e)}`, { line: 1, column: 1 })] };
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

function parseError(file: string, message: string, where: { line: number; column: number }, hint = "Check indentation and quoting near this position; JSON is accepted too."): Diagnostic {
  const d = diag("parse_error", { path: [], message, hint });
  d.location = { file, ...where };
  return d;
}

/** The finding for a stack overflow while reading (lists or mappings nested thousands deep), else undefined. */
function tooDeep(e: unknown, file: string, where: { line: number; column: number }): Diagnostic | undefined {
  if (!(e instanceof Error) || !/Maximum call stack size exceeded/i.test(e.message)) return undefined;
  return parseError(file, "the nesting is too deep to read: lists or mappings inside each other far deeper than a plan needs", where, "A plan nests a few levels deep; look for runaway [ or - near this position.");
}

/** Start of the quoted scalar that runs up to `end` (where the parser found no closing quote). */
function openQuoteBefore(doc: Document.Parsed, end: number): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Scalar(_key, node) {
      const r = node.range;
      if ((node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") && r && r[0] < end && r[1] >= end) {
        found = r[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** Where the flow collection (`[` seq or `{` map) that the parser ran to `end` without a closing bracket opens. */
function openFlowAt(doc: Document.Parsed, end: number, kind: "seq" | "map"): number | undefined {
  let found: number | undefined;
  const take = (node: { flow?: boolean; range?: [number, number, number] | null }) => {
    const r = node.range;
    // innermost: the last one visited that starts before the error and runs up to it
    if (node.flow && r && r[0] < end && r[1] >= end) found = r[0];
  };
  visit(doc, kind === "seq" ? { Seq: (_k, n) => take(n) } : { Map: (_k, n) => take(n) });
  return found;
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
