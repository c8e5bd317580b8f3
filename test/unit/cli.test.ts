// The command line as scripts use it: exit codes, --json on stdout (also for errors), no stack traces.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { sourceExcerpt } from "../../src/cli/render-diagnostics.js";

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "", stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const dir = mkdtempSync(join(tmpdir(), "crosshost-cli-"));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
// Valid YAML with an error the validator finds (an unknown host), and no expectations.
const invalid = file("invalid.yaml", "hosts:\n  - { name: h1, nics: [{ name: eth0, address: 10.0.0.1/24 }] }\ncontainers:\n  - { name: c1, host: h9 }\n");

afterEach(() => vi.restoreAllMocks());

describe("exit codes", () => {
  it.each([
    [["validate", "macvlan"], 0],
    [["validate", "seed-swarm-consul"], 1],
    [["simulate", "swarm-consul"], 0],
    [["simulate", "seed-swarm-consul"], 1],
    [["plan", "macvlan"], 0],
    [["plan", "seed-swarm-consul"], 1],
    [["run", "swarm-consul"], 0],
    [["run", "seed-swarm-consul"], 1],
    [["explain", "seed-macvlan", "--from", "box2", "--to", "box1"], 0],
    [["explain", "seed-macvlan", "--from", "host:docker-71", "--to", "box1"], 1],
    [["explain", "subnet_overlap"], 0],
    [["validate", "no-such-plan"], 2],
    [["validate", dir], 2],
    [[], 2],
    [["lab"], 2],
    [["--help"], 0],
    [["frobnicate"], 2],
    [["lab", "up", "macvlan", "--backend", "foo"], 2],
    [["run", "macvlan", "--keep"], 2],
    [["explain", "seed-macvlan", "--from", "box1", "--to", "box2", "--size", "abc"], 2],
    [["explain", "seed-macvlan", "--from", "box1", "--to", "999.1.1.1"], 2],
  ] as [string[], number][])("crosshost %j exits %i", async (argv, code) => {
    const r = await cli(...argv);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/); // no stack trace
  });

  it("the top-level help lists every exit code, 70 included", async () => {
    const r = await cli("--help");
    expect(r.stdout + r.stderr).toContain("Exit codes: 0 ok (warnings allowed), 1 errors found, 2 unreadable input or bad usage, 70 a bug in crosshost: please report it.");
  });

  it("simulate and plan exit 1 on a plan with errors, and say so", async () => {
    for (const cmd of ["simulate", "plan"]) {
      const r = await cli(cmd, invalid);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("The plan has errors");
    }
    const j = JSON.parse((await cli("simulate", invalid, "--json")).stdout) as { ok: boolean; validation: { ok: boolean } };
    expect(j).toMatchObject({ ok: false, validation: { ok: false } });
    // plan --json says why too
    const p = JSON.parse((await cli("plan", invalid, "--json")).stdout) as { ok: boolean; validation: { ok: boolean; diagnostics: { code: string }[] } };
    expect(p).toMatchObject({ ok: false, validation: { ok: false } });
    expect(p.validation.diagnostics.map((d) => d.code)).toContain("unknown_reference");
  });
});

