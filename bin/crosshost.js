#!/usr/bin/env node
// Runs the compiled CLI (npm install builds it); falls back to the TypeScript sources through tsx in a checkout.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(root, "dist", "src", "cli", "main.js");
let mod;
if (existsSync(built)) {
  mod = await import(pathToFileURL(built).href);
} else {
  await import("tsx/esm");
  mod = await import(pathToFileURL(join(root, "src", "cli", "main.ts")).href);
}
// `crosshost run plan | head`: the reader went away; stop quietly, as other command-line tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}
process.exitCode = await mod.main(process.argv.slice(2));
