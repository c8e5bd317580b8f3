import { CODES, type DiagnosticCode, type Severity } from "./codes.js";

export type { DiagnosticCode, Severity } from "./codes.js";

/** A path into the plan document: ["hosts", 2, "nics", 0, "address"]. */
export type PlanPath = readonly (string | number)[];

export interface SourceLocation {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export interface RelatedPlace {
  readonly path: PlanPath;
  readonly message: string;
  location?: SourceLocation;
}

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  /** Where in the plan the finding is; [] for the whole plan. */
  readonly path: PlanPath;
  /** Filled in by locate() when the plan came from a file. */
  location?: SourceLocation;
  /** One line; diag() escapes control and invisible characters (safeText). */
  readonly message: string;
  /** What to change (one line too). */
  readonly hint: string;
  /** Other places involved (the other subnet of an overlap, the first holder of an address). */
  readonly related?: readonly RelatedPlace[];
  /** The host a finding is about, where there is one (used for grouping and by preflight). */
  readonly host?: string;
}

export interface DiagnosticInit {
  path: PlanPath;
  message: string;
  hint: string;
  severity?: Severity;
  related?: RelatedPlace[];
  host?: string;
}

export function diag(code: DiagnosticCode, init: DiagnosticInit): Diagnostic {
  const d: Diagnostic = {
    code,
    severity: init.severity ?? CODES[code].severity,
    path: init.path,
    message: safeText(init.message),
    hint: safeText(init.hint),
    ...(init.related && init.related.length > 0 ? { related: init.related.map((r) => (safeText(r.message) === r.message ? r : { ...r, message: safeText(r.message) })) } : {}),
    ...(init.host !== undefined ? { host: init.host } : {}),
  };
  return d;
}

/** hosts[2].nics[0].address */
/**
 * Appends xs to into. Not into.push(...xs): spreading passes every element as an argument, and V8 throws
 * RangeError past about 100k of them (a plan with 300k broken containers has 300k findings).
 */
export function appendAll<T>(into: T[], xs: readonly T[]): T[] {
  for (const x of xs) into.push(x);
  return into;
}

export function formatPath(path: PlanPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === "" ? "(plan)" : out;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === "error");
}

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Sorts by file position (then path), errors first among equals; drops exact duplicates. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    const key = `${d.code}\u0000${formatPath(d.path)}\u0000${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out.sort((a, b) => {
    const la = a.location, lb = b.location;
    if (la && lb && la.file === lb.file && (la.line !== lb.line || la.column !== lb.column)) {
      return la.line - lb.line || la.column - lb.column;
    }
    if (la && !lb) return -1;
    if (!la && lb) return 1;
    const pa = formatPath(a.path), pb = formatPath(b.path);
    if (pa !== pb) return pa < pb ? -1 : 1;
    return SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
  });
}

export function countBySeverity(ds: readonly Diagnostic[]): Record<Severity, number> {
  const out: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const d of ds) out[d.severity]++;
  return out;
}

/**
 * Edit distance with adjacent transpositions counting 1 (optimal string alignment: "imgae" is 1 from "image"),
 * bounded: returns > max as soon as it is certain.
 */
export function editDistance(a: string, b: string, max = 3): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    // why: a row's minimum never decreases, transpositions included (they cost at least the diagonal before them)
    if (rowMin > max) return max + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The closest candidate within a small edit distance (about one edit per three letters), for "did you mean";
 * failing that, the only candidate that starts with the word ("bind" → bind_addr), for words of 3+ letters.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  const lw = word.toLowerCase();
  const bare = lw.replace(/[-_]/g, "");
  let prefixed: string | undefined;
  let prefixes = 0;
  for (const c of candidates) {
    const lc = c.toLowerCase();
    const d = editDistance(lw, lc, limit);
    if (d <= limit && d < bestD) {
      best = c;
      bestD = d;
    } else if (bestD > 0 && lc.replace(/[-_]/g, "") === bare) {
      best = c;
      bestD = 0;
    }
    if (lw.length >= 3 && lc.length > lw.length && lc.startsWith(lw)) {
      prefixed = c;
      prefixes++;
    }
  }
  return best ?? (prefixes === 1 ? prefixed : undefined);
}

// C0 controls, DEL, C1 controls, zero-width and bidi controls, line/paragraph separators, BOM: they act on a
// terminal (colours, window title, cursor), reorder or hide text, or break a message's line.
const UNSAFE_CHAR = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const UNSAFE_CHARS = new RegExp(UNSAFE_CHAR.source, "g");
const SHORT_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Text safe to print on one terminal line: unsafe characters as JSON-style escapes (\n, \u001b, \u200b). */
export function safeText(s: string): string {
  if (!UNSAFE_CHAR.test(s)) return s;
  return s.replace(UNSAFE_CHARS, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
