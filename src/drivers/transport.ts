/**
 * A Transport runs commands on one host: the local machine, a lab host (a network namespace or a
 * docker-in-docker node) or a remote host over SSH. The real driver builds every command as an argv
 * array; a Transport never hands a joined string to a shell unless it quotes each word itself.
 */
export interface ExecResult {
  /** Process exit code; 124 when the command timed out (as coreutils `timeout`). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Bytes written to the command's stdin, then closed. */
  readonly stdin?: string | Uint8Array;
  /** Kill the command after this many milliseconds and report code 124. */
  readonly timeoutMs?: number;
  /** Extra environment for this command only. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Transport {
  /** Which host this transport reaches, as the plan names it. */
  readonly host: string;
  /** Short description for logs: "netns node71", "ssh root@192.168.1.71:22". */
  readonly describe: string;
  /** Runs argv[0] with the remaining words as arguments; never rejects for a non-zero exit code. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Releases connections; further exec calls reject. Idempotent. */
  close(): Promise<void>;
}

/** Quotes one word for a POSIX shell: the result is always a single literal word. */
export function shellQuote(word: string): string {
  if (word === "") return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into one shell command line in which every word is literal. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
