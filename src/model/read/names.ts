// Name and value forms the plan accepts. They keep every value that reaches a command line free of
// shell metacharacters, whitespace and option-like leading dashes, before any quoting is applied.

/** Host names: RFC 1123 labels joined by dots. */
export const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const HOST_NAME_HINT = "Use letters, digits, dots and inner dashes, at most 63 characters between dots (an RFC 1123 host name), e.g. consul-server-1.";

/** Docker object names (containers, networks): Docker's own rule [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
export const DOCKER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const DOCKER_NAME_HINT = "Use at most 128 letters, digits, '_', '.' and '-', starting with a letter or digit (Docker's rule for names).";

/**
 * Container names (Consul agents are containers too): Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+, so at least two
 * characters ("Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", measured in the lab).
 */
export const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,127}$/;
export const CONTAINER_NAME_HINT = "Use 2 to 128 characters: letters, digits, '_', '.' and '-', starting with a letter or digit (Docker's rule for container names).";

/** Linux interface names: at most 15 characters, no '/', no whitespace. */
export const NIC_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
export const NIC_NAME_HINT = "Use the kernel's interface name (at most 15 letters, digits, '_', '.', '-'), e.g. ens34 or eth0.10.";

/** Image references: registry/repo:tag@digest, lower case. */
export const IMAGE_REF = /^[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9._-]{1,128})?(?:@sha256:[a-f0-9]{64})?$/;
export const IMAGE_REF_HINT = "Write an image reference such as nginx:alpine or busybox:1.36.";

export const ABS_PATH = /^\/[A-Za-z0-9._/-]*$/;
export const ABS_PATH_HINT = "Write an absolute path of letters, digits, '.', '_', '-' and '/'.";

/** Go durations as Consul reads them (time.ParseDuration): 10s, 500ms, 1m, 1h30m, 1.5s. */
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = "([0-9]+(?:\\.[0-9]+)?)(ns|us|µs|ms|s|m|h)";
export const DURATION = new RegExp(`^(?:${DURATION_PART})+$`);
export const DURATION_HINT = "Write a Go duration such as 10s, 500ms, 1m or 1h30m.";

/** A DURATION in milliseconds; undefined when it is not one. */
export function durationMs(d: string): number | undefined {
  if (!DURATION.test(d)) return undefined;
  let ms = 0;
  for (const m of d.matchAll(new RegExp(DURATION_PART, "g"))) ms += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
  return ms;
}

export const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;

/** Free text that ends up on a command line (labels, tags, commands): printable, one line. */
export const SAFE_TEXT = /^[^\u0000-\u001f\u007f]*$/;
export const SAFE_TEXT_HINT = "Use printable characters on one line.";

export const URL_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;

export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
export const ENV_NAME_HINT = "Name an environment variable: upper-case letters, digits and '_'.";

export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
