// Writes docs/diagnostics.md from the catalogue (npm run docs); a test keeps the two in step.
import { writeFileSync } from "node:fs";
import { diagnosticsMarkdown } from "../src/cli/explain-code.js";
writeFileSync(new URL("../docs/diagnostics.md", import.meta.url), diagnosticsMarkdown());
console.log("docs/diagnostics.md written");
