import { describe, expect, it } from "vitest";
import { LocalTransport } from "../../src/drivers/transports/local-transport.js";
import { NetnsTransport } from "../../src/drivers/transports/netns-transport.js";

describe("LocalTransport", () => {
  const t = new LocalTransport();

  it("runs argv without a shell and separates stdout from stderr", async () => {
    const r = await t.exec(["sh", "-c", 'printf "%s" "$1"; printf err >&2; exit 3', "sh", "a b;$(no)"]);
    expect(r).toEqual({ code: 3, stdout: "a b;$(no)", stderr: "err" });
  });

  it("feeds stdin and closes it", async () => {
    expect((await t.exec(["cat"], { stdin: "hello\n" })).stdout).toBe("hello\n");
    expect((await t.exec(["wc", "-c"], { stdin: new Uint8Array([1, 2, 3]) })).stdout.trim()).toBe("3");
    expect((await t.exec(["cat"])).stdout).toBe("");
  });

  it("reports 124 when the timeout kills the command", async () => {
    const t0 = Date.now();
    const r = await t.exec(["sleep", "10"], { timeoutMs: 200 });
    expect(r.code).toBe(124);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it("adds env on top of the transport's and the process's environment", async () => {
    const withEnv = new LocalTransport({ env: { A: "transport", B: "transport" } });
    const r = await withEnv.exec(["sh", "-c", 'echo "$A $B $PATH"'], { env: { B: "command" } });
    expect(r.stdout.startsWith("transport command /")).toBe(true);
  });

  it("maps a missing program to 127 and death by signal to 128+N, without rejecting", async () => {
    expect((await t.exec(["/nonexistent/crosshost-nope"])).code).toBe(127);
    expect((await t.exec(["sh", "-c", "kill -TERM $$"])).code).toBe(128 + 15);
  });

  it("returns when the command exits even if a background child keeps its stdout open", async () => {
    const t0 = Date.now();
    const r = await t.exec(["sh", "-c", "sleep 5 & echo started"], { timeoutMs: 4_000 });
    expect(r).toMatchObject({ code: 0, stdout: "started\n" });
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it("rejects after close, and close is idempotent", async () => {
    const c = new LocalTransport({ host: "h1" });
    await c.close();
    await c.close();
    await expect(c.exec(["true"])).rejects.toThrow(/closed/);
  });
});

describe("NetnsTransport", () => {
  it("runs argv through nsenter into the named netns (a missing netns fails, naming it)", async () => {
    const t = new NetnsTransport({ host: "h", netns: "crosshost-no-such-ns", dockerHost: "unix:///x.sock" });
    expect(t.describe).toBe("netns crosshost-no-such-ns");
    const r = await t.exec(["true"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/crosshost-no-such-ns/);
  });
});
