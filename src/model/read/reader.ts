// Typed reading of untrusted plan data. Every problem becomes a diagnostic; nothing throws; a field
// that cannot be read comes back undefined so that the caller can go on and find more problems.
import { diag, didYouMean, safeText, type Diagnostic, type PlanPath } from "../diagnostics.js";
import { parseCidr, parseIp, unusableRange, type Cidr, type Ip } from "../ip.js";

export type Raw = Record<string, unknown>;

export class Reader {
  readonly diagnostics: Diagnostic[] = [];

  report(d: Diagnostic): void {
    this.diagnostics.push(d);
  }

  invalid(path: PlanPath, message: string, hint: string): undefined {
    this.report(diag("invalid_value", { path, message, hint }));
    return undefined;
  }

  /** Reads a mapping with a closed set of keys; unknown keys are reported with a did-you-mean. */
  object(value: unknown, path: PlanPath, what: string, keys: readonly string[]): Obj | undefined {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return this.invalid(path, `${what} must be a mapping, not ${describe(value)}`, `Write ${what} as key: value pairs.`);
    }
    const raw = value as Raw;
    const known = keySet(keys);
    for (const k in raw) {
      if (!Object.hasOwn(raw, k)) continue;
      if (!known.has(k)) {
        const guess = didYouMean(k, keys);
        this.report(
          diag("unknown_key", {
            path: [...path, k],
            message: `unknown key "${truncate(k)}" in ${what}${guess ? `; did you mean "${guess}"?` : ""}`,
            hint: guess ? `Rename it to "${guess}".` : `Known keys here: ${keys.join(", ")}.`,
          }),
        );
      }
    }
    return new Obj(this, raw, path, what);
  }

  /** Reads a list; a single non-list value is reported. */
  list<T>(value: unknown, path: PlanPath, what: string, each: (item: unknown, path: PlanPath) => T | undefined): T[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.invalid(path, `${what} must be a list, not ${describe(value)}`, `Write ${what} as a YAML list ("- item" lines) or [a, b].`);
      return [];
    }
    const out: T[] = [];
    for (let i = 0; i < value.length; i++) {
      const v = each(value[i], [...path, i]);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
}

// The key lists are module constants: one Set each, built on first use (100k containers read the same list).
const keySets = new WeakMap<readonly string[], ReadonlySet<string>>();
function keySet(keys: readonly string[]): ReadonlySet<string> {
  let s = keySets.get(keys);
  if (!s) keySets.set(keys, (s = new Set(keys)));
  return s;
}

export interface StrOptions {
  required?: boolean;
  pattern?: RegExp;
  patternHint?: string;
  oneOf?: readonly string[];
  /** Accept numbers and booleans as their text (YAML reads 20.10 as a number). */
  coerce?: boolean;
}

export interface NumOptions {
  required?: boolean;
  integer?: boolean;
  min?: number;
  max?: number;
}

export class Obj {
  constructor(
    readonly reader: Reader,
    readonly raw: Raw,
    readonly path: PlanPath,
    readonly what: string,
  ) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  get(key: string): unknown {
    return this.raw[key];
  }

  at(key: string): PlanPath {
    return [...this.path, key];
  }

  /** `what` overrides the mapping's description, e.g. with a name read from it. */
  missing(key: string, hint: string, what = this.what): undefined {
    this.reader.report(diag("missing_field", { path: this.path, message: `${what} has no "${key}"`, hint }));
    return undefined;
  }

  str(key: string, opts: StrOptions = {}): string | undefined {
    let v = this.raw[key];
    if (v === undefined || v === null) return opts.required ? this.missing(key, `Add ${key}: <value>.`) : undefined;
    if (opts.coerce && (typeof v === "number" || typeof v === "boolean")) v = String(v);
    if (typeof v !== "string") return this.reader.invalid(this.at(key), `${key} must be text, not ${describe(v)}`, `Quote the value: ${key}: "…".`);
    if (opts.oneOf && !opts.oneOf.includes(v)) {
      const guess = didYouMean(v, opts.oneOf);
      return this.reader.invalid(
        this.at(key),
        `${key} "${truncate(v)}" is not one of ${opts.oneOf.join(", ")}${guess ? `; did you mean "${guess}"?` : ""}`,
        `Use one of: ${opts.oneOf.join(", ")}.`,
      );
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      return this.reader.invalid(this.at(key), `${key} "${truncate(v)}" is not valid${lengthNote(v)}`, opts.patternHint ?? `It must match ${opts.pattern}.`);
    }
    return v;
  }

