import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DindLab, downFromState, type DindProgressStep } from "../../../lab/dind/dind-lab.js";
import { privateEngineProcesses } from "../../../lab/dind/outer-engine.js";
import { readDindLabState } from "../../../lab/dind/state.js";
import { dockerTry } from "../../../lab/dind/docker.js";
import { isRunning, pidsInCgroup } from "../../../lab/netns/sys.js";
import { seedLabSpec } from "../../../lab/seed-spec.js";
import { dindLeftovers, dindOk, dindTitle } from "./dind-helpers.js";

const LAB = "t-dind-crash";
const CHILD = fileURLToPath(new URL("./fixtures/up-child.ts", import.meta.url));
const ROOT_DIR = fileURLToPath(new URL("../../..", import.meta.url));

/** Runs `up` in a child process and SIGKILLs it at the first progress event with the given step. */
function upAndKillAt(step: DindProgressStep): Promise<{ killedAt: string }> {
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

describe.runIf(dindOk).sequential(dindTitle("dind lab: killed mid-up, then teardown from the state file alone"), () => {
  const dindLab = new DindLab();
  const stateFile = dindLab.stateFileOf(LAB);

  afterAll(async () => {
    await downFromState(stateFile);
  }, 120_000);

  it("cleans a lab whose builder was killed after its first node's engine answered", async () => {
    await downFromState(stateFile);
    await upAndKillAt("engine-ready");
    const state = await readDindLabState(stateFile);
    expect(state.containers.length).toBe(3);
    const e = state.engine;
    // why: the point is orphans: an outer engine and nodes that outlived the process that started them
    const orphans = e?.kind === "private" ? [...(await privateEngineProcesses(e)), ...(await pidsInCgroup(e.cgroupParent))] : [];
    if (e?.kind === "private") expect(orphans.length).toBeGreaterThan(0);
    else if (e) expect((await dockerTry(e.dockerHost, ["ps", "-q", "--filter", `name=crosshost-${LAB}-`])).stdout.trim()).not.toBe("");
    const t0 = Date.now();
    const report = await downFromState(stateFile);
    expect(report.found).toBe(true);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await dindLeftovers(state)).toEqual([]);
    for (const pid of orphans) expect(await isRunning(pid)).toBe(false);
  }, 600_000);

  it("cleans a lab whose builder was killed before any node existed", async () => {
    await upAndKillAt("switch");
    const state = await readDindLabState(stateFile);
    expect(state.networks.length).toBe(1);
    await downFromState(stateFile);
    expect(await dindLeftovers(state)).toEqual([]);
  }, 600_000);

  it.runIf(process.getuid?.() === 0)("rolls a failed up back and says what failed, with command and log", async () => {
    const err = await dindLab.up(seedLabSpec(LAB), { engine: "private", engineTimeoutMs: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/host \(outer engine\): dockerd \(pid \d+\) did not answer|host \(outer engine\): dockerd exited/);
    expect(err?.message).toMatch(/command: nsenter --net=\/run\/netns\/crosshost-dind-t-dind-crash -- dockerd /);
    expect(err?.message).toMatch(/log: .*dockerd\.log/);
    expect((await dindLab.status(LAB)).exists).toBe(false);
  }, 60_000);

  it("refuses a spec whose segment members sit in different subnets, before creating anything", async () => {
    const spec = seedLabSpec(LAB);
    const nic = spec.hosts[2]?.nics[0];
    if (nic) nic.address = "192.168.2.73";
    await expect(dindLab.up(spec)).rejects.toThrow(/segment lan: members are in different subnets \(192\.168\.1\.0\/24, 192\.168\.2\.0\/24\)/);
    expect((await dindLab.status(LAB)).exists).toBe(false);
  });
});
