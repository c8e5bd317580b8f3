import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { request } from "node:http";
import type { ExecResult } from "../../src/drivers/transport.js";
import { runArgv, TIMEOUT_EXIT_CODE } from "../../src/drivers/transports/local-transport.js";
import { LabError } from "../netns/errors.js";

/** `docker -H <host> args…` as an argv (the docker CLI on this machine talks to the outer engine). */
export function dockerArgv(dockerHost: string, args: readonly string[]): string[] {
  return ["docker", "-H", dockerHost, ...args];
}

/** Runs the docker CLI against the outer engine; throws a LabError naming host, command and stderr on failure. */
export async function dockerMust(
  dockerHost: string,
  args: readonly string[],
  ctx: { host?: string; timeoutMs?: number; stdin?: string } = {},
): Promise<ExecResult> {
  const argv = dockerArgv(dockerHost, args);
  const r = await runArgv(argv, { timeoutMs: ctx.timeoutMs ?? 60_000, stdin: ctx.stdin });
  if (r.code !== 0) {
    throw new LabError(r.code === TIMEOUT_EXIT_CODE ? "docker command timed out" : "docker command failed", {
      host: ctx.host,
      command: argv,
      code: r.code,
      stderr: r.stderr || r.stdout,
    });
  }
  return r;
}

export function dockerTry(dockerHost: string, args: readonly string[], timeoutMs = 60_000): Promise<ExecResult> {
  return runArgv(dockerArgv(dockerHost, args), { timeoutMs });
}

/** Runs argv with a file as its stdin, streamed (image tars are hundreds of MB). Never rejects for a non-zero exit. */
export function runWithFileStdin(argv: readonly string[], file: string, timeoutMs: number): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const child = spawn(cmd ?? "docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => undefined);
    const input = createReadStream(file);
    input.on("error", (e) => {
      err.push(Buffer.from(`reading ${file}: ${e.message}\n`));
      child.stdin.end();
    });
    input.pipe(child.stdin);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout: "", stderr: `${cmd ?? ""}: ${e.message}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? TIMEOUT_EXIT_CODE : (code ?? 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/**
 * GET on the engine API (unix:// or plain tcp://), for probes the CLI has no command for. Resolves the
 * status code, or undefined when the engine did not answer within timeoutMs.
 */
export function engineGet(dockerHost: string, path: string, timeoutMs: number): Promise<number | undefined> {
  let target: { socketPath: string } | { host: string; port: number };
  if (dockerHost.startsWith("unix://")) target = { socketPath: dockerHost.slice("unix://".length) };
  else if (dockerHost.startsWith("tcp://")) {
    const u = new URL(dockerHost.replace(/^tcp:/, "http:"));
    target = { host: u.hostname, port: Number(u.port || 2375) };
  } else return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const req = request({ ...target, path, method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}
