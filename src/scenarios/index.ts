// The built-in scenarios: one plan file each, next to this module in the source tree.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ScenarioFile {
  readonly name: string;
  readonly file: string;
  readonly description: string;
}

/** The package root: the nearest directory upwards with crosshost's package.json (works from src/ and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj) && /"name":\s*"crosshost"/.test(readFileSync(pj, "utf8"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find crosshost's package.json above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function scenarioDir(): string {
  return join(packageRoot(), "src", "scenarios");
}

export function listScenarios(): ScenarioFile[] {
  const dir = scenarioDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const text = readFileSync(file, "utf8");
      const description = /^description:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? "";
      return { name: f.replace(/\.yaml$/, ""), file, description };
    });
}

export function findScenario(name: string): ScenarioFile | undefined {
  return listScenarios().find((s) => s.name === name);
}
