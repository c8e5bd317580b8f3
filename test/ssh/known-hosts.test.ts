import { generateKeyPairSync } from "node:crypto";
import { access, constants, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkHostKey,
  entryMatches,
  hostField,
  keyFingerprint,
  KnownHosts,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
} from "../../src/drivers/transports/known-hosts.js";
import { runArgv } from "../../src/drivers/transports/local-transport.js";

/** A fresh ed25519 public key blob in SSH wire format. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const type = Buffer.from("ssh-ed25519");
  const len = (b: Buffer): Buffer => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length);
    return n;
  };
  return Buffer.concat([len(type), type, len(raw), raw]);
}

const keygen = await access("/usr/bin/ssh-keygen", constants.X_OK).then(() => true, () => false);
const line = (hosts: string, blob: Buffer): string => `${hosts} ssh-ed25519 ${blob.toString("base64")}`;

describe("known_hosts", () => {
  const a = ed25519Blob();
  const b = ed25519Blob();
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(`${tmpdir()}/crosshost-kh-`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("names hosts as OpenSSH does: bare on port 22, [host]:port otherwise", () => {
    expect(knownHostsName("192.168.1.71", 22)).toBe("192.168.1.71");
    expect(knownHostsName("Consul-Server-1", 2222)).toBe("[consul-server-1]:2222");
    expect(knownHostsName("[::1]", 22)).toBe("::1");
  });

  it("parses entries with markers and comments, and skips junk lines", () => {
    const text = [
      "# comment",
      "",
      line("h1,h2", a),
      `@revoked ${line("h3", b)}`,
      `@cert-authority *.example ssh-ed25519 ${a.toString("base64")}`,
      "h4 ssh-ed25519 not-base64-of-a-key",
      "h5 ssh-rsa",
      `${line("h6", a)} a comment here`,
    ].join("\n");
    const entries = parseKnownHosts(text, "/f");
    expect(entries.map((e) => [e.line, e.hosts, e.marker ?? ""])).toEqual([
      [3, "h1,h2", ""],
      [4, "h3", "@revoked"],
      [5, "*.example", "@cert-authority"],
      [8, "h6", ""],
    ]);
    expect(keyTypeOf(a)).toBe("ssh-ed25519");
  });

  it("matches patterns: lists, wildcards, negation, ports, case", () => {
    expect(entryMatches({ hosts: "a,192.168.1.71" }, "192.168.1.71")).toBe(true);
    expect(entryMatches({ hosts: "192.168.1.*" }, "192.168.1.72")).toBe(true);
    expect(entryMatches({ hosts: "192.168.1.?" }, "192.168.1.72")).toBe(false);
    expect(entryMatches({ hosts: "192.168.1.*,!192.168.1.73" }, "192.168.1.73")).toBe(false);
    expect(entryMatches({ hosts: "[192.168.1.71]:2222" }, "192.168.1.71")).toBe(false);
    expect(entryMatches({ hosts: "[192.168.1.71]:2222" }, "[192.168.1.71]:2222")).toBe(true);
    expect(entryMatches({ hosts: "Consul-Server-1" }, "consul-server-1")).toBe(true);
    expect(entryMatches({ hosts: "192.168.1.7" }, "192.168.1.71")).toBe(false);
    expect(entryMatches({ hosts: "192.168.1.71" }, "192x168.1.71")).toBe(false);
  });

  it("matches hashed entries, including its own", () => {
    const hashed = hostField("[192.168.1.71]:2222", true);
    expect(hashed).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+$/);
    expect(entryMatches({ hosts: hashed }, "[192.168.1.71]:2222")).toBe(true);
    expect(entryMatches({ hosts: hashed }, "192.168.1.71")).toBe(false);
  });

  it("classifies a key as known, unknown, changed or revoked", () => {
    const entries = parseKnownHosts([line("h1", a), line("h2", b), `@revoked ${line("*", b)}`, line("h3", a), line("h3", b)].join("\n"), "/kh");
    expect(checkHostKey(entries, "h1", a)).toMatchObject({ status: "known", entry: { line: 1 } });
    expect(checkHostKey(entries, "nobody", a)).toEqual({ status: "unknown" });
    const changed = checkHostKey(entries, "h1", ed25519Blob());
    expect(changed.status).toBe("changed");
    expect(changed.status === "changed" && changed.entries.map((e) => `${e.file}:${e.line}`)).toEqual(["/kh:1"]);
    expect(checkHostKey(entries, "h2", b)).toMatchObject({ status: "revoked", entry: { line: 3 } });
    // a host may hold several keys; any of them is fine
    expect(checkHostKey(entries, "h3", a).status).toBe("known");
  });

  it("records unknown keys once, never touching existing lines", async () => {
    const file = `${dir}/record/known_hosts`;
    const kh = new KnownHosts(file);
    const results = await Promise.all([kh.record("h1", a), kh.record("h1", a), kh.record("h2", b)]);
    expect(results.map((r) => r.status)).toEqual(["recorded", "known", "recorded"]);
    expect(await readFile(file, "utf8")).toBe(`${line("h1", a)}\n${line("h2", b)}\n`);
    // a changed key is not recorded
    expect((await kh.record("h1", b)).status).toBe("changed");
    expect((await readFile(file, "utf8")).split("\n").length).toBe(3);
  });

  it("appends after a file that lacks its final newline, and can hash new lines", async () => {
    const file = `${dir}/nonl`;
    await writeFile(file, line("h1", a));
    const kh = new KnownHosts(file, { hashNew: true });
    await kh.record("h2", b);
    const lines = (await readFile(file, "utf8")).split("\n");
    expect(lines[0]).toBe(line("h1", a));
    expect(lines[1]?.startsWith("|1|")).toBe(true);
    expect((await kh.check("h2", b)).status).toBe("known");
  });

  it("reads read-only files too, and writes only its own", async () => {
    const global = `${dir}/global`;
    await writeFile(global, `${line("h9", a)}\n`);
    const kh = new KnownHosts(`${dir}/own`, { readOnlyFiles: [global] });
    expect((await kh.check("h9", a)).status).toBe("known");
    expect((await kh.record("h9", b)).status).toBe("changed");
  });

  it.runIf(keygen)("agrees with ssh-keygen on fingerprints and on hashed names (ssh-keygen -H, -F)", async () => {
    const key = `${dir}/k`;
    expect((await runArgv(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key])).code).toBe(0);
    const pub = (await readFile(`${key}.pub`, "utf8")).trim().split(/\s+/);
    const blob = Buffer.from(pub[1] ?? "", "base64");
    const printed = (await runArgv(["ssh-keygen", "-l", "-E", "sha256", "-f", `${key}.pub`])).stdout.split(/\s+/)[1];
    expect(keyFingerprint(blob)).toBe(printed);

    const file = `${dir}/hashed`;
    await writeFile(file, `192.168.1.71 ${pub[0]} ${pub[1]}\n[192.168.1.72]:2222 ${pub[0]} ${pub[1]}\n`);
    expect((await runArgv(["ssh-keygen", "-q", "-H", "-f", file])).code).toBe(0);
    const kh = new KnownHosts(file);
    expect((await readFile(file, "utf8")).startsWith("|1|")).toBe(true);
    expect((await kh.check("192.168.1.71", blob)).status).toBe("known");
    expect((await kh.check("[192.168.1.72]:2222", blob)).status).toBe("known");
    expect((await kh.check("192.168.1.72", blob)).status).toBe("unknown");
    // and OpenSSH finds the lines we hash
    const ours = `${dir}/ours`;
    await new KnownHosts(ours, { hashNew: true }).record("[10.0.0.5]:2200", blob);
    const found = await runArgv(["ssh-keygen", "-F", "[10.0.0.5]:2200", "-f", ours]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(pub[1]);
  });
});
