import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { Duplex } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downFromState, NetnsLab, type StartedNetnsLab } from "../../lab/netns/netns-lab.js";
import { LabSshd, withOperator } from "../../lab/netns/sshd.js";
import { pidsInNetns, processArgv } from "../../lab/netns/sys.js";
import { seedLabSpec } from "../../lab/seed-spec.js";
import type { Dialer } from "../../src/drivers/transports/dial.js";
import { runArgv } from "../../src/drivers/transports/local-transport.js";
import { SshPool } from "../../src/drivers/transports/ssh-pool.js";
import { SshError, SshTransport, type SshLogEvent, type SshTransportOptions } from "../../src/drivers/transports/ssh-transport.js";
import { eventually } from "../lab/lab-helpers.js";
import { gatedTitle, hostileWord, nulJoined, SEED, sshLabGaps } from "./ssh-helpers.js";

const LAB = "t-ssh";
const HOSTS = ["consul-server-1", "consul-server-2", "consul-client-1"] as const;
const ADDR: Record<string, string> = { "consul-server-1": "192.168.1.71", "consul-server-2": "192.168.1.72", "consul-client-1": "192.168.1.73" };
const gaps = await sshLabGaps();

/** Rejection of p as an SshError (fails the test if p resolves). */
async function sshError(p: Promise<unknown>): Promise<SshError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e, "expected an SshError").toBeInstanceOf(SshError);
  return e as SshError;
}

