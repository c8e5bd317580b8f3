import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DindLab, downFromState, type StartedDindLab } from "../../../lab/dind/dind-lab.js";
import { dockerTry } from "../../../lab/dind/docker.js";
import { readDindLabState } from "../../../lab/dind/state.js";
import { pingEngine } from "../../../lab/netns/engine.js";
import { isRunning, signalAll, tryRun, unmountAllUnder, waitExited } from "../../../lab/netns/sys.js";
import { seedLabSpec } from "../../../lab/seed-spec.js";
import { eventually, ping } from "../lab-helpers.js";
import { dindLeftovers, dindOk, dindTitle } from "./dind-helpers.js";

const LAB = "t-dind-machine";
const r = randomBytes(3).toString("hex");
// a stand-in for "the machine's engine" (Docker Desktop, a CI runner's dockerd): reached only through
// DOCKER_HOST, its bridges in a namespace this process does not enter, so switch faults go through helpers
const NS = `crosshost-t-fake-engine-${r}`;
const DIR = `/tmp/crosshost-t-fake-engine-${r}`;
const SOCKET = `${DIR}/docker.sock`;
const isRoot = process.getuid?.() === 0;

describe.runIf(dindOk && isRoot).sequential(dindTitle("dind lab on an existing engine (DOCKER_HOST): privileged tried, helper switch, label teardown"), () => {
  let enginePid: number | undefined;
  let lab: StartedDindLab;
  const progress: string[] = [];
  const dindLab = new DindLab();
  const savedDockerHost = process.env.DOCKER_HOST;

  beforeAll(async () => {
    await downFromState(dindLab.stateFileOf(LAB));
    await mkdir(DIR, { recursive: true });
    await writeFile(`${DIR}/daemon.json`, "{}\n");
    expect((await tryRun(["ip", "netns", "add", NS])).code).toBe(0);
    await tryRun(["ip", "-n", NS, "link", "set", "lo", "up"]);
    const argv = ["--net=/run/netns/" + NS, "--", "dockerd", "--config-file", `${DIR}/daemon.json`, "--data-root", `${DIR}/data`, "--exec-root", `${DIR}/exec`,
      "-H", `unix://${SOCKET}`, "--pidfile", `${DIR}/docker.pid`, "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--bridge=none"];
    const child = spawn("nsenter", argv, { detached: true, stdio: "ignore" });
    child.unref();
    enginePid = child.pid;
    for (let i = 0; i < 300 && !(await pingEngine(SOCKET)); i++) await new Promise((res) => setTimeout(res, 100));
    process.env.DOCKER_HOST = `unix://${SOCKET}`;
    lab = await dindLab.up(seedLabSpec(LAB), { onProgress: (e) => progress.push(`${e.step} ${e.message}`) });
  }, 900_000);

  afterAll(async () => {
    await downFromState(dindLab.stateFileOf(LAB)).catch(() => undefined);
    if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedDockerHost;
    if (enginePid !== undefined) {
      signalAll([enginePid], "SIGTERM");
      signalAll(await waitExited([enginePid], 10_000), "SIGKILL");
    }
    await unmountAllUnder(DIR);
    await tryRun(["ip", "netns", "del", NS]);
    await rm(DIR, { recursive: true, force: true });
  }, 120_000);

  it("uses that engine, says so, and decides privileges by trying", () => {
    expect(lab.engineKind).toBe("machine");
    expect(lab.dockerHost).toBe(`unix://${SOCKET}`);
    expect(progress.some((p) => p.includes(`using the machine's Docker engine at unix://${SOCKET}`))).toBe(true);
    expect(progress.some((p) => /DOCKER_HOST=/.test(p))).toBe(false); // the user's DOCKER_HOST already says it
    expect(lab.switchAccess?.kind).toBe("helper");
    expect(lab.privileges?.mode).toBe("pseudo");
    if (lab.privileges?.mode === "pseudo") expect(lab.privileges.why).toMatch(/privileged mode failed .*apply caps/);
  });

  it("nodes reach each other; switch faults work through the helper container", async () => {
    const t = lab.transport("consul-server-1");
    expect(await ping(t, "192.168.1.72")).toBe(true);
    await lab.setSegmentMtu("lan", 1400);
    expect(await ping(t, "192.168.1.72", { df: true, size: 1450 })).toBe(false);
    expect(await ping(t, "192.168.1.72", { df: true, size: 1300 })).toBe(true);
    await lab.setSegmentMtu("lan", 1500);
    await lab.cutHost("consul-server-2");
    expect(await ping(t, "192.168.1.72")).toBe(false);
    await lab.restoreHost("consul-server-2");
    expect(await eventually(() => ping(t, "192.168.1.72"), 10_000)).toBe(true);
  }, 120_000);

  it("down removes its containers and networks from that engine and nothing else", async () => {
    const state = await readDindLabState(lab.stateFile);
    const userNet = `user-net-${r}`;
    expect((await dockerTry(`unix://${SOCKET}`, ["network", "create", userNet])).code).toBe(0);
    await lab.down();
    expect(await dindLeftovers(state)).toEqual([]);
    expect((await dockerTry(`unix://${SOCKET}`, ["network", "ls", "--format", "{{.Name}}"])).stdout.split("\n").filter(Boolean).sort()).toEqual(["host", "none", userNet]);
    expect((await dockerTry(`unix://${SOCKET}`, ["ps", "-aq"])).stdout.trim()).toBe("");
    expect(enginePid !== undefined && (await isRunning(enginePid))).toBe(true); // not ours to stop
  }, 60_000);
});
