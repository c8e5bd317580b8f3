import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { engineProcesses } from "../../lab/netns/engine.js";
import { downFromState, NetnsLab, type LabProgressStep } from "../../lab/netns/netns-lab.js";
import { readLabState } from "../../lab/netns/state.js";
import { isRunning, netnsNames } from "../../lab/netns/sys.js";
import { seedLabSpec } from "../../lab/seed-spec.js";
import { labOk, labTitle, leftovers } from "./lab-helpers.js";

const LAB = "t-crash";
const CHILD = fileURLToPath(new URL("./fixtures/up-child.ts", import.meta.url));
const ROOT_DIR = fileURLToPath(new URL("../..", import.meta.url));

/** Runs `up` in a child process and SIGKILLs it at the first progress event with the given step. */
function upAndKillAt(step: LabProgressStep): Promise<{ killedAt: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, LAB], { cwd: ROOT_DIR, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let killedAt = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const e = JSON.parse(line) as { step: string; host?: string };
      if (e.step === step && killedAt === "") {
        killedAt = `${e.step} ${e.host ?? ""}`;
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL" && killedAt !== "") resolve({ killedAt });
      else reject(new Error(`child ended with ${signal ?? code} before step ${step}: ${stderr}`));
    });
  });
}

describe.runIf(labOk).sequential(labTitle("netns lab: crash mid-up, then teardown from the state file alone"), () => {
  const netnsLab = new NetnsLab();
  const stateFile = netnsLab.stateFileOf(LAB);

  afterAll(async () => {
    await downFromState(stateFile);
  }, 60_000);

  it("cleans a lab whose builder was killed after its first dockerd answered", async () => {
    await downFromState(stateFile);
    await upAndKillAt("engine-ready");
    const state = await readLabState(stateFile);
    // why: the point is orphans: engines that outlived the process that started them
    const orphans = (await Promise.all(state.layout.hosts.map((h) => engineProcesses(h)))).flat();
    expect(orphans.length).toBeGreaterThan(0);
    const t0 = Date.now();
    const report = await downFromState(stateFile);
    expect(report.found).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await leftovers(state)).toEqual([]);
    for (const pid of orphans) expect(await isRunning(pid)).toBe(false);
  }, 90_000);

  it("rolls a failed up back and says which host, which command and what its log said", async () => {
    const err = await netnsLab.up(seedLabSpec(LAB), { engineTimeoutMs: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/host consul-(server|client)-\d: dockerd \(pid \d+\) did not answer/);
    expect(err?.message).toMatch(/command: nsenter --net=\/run\/netns\/crosshost-t-crash-.* -- dockerd /);
    expect(err?.message).toMatch(/log: .*dockerd\.log/);
    expect((await netnsLab.status(LAB)).exists).toBe(false);
    expect(await netnsNames()).not.toContain("crosshost-t-crash-consul-server-1");
  }, 60_000);

  it("cleans a lab whose builder was killed while it was still wiring hosts (no engine yet)", async () => {
    await upAndKillAt("host");
    const state = await readLabState(stateFile);
    expect(state.netns.length).toBeGreaterThan(0);
    expect(Object.keys(state.enginePids)).toEqual([]);
    await downFromState(stateFile);
    expect(await leftovers(state)).toEqual([]);
  }, 90_000);
});
