import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/model/diagnostics.js";
import { validateText, validateValue } from "../../src/model/validate.js";
import { buildSoundPlan, planLike, RUNS, SEED, soundPlan, soundShape, type SoundShape } from "./arbitraries.js";

const findings = (ds: readonly Diagnostic[]) => ds.filter((d) => d.severity !== "info");
const codes = (ds: readonly Diagnostic[]) => [...new Set(findings(ds).map((d) => d.code))].sort();

describe(`validator properties (fast-check seed ${SEED}, ${RUNS} runs)`, () => {
  it("never throws and never reports internal_error on arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const res = validateValue(v);
        expect(res.diagnostics.filter((d) => d.code === "internal_error")).toEqual([]);
      }),
    );
  });

  it("never throws on plan-shaped values with arbitrary contents", () => {
    fc.assert(
      fc.property(planLike, (v) => {
        const res = validateValue(v);
        expect(res.diagnostics.filter((d) => d.code === "internal_error")).toEqual([]);
        for (const d of res.diagnostics) {
          expect(typeof d.message).toBe("string");
          expect(d.hint.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it("never throws on arbitrary text, and reports unparsable text as parse_error with a position", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const res = validateText(text, "x.yaml");
        expect(res.diagnostics.filter((d) => d.code === "internal_error")).toEqual([]);
        if (!res.parsed) {
          expect(res.diagnostics.every((d) => d.code === "parse_error" && d.location !== undefined)).toBe(true);
        }
      }),
    );
  });

  it("round-trips: a sound plan written as YAML validates without errors or warnings", () => {
    fc.assert(
      fc.property(soundPlan, ({ plan }) => {
        const res = validateText(stringify(plan), "sound.yaml");
        expect(findings(res.diagnostics)).toEqual([]);
      }),
    );
  });

  // Each mutation breaks exactly one thing; the validator must name exactly that.
  const mutations: { name: string; code: string; applies: (s: SoundShape) => boolean; mutate: (p: Record<string, any>, s: SoundShape) => void }[] = [
    {
      name: "duplicate a macvlan address on another host",
      code: "duplicate_address",
      applies: (s) => s.macvlan && s.hosts >= 2 && s.perHost[0]! > 0 && s.perHost[1]! > 0,
      mutate: (p) => {
        const a = p.containers.find((c: any) => c.host === "h1");
        const b = p.containers.find((c: any) => c.host === "h2");
        b.networks[1].ip = a.networks[1].ip;
      },
    },
    {
      name: "overlap two subnets (a bridge network on the overlay's range)",
      code: "subnet_overlap",
      applies: (s) => s.perHost[0]! > 0,
      mutate: (p) => {
        p.networks.push({ name: "local", driver: "bridge", subnet: "10.50.128.0/24", hosts: ["h1"] });
      },
    },
    {
      name: "change one server's bootstrap_expect",
      code: "consul_expect_conflict",
      applies: (s) => s.servers >= 3,
      mutate: (p, s) => {
        p.consul.agents[1].bootstrap_expect = s.servers - 1;
      },
    },
    {
      name: "drop a firewall flow",
      code: "port_blocked",
      applies: (s) => s.firewall && s.hosts >= 2,
      mutate: (p) => {
        const fw = p.hosts[0].firewall;
        fw.allow = fw.allow.filter((r: any) => !(r.proto === "udp" && r.port === 7946));
      },
    },
  ];

  for (const m of mutations) {
    it(`a single mutation (${m.name}) gives exactly ${m.code}`, () => {
      fc.assert(
        fc.property(soundShape.filter(m.applies), (shape) => {
          const plan = buildSoundPlan(shape);
          m.mutate(plan, shape);
          const res = validateText(stringify(plan), "mutated.yaml");
          expect(codes(res.diagnostics)).toEqual([m.code]);
        }),
      );
    });
  }
});