describe.runIf(gaps.length === 0).sequential(gatedTitle("SshTransport against real sshd in a 3-host netns lab", gaps), () => {
  const netnsLab = new NetnsLab();
  let lab: StartedNetnsLab;
  let sshd: LabSshd;
  let tmp: string;
  const events: SshLogEvent[] = [];
  const opened: { close(): Promise<void> }[] = [];

  const open = (host: string, extra: Partial<SshTransportOptions> = {}): SshTransport => {
    const t = new SshTransport({ host, target: extra.target ?? sshd.target(host), knownHosts: sshd.knownHostsFile, dial: sshd.dialer, logger: (e) => events.push(e), ...extra });
    opened.push(t);
    return t;
  };

  beforeAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB)); // why: a previous run that died must not block this one
    lab = await netnsLab.up(withOperator(seedLabSpec(LAB)));
    sshd = await LabSshd.start(lab);
    tmp = await mkdtemp(`${tmpdir()}/crosshost-ssh-`);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(opened.map((t) => t.close()));
    await sshd?.stop();
    await downFromState(netnsLab.stateFileOf(LAB));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 60_000);

  it("runs commands through SSH on each host: hostname is the plan's name, docker reaches that host's engine", async () => {
    expect(sshd.hosts).toEqual([...HOSTS]);
    for (const host of HOSTS) {
      const t = open(host);
      expect(t.describe).toBe(`ssh root@${ADDR[host]}:22`);
      expect(await t.exec(["hostname"])).toEqual({ code: 0, stdout: `${host}\n`, stderr: "" });
      const info = await t.exec(["docker", "info", "--format", "{{.Name}} {{.ServerVersion}}"]);
      expect(info.code, info.stderr).toBe(0);
      expect(info.stdout.split(" ")[0]).toBe(host);
    }
  });

  it("returns exit codes, stdout and stderr apart, and never rejects for a failing command", async () => {
    const t = open("consul-server-1");
    expect(await t.exec(["sh", "-c", "printf out; printf err >&2; exit 7"])).toEqual({ code: 7, stdout: "out", stderr: "err" });
    const missing = await t.exec(["crosshost-no-such-command", "x"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/crosshost-no-such-command.*not found/);
    expect((await t.exec(["sh", "-c", "kill -TERM $$"])).code).toBe(128 + 15);
    const docker = await t.exec(["docker", "network", "inspect", "crosshost-no-such-network"]);
    expect(docker.code).toBe(1);
    expect(docker.stderr).toMatch(/not found/);
  });

  it("feeds stdin (text and bytes) and closes it", async () => {
    const t = open("consul-server-2");
    expect((await t.exec(["cat"], { stdin: "hello\nworld" })).stdout).toBe("hello\nworld");
    const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
    expect((await t.exec(["wc", "-c"], { stdin: bytes })).stdout.trim()).toBe("100000");
    expect((await t.exec(["sha256sum"], { stdin: bytes })).stdout.split(" ")[0]).toBe(
      (await runArgv(["sha256sum"], { stdin: bytes })).stdout.split(" ")[0],
    );
    expect(await t.exec(["cat"], { timeoutMs: 5_000 })).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("passes env per command as literal words and logs only the names", async () => {
    const secret = "s3cr3t $(touch /tmp/crosshost-pwned) `id` 'q' \"d\" ;|&\nline2";
    const t = open("consul-server-2", { env: { CROSSHOST_BASE: "base" } });
    const r = await t.exec(["sh", "-c", 'printf "%s|%s" "$CROSSHOST_BASE" "$CROSSHOST_SECRET"'], { env: { CROSSHOST_SECRET: secret } });
    expect(r).toEqual({ code: 0, stdout: `base|${secret}`, stderr: "" });
    const logged = events.filter((e) => e.type === "command" && e.host === "consul-server-2" && e.env.includes("CROSSHOST_SECRET"));
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain("s3cr3t");
    expect((await lab.transport("consul-server-2").exec(["test", "-e", "/tmp/crosshost-pwned"])).code).toBe(1);
  });

  it("times out a command with 124, kills it on the host, and keeps the connection usable", async () => {
    const host = "consul-client-1";
    const t = open(host);
    await t.exec(["true"]);
    const t0 = Date.now();
    const r = await t.exec(["sh", "-c", "echo started; exec sleep 1234"], { timeoutMs: 400 });
    expect(r.code).toBe(124);
    expect(r.stdout).toBe("started\n");
    expect(Date.now() - t0).toBeLessThan(2_000);
    const sleeping = async (): Promise<number[]> => {
      const pids = await pidsInNetns(`/run/netns/${lab.netnsOf(host)}`);
      const argvs = await Promise.all(pids.map(processArgv));
      return pids.filter((_, i) => argvs[i]?.join(" ") === "sleep 1234");
    };
    expect(await eventually(async () => (await sleeping()).length === 0, 3_000)).toBe(true);
    expect((await t.exec(["echo", "still here"])).stdout).toBe("still here\n");
    expect(t.connectCount).toBe(1);
  });

  it("uses one connection for many commands, sequential and parallel (counted by sshd)", async () => {
    const host = "consul-server-2";
    const before = await sshd.acceptedConnections(host);
    const t = open(host, { maxSessions: 4 });
    for (let i = 0; i < 10; i++) expect((await t.exec(["echo", String(i)])).stdout).toBe(`${i}\n`);
    const par = await Promise.all(Array.from({ length: 30 }, (_, i) => t.exec(["sh", "-c", `sleep 0.0${i % 10}; echo ${i}`])));
    expect(par.map((r) => r.stdout)).toEqual(Array.from({ length: 30 }, (_, i) => `${i}\n`));
    expect(t.connectCount).toBe(1);
    expect((await sshd.acceptedConnections(host)) - before).toBe(1);
  });

  it("reconnects once when the connection dropped, also when the drop is not noticed yet", async () => {
    const host = "consul-client-1";
    const before = await sshd.acceptedConnections(host);
    const mine: SshLogEvent[] = [];
    const t = open(host, { logger: (e) => mine.push(e) });
    expect((await t.exec(["hostname"])).stdout).toBe(`${host}\n`);
    expect(await sshd.dropConnections(host)).toBeGreaterThan(0);
    expect(await eventually(async () => !t.connected, 3_000, 20)).toBe(true);
    expect((await t.exec(["hostname"])).stdout).toBe(`${host}\n`);
    // second drop, and the next command right away
    await sshd.dropConnections(host);
    expect((await t.exec(["hostname"])).stdout).toBe(`${host}\n`);
    expect(t.connectCount).toBe(3);
    expect((await sshd.acceptedConnections(host)) - before).toBe(3);
    expect(mine.filter((e) => e.type === "connected").map((e) => e.type === "connected" && e.reconnect)).toEqual([false, true, true]);
    expect(mine.filter((e) => e.type === "disconnected")).toHaveLength(2);
  });

  it("opens hosts in parallel with a concurrency limit, runs work on each, and closes them all", async () => {
    let inFlight = 0;
    let most = 0;
    // a dialer that holds every connect 150 ms, so overlapping connects are visible
    const slowDial: Dialer = async (a, p, ms): Promise<Duplex> => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 150));
        return await sshd.dialer(a, p, ms);
      } finally {
        inFlight--;
      }
    };
    const pool = new SshPool({ concurrency: 2, knownHosts: sshd.knownHostsFile, dial: slowDial });
    opened.push(pool);
    const t0 = Date.now();
    const outcomes = await pool.open(sshd.sshHosts());
    expect(outcomes.map((o) => [o.host, o.ok])).toEqual(HOSTS.map((h) => [h, true]));
    expect(most).toBe(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300); // two rounds of 150 ms

    let running = 0;
    let peak = 0;
    const names = await pool.run(async (t) => {
      running++;
      peak = Math.max(peak, running);
      const r = await t.exec(["sh", "-c", "sleep 0.3; hostname"]);
      running--;
      return r.stdout.trim();
    });
    expect(names.map((o) => o.ok && o.value)).toEqual([...HOSTS]);
    expect(peak).toBe(2);

    const transports = [...pool.transports.values()];
    await pool.close();
    await pool.close();
    for (const t of transports) await expect(t.exec(["true"])).rejects.toMatchObject({ kind: "closed" });
  });

  it("reports per host, as values, which hosts could not be opened", async () => {
    const pool = new SshPool({ concurrency: 3, knownHosts: sshd.knownHostsFile, dial: sshd.dialer, connectTimeoutMs: 3_000 });
    opened.push(pool);
    const outcomes = await pool.open([
      ...sshd.sshHosts(["consul-server-1"]),
      { host: "ghost", target: { ...sshd.target("consul-server-1"), port: 2222 } },
    ]);
    expect(outcomes[0]?.ok).toBe(true);
    const ghost = outcomes[1];
    expect(ghost?.ok).toBe(false);
    expect(ghost && !ghost.ok && ghost.error.message).toBe("ghost (192.168.1.71:2222): connection refused (is sshd running and listening on port 2222?)");
    await pool.close();
  });

  it("refuses an unknown host key in strict mode, naming host, address and the SHA256 fingerprint", async () => {
    const host = "consul-server-1";
    const file = `${tmp}/empty_known_hosts`;
    await writeFile(file, "");
    const before = await sshd.acceptedConnections(host);
    const e = await sshError(open(host, { knownHosts: file }).exec(["true"]));
    expect(e.kind).toBe("host-key-unknown");
    const fp = await sshd.hostKeyFingerprint(host);
    expect(e.message).toContain(`${host} (192.168.1.71:22): host key unknown: the server offered ED25519 key ${fp}`);
    expect(e.message).toContain(file);
    expect(await readFile(file, "utf8")).toBe("");
    expect(await sshd.acceptedConnections(host)).toBe(before);
  });

  it("accept-new records an unknown key, which strict mode then accepts; hashed known_hosts work too", async () => {
    const host = "consul-server-2";
    const file = `${tmp}/accept_new_known_hosts`;
    const mine: SshLogEvent[] = [];
    expect((await open(host, { knownHosts: file, acceptNew: true, logger: (e) => mine.push(e) }).exec(["hostname"])).stdout).toBe(`${host}\n`);
    expect(await readFile(file, "utf8")).toBe(`192.168.1.72 ${await sshd.hostPublicKey(host)}\n`);
    expect(mine.find((e) => e.type === "host-key-recorded")).toMatchObject({ host, file, hostKey: `ED25519 key ${await sshd.hostKeyFingerprint(host)}` });
    expect((await open(host, { knownHosts: file }).exec(["true"])).code).toBe(0);
    // OpenSSH agrees with what we wrote
    expect((await runArgv(["ssh-keygen", "-F", "192.168.1.72", "-f", file])).code).toBe(0);

    const hashed = `${tmp}/hashed_known_hosts`;
    await sshd.writeKnownHosts(hashed, { hashed: true });
    expect((await readFile(hashed, "utf8")).startsWith("|1|")).toBe(true);
    for (const h of HOSTS) expect((await open(h, { knownHosts: hashed }).exec(["hostname"])).stdout).toBe(`${h}\n`);
  });

  it("refuses a key the server does not accept, saying which key was tried", async () => {
    const stranger = await sshd.generateClientKey("stranger_ed25519", { authorize: false });
    const fp = (await runArgv(["ssh-keygen", "-l", "-E", "sha256", "-f", `${stranger}.pub`])).stdout.split(/\s+/)[1];
    const e = await sshError(open("consul-server-1", { target: sshd.target("consul-server-1", { keyFile: stranger }) }).exec(["true"]));
    expect(e.kind).toBe("auth");
    expect(e.message).toBe(
      `consul-server-1 (192.168.1.71:22): authentication failed for user root (tried: key ${stranger} (ED25519 ${fp})); is the public key in that user's authorized_keys?`,
    );
  });

  it("uses a passphrase-protected key with the passphrase from the variable the plan names, and never logs it", async () => {
    const pass = "correct horse 'battery' $(staple)";
    const key = await sshd.generateClientKey("pass_ed25519", { passphrase: pass });
    const target = sshd.target("consul-server-1", { keyFile: key, passphraseEnv: "CROSSHOST_TEST_PASS" });
    const mine: SshLogEvent[] = [];
    const t = open("consul-server-1", { target, environment: { CROSSHOST_TEST_PASS: pass }, logger: (e) => mine.push(e), redact: ["battery"] });
    expect((await t.exec(["echo", "battery", pass])).code).toBe(0);
    expect(JSON.stringify(mine)).not.toMatch(/battery|staple/);
    expect(mine.find((e) => e.type === "command")).toMatchObject({ argv: ["echo", "***", "***"] });

    const wrong = await sshError(open("consul-server-1", { target, environment: { CROSSHOST_TEST_PASS: "nope" } }).exec(["true"]));
    expect(wrong).toMatchObject({ kind: "config" });
    expect(wrong.message).toBe(`consul-server-1 (192.168.1.71:22): key file ${key} cannot be decrypted with the passphrase from $CROSSHOST_TEST_PASS (wrong passphrase?)`);
    const unset = await sshError(open("consul-server-1", { target, environment: {} }).exec(["true"]));
    expect(unset.message).toMatch(/passphrase_env names the environment variable CROSSHOST_TEST_PASS, which is not set/);
    const noPass = await sshError(open("consul-server-1", { target: { ...target, passphraseEnv: undefined } }).exec(["true"]));
    expect(noPass.message).toMatch(/key file .* is encrypted, and no passphrase_env is set for it/);
  });

  it("authenticates through an SSH agent (SSH_AUTH_SOCK)", async () => {
    const sock = `${tmp}/agent.sock`;
    const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      expect(await eventually(async () => (await runArgv(["ssh-add", "-l"], { env: { SSH_AUTH_SOCK: sock } })).code === 1, 5_000, 50)).toBe(true);
      expect((await runArgv(["ssh-add", sshd.clientKey], { env: { SSH_AUTH_SOCK: sock } })).code).toBe(0);
      const target = sshd.target("consul-client-1", { keyFile: undefined, agent: true });
      const t = open("consul-client-1", { target, environment: { SSH_AUTH_SOCK: sock } });
      expect((await t.exec(["hostname"])).stdout).toBe("consul-client-1\n");
      await t.close();
    } finally {
      agent.kill("SIGTERM");
    }
  });

  it("reaches a host behind a jump host (forwardOut), and a pool shares the jump host's connection", async () => {
    await lab.blockPort("operator", "consul-server-2", "tcp", 22);
    try {
      const direct = await sshError(open("consul-server-2", { connectTimeoutMs: 1_500 }).exec(["true"]));
      expect(direct.message).toBe("consul-server-2 (192.168.1.72:22): timed out after 1.5 s (no answer to the TCP connect)");

      const t = open("consul-server-2", { target: sshd.target("consul-server-2", { jump: "192.168.1.71" }) });
      expect(t.describe).toBe("ssh root@192.168.1.72:22 via 192.168.1.71:22");
      expect((await t.exec(["hostname"])).stdout).toBe("consul-server-2\n");
      await t.close();

      const before = await Promise.all(HOSTS.map((h) => sshd.acceptedConnections(h)));
      const pool = new SshPool({ knownHosts: sshd.knownHostsFile, dial: sshd.dialer });
      opened.push(pool);
      const outcomes = await pool.open([
        ...sshd.sshHosts(["consul-server-1"]),
        { host: "consul-server-2", target: sshd.target("consul-server-2", { jump: "consul-server-1" }) },
        { host: "consul-client-1", target: sshd.target("consul-client-1", { jump: "consul-server-1" }) },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
      const names = await pool.run(async (x) => (await x.exec(["hostname"])).stdout.trim());
      expect(names.map((o) => o.ok && o.value)).toEqual([...HOSTS]);
      const after = await Promise.all(HOSTS.map((h) => sshd.acceptedConnections(h)));
      expect(after.map((n, i) => n - (before[i] ?? 0))).toEqual([1, 1, 1]);
      await pool.close();

      const unreachable = await sshError(
        open("ghost", { target: { ...sshd.target("consul-server-1"), address: "192.168.1.72", port: 2222, jump: "192.168.1.71" } }).exec(["true"]),
      );
      expect(unreachable.message).toBe("ghost (192.168.1.72:2222 via 192.168.1.71:22): connection refused (is sshd running and listening on port 2222?)");

      // the jump host's key is checked too
      const onlyTarget = `${tmp}/only_target_known_hosts`;
      await sshd.writeKnownHosts(onlyTarget, { hosts: ["consul-server-2"] });
      const jumpKey = await sshError(open("consul-server-2", { knownHosts: onlyTarget, target: sshd.target("consul-server-2", { jump: "192.168.1.71" }) }).exec(["true"]));
      expect(jumpKey.kind).toBe("host-key-unknown");
      expect(jumpKey.message).toMatch(
        /^consul-server-2 \(192\.168\.1\.72:22 via 192\.168\.1\.71:22\): the jump host failed: jump host 192\.168\.1\.71 \(192\.168\.1\.71:22\): host key unknown: /,
      );
    } finally {
      await lab.unblockPort("operator", "consul-server-2", "tcp", 22);
    }
  });

  describe(`hostile words arrive byte-for-byte over real SSH (fast-check seed ${SEED})`, () => {
    it("printf '%s\\0' over SSH echoes every word unchanged: nothing is interpreted by a shell", async () => {
      const t = open("consul-server-1");
      await fc.assert(
        fc.asyncProperty(fc.array(hostileWord, { minLength: 1, maxLength: 8 }), hostileWord, async (words, value) => {
          const r = await t.exec(["printf", "%s\\0", ...words]);
          expect(r.code, r.stderr).toBe(0);
          expect(Buffer.from(r.stdout)).toEqual(Buffer.from(nulJoined(words)));
          const e = await t.exec(["sh", "-c", 'printf "%s\\0" "$CROSSHOST_V" "$@"', "sh", ...words], { env: { CROSSHOST_V: value } });
          expect(e.stdout).toBe(nulJoined([value, ...words]));
        }),
        { numRuns: Number(process.env.FC_RUNS ?? 100) },
      );
      expect(t.connectCount).toBe(1);
    });
  });

  it("logs every command per host: argv, exit code and time", async () => {
    const mine: SshLogEvent[] = [];
    const t = open("consul-server-1", { logger: (e) => mine.push(e) });
    await t.exec(["sh", "-c", "exit 3"]);
    await t.exec(["sleep", "5"], { timeoutMs: 100 });
    await t.close();
    const cmds = mine.filter((e) => e.type === "command");
    expect(cmds.map((e) => e.type === "command" && [e.host, e.argv.join(" "), e.code])).toEqual([
      ["consul-server-1", "sh -c exit 3", 3],
      ["consul-server-1", "sleep 5", 124],
    ]);
    for (const e of cmds) expect(e.type === "command" && e.ms).toBeGreaterThanOrEqual(0);
    expect(mine.map((e) => e.type)).toEqual(["connected", "command", "command", "closed"]);
  });

  it("refuses a changed host key even with accept-new, naming the known_hosts line, and writes nothing", async () => {
    const host = "consul-client-1";
    const oldFp = await sshd.hostKeyFingerprint(host);
    const knownBefore = await readFile(sshd.knownHostsFile, "utf8");
    await sshd.regenerateHostKey(host);
    try {
      const newFp = await sshd.hostKeyFingerprint(host);
      expect(newFp).not.toBe(oldFp);
      for (const acceptNew of [false, true]) {
        const e = await sshError(open(host, { acceptNew }).exec(["true"]));
        expect(e.kind).toBe("host-key-changed");
        expect(e.message).toContain(`${host} (192.168.1.73:22): HOST KEY CHANGED: the server offered ED25519 key ${newFp}`);
        expect(e.message).toContain(`${sshd.knownHostsFile}:3 (ED25519 ${oldFp})`);
      }
      expect(await readFile(sshd.knownHostsFile, "utf8")).toBe(knownBefore);
    } finally {
      await sshd.writeKnownHosts(sshd.knownHostsFile);
    }
    expect((await open(host).exec(["hostname"])).stdout).toBe(`${host}\n`);
  });

  it("names an unreachable host clearly, within the connect timeout", async () => {
    const host = "consul-client-1";
    await lab.cutHost(host);
    try {
      const t0 = Date.now();
      const e = await sshError(open(host, { connectTimeoutMs: 2_000 }).exec(["true"]));
      const ms = Date.now() - t0;
      expect(["timeout", "unreachable"]).toContain(e.kind);
      expect(e.message).toMatch(/^consul-client-1 \(192\.168\.1\.73:22\): (timed out after 2 s|no route to host)/);
      expect(ms).toBeLessThan(3_000);
    } finally {
      await lab.restoreHost(host);
    }
  });
});
