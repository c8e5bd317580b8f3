import { access, constants } from "node:fs/promises";
import fc from "fast-check";
import { SSHD_BINARY } from "../../lab/netns/sshd.js";
import { loadSsh2 } from "../../src/drivers/transports/ssh-transport.js";
import { detection } from "../lab/lab-helpers.js";

export const SEED = Number(process.env.FC_SEED ?? 20261203);
fc.configureGlobal({ seed: SEED });

const executable = (p: string): Promise<boolean> => access(p, constants.X_OK).then(() => true, () => false);

/** Why the real-sshd suites cannot run here; empty when they can. */
export async function sshLabGaps(): Promise<string[]> {
  const gaps: string[] = [];
  if (!detection) gaps.push("CROSSHOST_LAB=0");
  else if (!detection.ok) gaps.push(...detection.reasons);
  if (!(await executable(SSHD_BINARY))) gaps.push(`sshd: ${SSHD_BINARY} missing (Debian package openssh-server)`);
  if (!(await executable("/usr/bin/ssh-keygen"))) gaps.push("ssh-keygen: missing (Debian package openssh-client)");
  const ssh2 = await loadSsh2().then(() => undefined, (e: unknown) => (e as Error).message);
  if (ssh2 !== undefined) gaps.push(`ssh2: not importable (${ssh2.split("\n")[0] ?? ""})`);
  return gaps;
}

export function gatedTitle(title: string, gaps: readonly string[]): string {
  return gaps.length === 0 ? title : `${title} (skipped: ${gaps.join("; ")})`;
}

// Words a shell would act on: quotes, substitutions, separators, redirections, globs, expansions,
// comments, escapes, option-like words, control characters and non-ASCII text.
const TOKENS = [
  "'", '"', "''", "\\", "\\'", "$(id)", "`id`", "${HOME}", "$HOME", "$0", "$@", "$$", ";", "|", "||", "&", "&&", "\n", "\r", "\t", " ",
  ">", "<", ">>", "2>&1", "*", "?", "[a-z]", "{a,b}", "~", "~root", "!", "#", "-", "--", "-n", "-e", "--help", "%s", "%%", "\\0", "=",
  "a=b", "é", "日本語", "😀", "\u00a0", "\u202e", "\u0001", "\u007f",
];

/** Strings built to be misread by a shell (no NUL: no command line can carry one). */
export const hostileWord: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.constantFrom(...TOKENS),
  fc.array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ unit: "grapheme", maxLength: 6 })), { maxLength: 6 }).map((parts) => parts.join("")),
).filter((w) => !w.includes("\0"));

/** What `printf '%s\0' words…` prints. */
export function nulJoined(words: readonly string[]): string {
  return words.map((w) => `${w}\0`).join("");
}