  num(key: string, opts: NumOptions = {}): number | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return opts.required ? this.missing(key, `Add ${key}: <number>.`) : undefined;
    if (typeof v !== "number") return this.reader.invalid(this.at(key), `${key} must be a number, not ${describe(v)}`, `Write a plain number.`);
    if (!Number.isFinite(v)) return this.reader.invalid(this.at(key), `${key} must be a finite number, not ${describe(v)}`, `Write a plain number.`);
    if ((opts.integer ?? true) && !Number.isInteger(v)) return this.reader.invalid(this.at(key), `${key} must be a whole number, not ${v}`, `Write a whole number.`);
    if (opts.min !== undefined && v < opts.min) return this.reader.invalid(this.at(key), `${key} ${v} is below ${opts.min}`, `Use a value from ${opts.min}${opts.max !== undefined ? ` to ${opts.max}` : ""}.`);
    if (opts.max !== undefined && v > opts.max) return this.reader.invalid(this.at(key), `${key} ${v} is above ${opts.max}`, `Use a value up to ${opts.max}.`);
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") return this.reader.invalid(this.at(key), `${key} must be true or false, not ${describe(v)}`, `Write ${key}: true or ${key}: false.`);
    return v;
  }

  ip(key: string, opts: { required?: boolean } = {}): Ip | undefined {
    const v = this.str(key, { required: opts.required });
    if (v === undefined) return undefined;
    return ipValue(this.reader, v, this.at(key), key);
  }

  /** A subnet such as 10.20.0.0/16 (`aligned`: the address must be the network address, as Docker requires). */
  /** A subnet; `addresses`: one Docker hands out addresses from (see cidrValue). */
  cidr(key: string, opts: { required?: boolean; aligned?: boolean; addresses?: boolean } = {}): Cidr | undefined {
    const v = this.str(key, { required: opts.required });
    if (v === undefined) return undefined;
    return cidrValue(this.reader, v, this.at(key), key, opts.aligned ?? true, opts.addresses);
  }

  list<T>(key: string, what: string, each: (item: unknown, path: PlanPath) => T | undefined): T[] {
    return this.reader.list(this.raw[key], this.at(key), what, each);
  }

  strList(key: string, opts: StrOptions = {}): string[] {
    return this.list(key, key, (item, path) => {
      let v = item;
      if (opts.coerce && (typeof v === "number" || typeof v === "boolean")) v = String(v);
      if (typeof v !== "string") return this.reader.invalid(path, `each entry of ${key} must be text, not ${describe(v)}`, `Quote the entry.`);
      if (opts.pattern && !opts.pattern.test(v)) return this.reader.invalid(path, `"${truncate(v)}" is not valid in ${key}${lengthNote(v)}`, opts.patternHint ?? `It must match ${opts.pattern}.`);
      return v;
    });
  }

  object(key: string, what: string, keys: readonly string[]): Obj | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    return this.reader.object(v, this.at(key), what, keys);
  }
}

export function ipValue(reader: Reader, v: string, path: PlanPath, key: string): Ip | undefined {
  const ip = parseIp(v);
  if (ip === undefined) {
    const hint = v.includes("/") ? `Write the address without a prefix length: ${v.split("/")[0]}.` : `Write an IPv4 address such as 192.168.1.71.`;
    return reader.invalid(path, `${key} "${truncate(v)}" is not an IPv4 address`, hint);
  }
  return ip;
}

/** `addresses`: Docker hands out addresses from the subnet, so it must hold ordinary unicast ones. */
export function cidrValue(reader: Reader, v: string, path: PlanPath, key: string, aligned: boolean, addresses = false): Cidr | undefined {
  const parsed = parseCidr(v);
  if (!parsed) {
    const hint = parseIp(v) !== undefined ? `Add the prefix length, e.g. ${v}/24.` : `Write a subnet such as 10.20.0.0/16.`;
    return reader.invalid(path, `${key} "${truncate(v)}" is not an IPv4 subnet`, hint);
  }
  if (aligned && !parsed.aligned) {
    return reader.invalid(path, `${key} ${v} has host bits set`, `Docker wants the network address: ${parsed.cidr.text}.`);
  }
  const bad = addresses ? unusableRange(parsed.cidr) : undefined;
  if (bad !== undefined) return reader.invalid(path, `${key} ${parsed.cidr.text} overlaps ${bad}: no container or host can use addresses from there`, "Use a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.");
  return parsed.cidr;
}

/** Like Obj.cidr, but for an interface address "192.168.1.71/24": keeps the host address. */
export function interfaceAddress(reader: Reader, v: unknown, path: PlanPath, key: string): { ip: Ip; cidr: Cidr } | undefined {
  if (typeof v !== "string") return reader.invalid(path, `${key} must be text such as 192.168.1.71/24, not ${describe(v)}`, `Write address/prefix.`);
  const parsed = parseCidr(v);
  if (!parsed) {
    const hint = parseIp(v) !== undefined ? `Add the prefix length of the LAN, e.g. ${v}/24.` : `Write address/prefix such as 192.168.1.71/24.`;
    return reader.invalid(path, `${key} "${truncate(v)}" is not an IPv4 address with a prefix length`, hint);
  }
  return { ip: parsed.ip, cidr: parsed.cidr };
}

/** A value as a message names it: its kind, and the value itself when it is short text or a number. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (v instanceof Date) return "a timestamp";
  if (v instanceof Uint8Array) return "binary data";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `text "${truncate(v)}"`;
  if (typeof v === "number" && Number.isNaN(v)) return "not-a-number (.nan)";
  if (typeof v === "number" && !Number.isFinite(v)) return `${v < 0 ? "minus " : ""}infinity (${v < 0 ? "-" : ""}.inf, or a number too large to hold)`;
  return `${typeof v} ${String(v)}`;
}

/** At most n characters of s, printable on one line (control and invisible characters escaped). */
/** " (N characters)" for a value truncate() cuts, so that a name that is only too long says so. */
function lengthNote(s: string, n = 40): string {
  return s.length > n ? ` (${s.length} characters)` : "";
}

export function truncate(s: string, n = 40): string {
  if (s.length <= n) return safeText(s);
  const cut = /[\ud800-\udbff]/.test(s[n - 1]!) ? n - 1 : n; // not half a surrogate pair
  return `${safeText(s.slice(0, cut))}…`;
}