describe("plan", () => {
  it("counts in the singular: 1 step on 1 host", async () => {
    const r = await cli("plan", file("one.yaml", "hosts:\n  - { name: h1, nics: [{ name: eth0, address: 10.0.0.1/24 }] }\ncontainers:\n  - { name: c1, host: h1 }\n"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Plan plan: 1 step on 1 host (");
  });
});

describe("--json errors are JSON on stdout", () => {
  it.each([
    [["explain", "nosuch", "--json"], "not a diagnostic code"],
    [["explain", "seed-macvlan", "--from", "box9", "--to", "box1", "--json"], "--from box9"],
    [["explain", "seed-macvlan", "--from", "box1", "--to", "box2", "--by", "dns", "--json"], "--by dns"],
    [["validate", "no-such-plan", "--json"], "no plan file"],
    [["compare", "macvlan", "--lab-name", "no-such-lab", "--json"], "no lab named no-such-lab"],
    [["lab", "down", "no-such-lab", "--json"], "no lab named no-such-lab"],
    [["simulate", "swarm-consul", "--fault", "cut:consul-server-1,consul-server-2", "--json"], "names more than one host"],
    [["simulate", "swarm-consul", "--fault", "heal:consul-server-1", "--json"], "heal takes nothing after it"],
    [["explain", "EMPTY", "--from", "a", "--to", "b", "--json"], "has no host or container to explain a path between"],
  ] as [string[], string][])("crosshost %j", async (argv, text) => {
    const r = await cli(...argv.map((a) => (a === "EMPTY" ? file("empty.yaml", "# nothing yet\n") : a)));
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { error: { message: string } };
    expect(j.error.message).toContain(text);
  });
});

describe("explain", () => {
  it("takes CONTAINER@NETWORK as a target, as expect: entries do", async () => {
    const r = await cli("explain", "seed-macvlan", "--from", "box2", "--to", "box1@macvlan-test", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, to: "box1", network: "macvlan-test", address: "172.29.0.71" });
  });
  it("suggests host:NAME for a bare host name", async () => {
    const r = await cli("explain", "seed-macvlan", "--from", "docker-71", "--to", "box1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "host:docker-71"');
  });
  it("says the plan has errors when it explains only what could be read", async () => {
    const r = await cli("explain", file("half.yaml", "hosts:\n  - { name: h1, nics: [{ name: eth0, address: 10.0.0.1/24 }] }\ncontainers:\n  - { name: c1, host: h1 }\n  - { name: c2, host: h9 }\n"), "--from", "c1", "--to", "host:h1");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("The plan has errors: this explains only what could be read.");
  });
  it("asks for --from/--to when given a plan", async () => {
    const r = await cli("explain", "seed-macvlan");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is a plan");
  });
});

describe("apply", () => {
  it("refuses hosts without ssh settings before connecting, with file:line", async () => {
    const r = await cli("apply", "seed-macvlan", "--dry-run", "--json");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { diagnostics: { code: string; location: { line: number } | null; message: string }[] };
    expect(j.diagnostics.length).toBe(2);
    for (const d of j.diagnostics) {
      expect(d.code).toBe("missing_field");
      expect(d.message).toContain("no ssh settings");
      expect(d.location?.line).toBeGreaterThan(0);
    }
  });
});

describe("hostile text in findings", () => {
  const nic = "nics: [{ name: eth0, address: 10.0.0.1/24 }]";
  it("shows control characters escaped, in the message and in the source line", async () => {
    const p = file("esc.yaml", `hosts:\n  - { name: "a\\e[31mRED\\e]0;pwned\\a", ${nic} }\n  - { name: "b\tc\u200b", ${nic} }\n`);
    const r = await cli("validate", p);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f]/);
    expect(r.stdout).toContain('name "a\\u001b[31mRED\\u001b]0;pwned\\u0007" is not valid');
    expect(r.stdout).toContain('3 |   - { name: "b\\tc\\u200b"');
    const j = JSON.parse((await cli("validate", p, "--json")).stdout) as { diagnostics: { message: string }[] };
    expect(j.diagnostics[0]!.message).toContain("\\u001b[31m");
  });
  it("shows a window of a 100k-character line, with the caret under the finding", async () => {
    const p = file("long.yaml", `hosts:\n  - { name: a, zzzz: "${"x".repeat(50_000)}", ${nic}, colr: 1, more: "${"y".repeat(50_000)}" }\n`);
    const r = await cli("validate", p);
    const lines = r.stdout.split("\n");
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(200);
    const i = lines.findIndex((l) => l.includes('unknown key "colr"'));
    const [src, caret] = [lines[i + 1]!, lines[i + 2]!];
    expect(src).toMatch(/ \| …x+/);
    expect(src.endsWith("…")).toBe(true);
    expect(src.slice(caret.indexOf("^"))).toMatch(/^colr: 1/);
  });
  it("sourceExcerpt keeps short clean lines and places the caret after escapes", () => {
    expect(sourceExcerpt("  - { name: a }", 5)).toEqual({ text: "  - { name: a }", caret: 4 });
    const e = sourceExcerpt("a\u001bb: 1", 3);
    expect(e).toEqual({ text: "a\\u001bb: 1", caret: 7 });
    const start = sourceExcerpt("k".repeat(1000), 1);
    expect(start.text).toBe(`${"k".repeat(160)}…`);
    expect(start.caret).toBe(0);
    const end = sourceExcerpt("k".repeat(1000), 1001);
    expect(end.text).toBe(`…${"k".repeat(160)}`);
    expect(end.caret).toBe(161);
  });
});
