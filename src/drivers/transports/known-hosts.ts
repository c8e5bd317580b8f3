// OpenSSH known_hosts files: parsing, host matching (plain patterns, wildcards, negation, `[host]:port`,
// hashed `|1|salt|hmac` entries, @revoked), host key fingerprints, and appending new keys (accept-new).
import { createHash, createHmac, randomBytes } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface KnownHostEntry {
  /** 1-based line number in its file. */
  readonly line: number;
  readonly file: string;
  readonly marker?: "@revoked" | "@cert-authority";
  /** The host field as written: "host1,host2", "[host]:2222" or "|1|salt|hash". */
  readonly hosts: string;
  readonly keyType: string;
  /** The key blob (wire format), base64 as in the file. */
  readonly keyBase64: string;
}

export type HostKeyCheck =
  | { readonly status: "known"; readonly entry: KnownHostEntry }
  | { readonly status: "unknown" }
  /** The host is known with other keys: the offered key is not one of them. */
  | { readonly status: "changed"; readonly entries: readonly KnownHostEntry[] }
  | { readonly status: "revoked"; readonly entry: KnownHostEntry };

/** "192.168.1.71" for port 22, "[192.168.1.71]:2222" otherwise (as OpenSSH writes them). */
export function knownHostsName(address: string, port: number): string {
  const bare = address.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return port === 22 ? bare : `[${bare}]:${port}`;
}

/** "SHA256:<base64 without padding>" of a key blob, as `ssh-keygen -l` prints it. */
export function keyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named inside a wire-format key blob ("ssh-ed25519"); undefined if the blob is malformed. */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || blob.length < 4 + n) return undefined;
  return blob.subarray(4, 4 + n).toString("latin1");
}

/** "ED25519", "RSA", "ECDSA": the label OpenSSH uses in its messages. */
export function keyTypeLabel(keyType: string): string {
  if (keyType === "ssh-ed25519") return "ED25519";
  if (keyType === "ssh-rsa") return "RSA";
  if (keyType.startsWith("ecdsa-")) return "ECDSA";
  if (keyType === "ssh-dss") return "DSA";
  return keyType;
}

/** Host key algorithms a server may use to present a key of this type. */
export function hostKeyAlgorithmsFor(keyType: string): string[] {
  return keyType === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [keyType];
}

/** Parses known_hosts text; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) return;
    let marker: KnownHostEntry["marker"];
    if (fields[0].startsWith("@")) {
      if (fields[0] !== "@revoked" && fields[0] !== "@cert-authority") return;
      marker = fields[0];
      fields.shift();
    }
    const [hosts, keyType, keyBase64] = fields;
    if (hosts === undefined || keyType === undefined || keyBase64 === undefined) return;
    if (keyTypeOf(Buffer.from(keyBase64, "base64")) !== keyType) return;
    out.push({ line: i + 1, file, hosts, keyType, keyBase64, ...(marker ? { marker } : {}) });
  });
  return out;
}

/** OpenSSH's match_pattern: `*` and `?` wildcards over the whole string. */
function globMatch(name: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s");
  return re.test(name);
}

/** True when the entry's host field names `name` (already in knownHostsName form). */
export function entryMatches(entry: Pick<KnownHostEntry, "hosts">, name: string): boolean {
  const lower = name.toLowerCase();
  if (entry.hosts.startsWith("|1|")) {
    const [, , salt, hash] = entry.hosts.split("|");
    if (salt === undefined || hash === undefined) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(lower).digest("base64") === hash;
  }
  let positive = false;
  for (const p of entry.hosts.split(",")) {
    if (p === "") continue;
    const negated = p.startsWith("!");
    if (globMatch(lower, (negated ? p.slice(1) : p).toLowerCase())) {
      if (negated) return false; // a negated match wins over any positive one
      positive = true;
    }
  }
  return positive;
}

/** The host field for a new line: the name itself, or its `|1|` hash (HashKnownHosts). */
export function hostField(name: string, hashed: boolean): string {
  if (!hashed) return name.toLowerCase();
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name.toLowerCase()).digest("base64")}`;
}

/** Classifies an offered host key against the entries for `name`. */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, blob: Buffer): HostKeyCheck {
  const b64 = blob.toString("base64");
  const mine = entries.filter((e) => entryMatches(e, name));
  const revoked = mine.find((e) => e.marker === "@revoked" && e.keyBase64 === b64);
  if (revoked) return { status: "revoked", entry: revoked };
  // certificate authorities are not supported: their lines neither accept nor refuse a plain host key
  const plain = mine.filter((e) => e.marker === undefined);
  const hit = plain.find((e) => e.keyBase64 === b64);
  if (hit) return { status: "known", entry: hit };
  if (plain.length === 0) return { status: "unknown" };
  // same key type first: that is the line the user has to look at
  const type = keyTypeOf(blob);
  return { status: "changed", entries: [...plain.filter((e) => e.keyType === type), ...plain.filter((e) => e.keyType !== type)] };
}

export type RecordResult = { readonly status: "recorded"; readonly file: string } | Exclude<HostKeyCheck, { status: "unknown" }>;

export interface KnownHostsOptions {
  /** Write new lines hashed (`|1|…`), as OpenSSH's HashKnownHosts yes. Default false. */
  readonly hashNew?: boolean;
  /** Further files that are read but never written (e.g. /etc/ssh/ssh_known_hosts). */
  readonly readOnlyFiles?: readonly string[];
}

// appends to one file are serialized within this process, so parallel accept-new never writes a key twice
const appendChains = new Map<string, Promise<unknown>>();

/** A known_hosts file (plus optional read-only ones), re-read on every check so outside edits count. */
export class KnownHosts {
  readonly file: string;
  readonly #options: KnownHostsOptions;

  constructor(file: string, options: KnownHostsOptions = {}) {
    this.file = file;
    this.#options = options;
  }

  async entries(): Promise<KnownHostEntry[]> {
    const files = [this.file, ...(this.#options.readOnlyFiles ?? [])];
    const texts = await Promise.all(files.map((f) => readFile(f, "utf8").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return "";
      throw e;
    })));
    return texts.flatMap((t, i) => parseKnownHosts(t, files[i] ?? ""));
  }

  async check(name: string, blob: Buffer): Promise<HostKeyCheck> {
    return checkHostKey(await this.entries(), name, blob);
  }

  /** Key types recorded for the host (to ask the server for those first). */
  async knownTypes(name: string): Promise<string[]> {
    const entries = (await this.entries()).filter((e) => e.marker === undefined && entryMatches(e, name));
    return [...new Set(entries.map((e) => e.keyType))];
  }

  /**
   * Appends the key for `name`, unless the host became known meanwhile (then that check is returned).
   * Never replaces or removes a line.
   */
  record(name: string, blob: Buffer): Promise<RecordResult> {
    const prev = appendChains.get(this.file) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(async (): Promise<RecordResult> => {
      const now = await this.check(name, blob);
      if (now.status !== "unknown") return now;
      const type = keyTypeOf(blob);
      if (type === undefined) throw new Error("malformed host key");
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      const existing = await readFile(this.file, "utf8").catch(() => "");
      const sep = existing === "" || existing.endsWith("\n") ? "" : "\n";
      await appendFile(this.file, `${sep}${hostField(name, this.#options.hashNew ?? false)} ${type} ${blob.toString("base64")}\n`, { mode: 0o600 });
      return { status: "recorded", file: this.file };
    });
    appendChains.set(this.file, next);
    return next;
  }
}
