import { readFile } from "node:fs/promises";

/** Linux capability names as Docker spells them (without CAP_), by bit number. */
export const CAP_NAMES = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
  "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
  "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
  "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
  "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
  "CHECKPOINT_RESTORE",
] as const;

/**
 * Capabilities the kernel knows but that are missing from a process's bounding set ("self" by default).
 * A privileged container asks for all of them, so runc fails with "unable to apply caps: operation not
 * permitted" when any is missing (lab-notes 0 and 4c: CAP_SYS_RESOURCE on this kind of machine).
 * Undefined when the bounding set cannot be read.
 */
export async function missingBoundingCaps(pid: number | "self" = "self"): Promise<string[] | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const hex = status.match(/^CapBnd:\s*([0-9a-f]+)$/m)?.[1];
    if (hex === undefined) return undefined;
    const bnd = BigInt(`0x${hex}`);
    const lastCap = Number((await readFile("/proc/sys/kernel/cap_last_cap", "utf8").catch(() => "40")).trim());
    const missing: string[] = [];
    for (let bit = 0; bit <= Math.min(lastCap, CAP_NAMES.length - 1); bit++) {
      if ((bnd & (1n << BigInt(bit))) === 0n) missing.push(CAP_NAMES[bit] ?? `CAP_${bit}`);
    }
    return missing;
  } catch {
    return undefined;
  }
}

/** True when AppArmor is enabled on this machine (then the pseudo-privileged recipe also asks for apparmor=unconfined). */
export async function apparmorEnabled(): Promise<boolean> {
  const v = await readFile("/sys/module/apparmor/parameters/enabled", "utf8").catch(() => "N");
  return v.trim() === "Y";
}

/** The error runc gives for a privileged container whose capabilities the engine cannot grant. */
export function isCapsError(message: string): boolean {
  return /apply caps|operation not permitted/i.test(message);
}
