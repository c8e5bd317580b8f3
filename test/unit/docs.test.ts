import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { diagnosticsMarkdown } from "../../src/cli/explain-code.js";
import { ALL_CODES, CODES } from "../../src/model/codes.js";

describe("diagnostic reference", () => {
  it("docs/diagnostics.md is generated from the catalogue (run npm run docs after changing a code)", () => {
    expect(readFileSync(new URL("../../docs/diagnostics.md", import.meta.url), "utf8")).toBe(diagnosticsMarkdown());
  });
  it("every code says why, how to fix, and where it comes from", () => {
    for (const code of ALL_CODES) {
      const c = CODES[code];
      expect(c.title.length, code).toBeGreaterThan(10);
      expect(c.why.length, code).toBeGreaterThan(10);
      expect(c.fix.length, code).toBeGreaterThan(5);
      expect(c.source.length, code).toBeGreaterThan(3);
    }
  });
  it("cites only what users can read, and no fix sends the reader back to the same code", () => {
    for (const code of ALL_CODES) {
      const c = CODES[code];
      // why: DESIGN.md, the lab notes and the seed document are internal notes outside the repository
      expect(c.source, code).not.toMatch(/DESIGN\.md|lab-notes|seed walk-through/i);
      expect(c.fix, code).not.toContain(`crosshost explain ${code}`);
    }
  });
});
