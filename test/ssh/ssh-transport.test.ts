import { createServer, type Server, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { runArgv } from "../../src/drivers/transports/local-transport.js";
import { mapLimit } from "../../src/drivers/transports/ssh-pool.js";
import { loadSsh2, parseJump, remoteCommand, SshError, SshTransport, type SshEndpoint, type SshLogEvent } from "../../src/drivers/transports/ssh-transport.js";

const ssh2Ok = await loadSsh2().then(() => true, () => false);
const base: SshEndpoint = { address: "127.0.0.1", port: 22, user: "root", agent: false, sudo: false };

describe("remoteCommand", () => {
  it("quotes every word; adds env and sudo words in front", () => {
    expect(remoteCommand(["docker", "network", "create", "my net"])).toBe("docker network create 'my net'");
    expect(remoteCommand(["ls"], { sudo: true })).toBe("sudo -n -- ls");
    expect(remoteCommand(["printenv", "A"], { env: { A: "x'y $(z)", B: "" } })).toBe(`env -- 'A=x'\\''y $(z)' B= printenv A`);
    expect(remoteCommand(["id"], { sudo: true, env: { A: "1" } })).toBe("sudo -n -- env -- A=1 id");
  });

  it("refuses what no command line can carry", () => {
    expect(() => remoteCommand([])).toThrow(/empty argv/);
    expect(() => remoteCommand([""])).toThrow(/empty argv/);
    expect(() => remoteCommand(["echo", "a\0b"])).toThrow(/NUL/);
    expect(() => remoteCommand(["true"], { env: { "A-B": "1" } })).toThrow(/not a valid name/);
    expect(() => remoteCommand(["true"], { env: { A: "\0" } })).toThrow(/NUL/);
    expect(() => remoteCommand(["X=1"], { env: { A: "1" } })).toThrow(/cannot follow env/);
    expect(() => remoteCommand(["X=1"], { sudo: true })).toThrow(/cannot follow sudo/);
  });

  it("quotes a command word with '=' so the shell runs it instead of taking it as an assignment", async () => {
    expect(remoteCommand(["X=1"])).toBe("'X=1'");
    expect(remoteCommand(["X='1", "a b"])).toBe(`'X='\\''1' 'a b'`);
    const r = await runArgv(["sh", "-c", remoteCommand(["X=1"])]);
    expect(r.code).toBe(127);
  });
});

describe("parseJump", () => {
  const t: SshEndpoint = { ...base, user: "deploy", keyFile: "/k", jump: "x" };
  it("reads [user@]host[:port] and inherits the rest", () => {
    expect(parseJump("bastion", t)).toEqual({ address: "bastion", port: 22, user: "deploy", keyFile: "/k", agent: false, sudo: false });
    expect(parseJump("admin@10.0.0.1:2200", t)).toMatchObject({ address: "10.0.0.1", port: 2200, user: "admin" });
    expect(() => parseJump("a:b:c", t)).toThrow(/not \[user@\]host\[:port\]/);
  });
});

describe("mapLimit", () => {
  it("keeps at most `limit` in flight, keeps order, and settles every item", async () => {
    let inFlight = 0;
    let most = 0;
    const r = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((res) => setTimeout(res, 10 + (n % 3) * 5));
      inFlight--;
      if (n === 4) throw new Error("four");
      return n * 10;
    });
    expect(most).toBe(3);
    expect(r.map((x) => (x.status === "fulfilled" ? x.value : (x.reason as Error).message))).toEqual([10, 20, 30, "four", 50, 60, 70]);
  });
});

/** A loopback TCP server that accepts and never says a word (an SSH handshake that hangs). */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : 0, sockets };
}

describe.runIf(ssh2Ok)(`SshTransport without a server${ssh2Ok ? "" : " (skipped: ssh2 not importable)"}`, () => {
  const make = (target: Partial<SshEndpoint>, extra: Partial<ConstructorParameters<typeof SshTransport>[0]> = {}): SshTransport =>
    new SshTransport({ host: "consul-server-1", target: { ...base, keyFile: "/nonexistent/key", ...target }, knownHosts: "/nonexistent/known_hosts", environment: {}, ...extra });

  const failure = async (t: SshTransport): Promise<SshError> => {
    const e = await t.exec(["true"]).then(() => undefined, (x: unknown) => x);
    await t.close();
    expect(e).toBeInstanceOf(SshError);
    return e as SshError;
  };

  it("names the host and endpoint in every error, with a clear reason and no stack in the message", async () => {
    const e = await failure(make({}));
    expect(e.kind).toBe("config");
    expect(e.message).toBe("consul-server-1 (127.0.0.1:22): key file /nonexistent/key cannot be read (it does not exist)");
  });

  it("reports unset secret variables by name, never asking for the secret in the plan", async () => {
    expect((await failure(make({ passphraseEnv: "KEY_PASS" }))).message).toMatch(/passphrase_env names the environment variable KEY_PASS, which is not set/);
    expect((await failure(make({ keyFile: undefined, passwordEnv: "SSH_PASS" }))).message).toMatch(/password_env names the environment variable SSH_PASS, which is not set/);
    expect((await failure(make({ keyFile: undefined, agent: true }))).message).toMatch(/agent: true, but SSH_AUTH_SOCK is not set/);
  });

  it("reports a refused connection on loopback, naming host and port", async () => {
    const { server, port } = await silentServer();
    await new Promise((r) => server.close(r)); // nothing listens there now
    const e = await failure(make({ keyFile: undefined, passwordEnv: "P", port }, { environment: { P: "pw" } }));
    expect(e.kind).toBe("refused");
    expect(e.message).toBe(`consul-server-1 (127.0.0.1:${port}): connection refused (is sshd running and listening on port ${port}?)`);
  });

  it("times out a handshake that never comes, within the connect timeout", async () => {
    const { server, port, sockets } = await silentServer();
    try {
      const t0 = Date.now();
      const e = await failure(make({ keyFile: undefined, passwordEnv: "P", port }, { environment: { P: "pw" }, connectTimeoutMs: 500 }));
      expect(e.kind).toBe("timeout");
      expect(e.message).toBe(`consul-server-1 (127.0.0.1:${port}): timed out after 0.5 s (during the SSH handshake)`);
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it("rejects after close; close is idempotent; a failing logger changes nothing", async () => {
    const events: SshLogEvent[] = [];
    const t = make({}, { logger: (ev) => {
      events.push(ev);
      throw new Error("logger broke");
    } });
    await t.close();
    await t.close();
    await expect(t.exec(["true"])).rejects.toMatchObject({ kind: "closed", message: "consul-server-1 (127.0.0.1:22): the transport is closed" });
    expect(events.map((e) => e.type)).toEqual(["closed"]);
  });

  it("refuses an argv no command line can carry before connecting", async () => {
    const t = make({});
    await expect(t.exec(["echo", "a\0b"])).rejects.toMatchObject({ kind: "config" });
    await t.close();
  });

  it("reports a malformed jump when connecting, like any other failure", async () => {
    const e = await failure(make({ jump: "a:b:c" }));
    expect(e).toMatchObject({ kind: "config", message: 'consul-server-1 (127.0.0.1:22): jump "a:b:c" is not [user@]host[:port]' });
  });

  it("describes itself with user, endpoint and jump", () => {
    const t = make({ user: "deploy", address: "192.168.1.72", jump: "admin@192.168.1.71" });
    expect(t.describe).toBe("ssh deploy@192.168.1.72:22 via 192.168.1.71:22");
  });
});
