import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIp, parseIp, parseIpReference } from "../../src/model/ip.js";
import { RUNS, SEED } from "./arbitraries.js";

describe(`IPv4 parsing (fast-check seed ${SEED}, ${RUNS} runs)`, () => {
  it("agrees with ipaddr.js on valid addresses and round-trips", () => {
    fc.assert(fc.property(fc.ipV4(), (text) => {
      expect(parseIp(text)).toBe(parseIpReference(text));
      expect(formatIp(parseIp(text)!)).toBe(text);
    }));
  });
  it("agrees with ipaddr.js on near-misses and noise", () => {
    const part = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom("01", "00", "0x1", "", "-1", " 1", "1 "));
    const near = fc.tuple(part, part, part, part).map((p) => p.join("."));
    fc.assert(fc.property(fc.oneof(near, fc.string({ maxLength: 20 }), fc.ipV4Extended()), (text) => {
      expect(parseIp(text)).toBe(parseIpReference(text));
    }), { numRuns: RUNS * 20 });
  });
});
