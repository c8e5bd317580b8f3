import { connect } from "node:net";
import type { Duplex } from "node:stream";

/**
 * Opens the byte stream an SSH connection runs over (TCP, a jump host's forwarded channel, a helper
 * process). Resolves only once the stream is connected; rejects with a DialError otherwise, within
 * timeoutMs.
 */
export type Dialer = (address: string, port: number, timeoutMs: number) => Promise<Duplex>;

/** Why a stream could not be opened; `code` is the errno name where there is one. */
export class DialError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DialError";
    this.code = code;
  }
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset",
  ENOTFOUND: "cannot resolve the address",
  EAI_AGAIN: "cannot resolve the address (temporary failure)",
  EADDRNOTAVAIL: "address not available",
};

/** Human text for a connect errno ("connection refused"); the code itself when unknown. */
export function dialErrorText(code: string): string {
  return ERRNO_TEXT[code] ?? code.toLowerCase();
}

/** Plain TCP from this machine's network namespace. */
export const tcpDialer: Dialer = (address, port, timeoutMs) =>
  new Promise<Duplex>((resolve, reject) => {
    const sock = connect({ host: address.replace(/^\[(.*)\]$/, "$1"), port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new DialError("ETIMEDOUT", `timed out after ${seconds(timeoutMs)} (no answer to the TCP connect)`));
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      sock.setNoDelay(true);
      resolve(sock);
    });
    sock.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      const code = e.code ?? "ECONNECT";
      reject(new DialError(code, dialErrorText(code)));
    });
  });

/** "5 s", "0.5 s": durations in messages. */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
