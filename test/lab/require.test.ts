// CI sets CROSSHOST_REQUIRE_LAB=1: there, lab tests must run, not skip; this test fails when they would.
import { describe, expect, it } from "vitest";
import { detection, labOk } from "./lab-helpers.js";

describe("lab requirement", () => {
  it.runIf(process.env.CROSSHOST_REQUIRE_LAB === "1")("this machine can run the namespace lab (required in CI)", () => {
    expect(labOk, `lab tests would be skipped: ${detection && !detection.ok ? detection.reasons.join("; ") : "CROSSHOST_LAB=0"}`).toBe(true);
  });
});
