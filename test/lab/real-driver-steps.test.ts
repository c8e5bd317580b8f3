// Steps whose "already done" check or argv the simulator cannot catch, applied by the RealDriver to real
// engines in a namespace lab: the ingress MTU the validator asks for, and a container with no command.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUSYBOX_IMAGE } from "../../lab/images.js";
import { downFromState, NetnsLab, type StartedNetnsLab } from "../../lab/netns/netns-lab.js";
import { labDriver, loadLabImages, planToLabSpec } from "../../lab/plan-lab.js";
import { labPlan, labSteps } from "../../lab/session.js";
import type { RealDriver } from "../../src/drivers/real/real-driver.js";
import type { Step, StepResult } from "../../src/model/steps/step.js";
import { planFrom } from "../helpers/sim.js";
import { detection, labOk, labTitle, ok } from "./lab-helpers.js";

const LAB = "t-steps";
const vxlanCap = detection?.caps.vxlan;

// MTU 1400 underlay: the validator's hint is swarm.ingress.mtu 1400 on Docker's default ingress subnet.
const PLAN = `
crosshost: 1
name: t-steps
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24, mtu: 1400 }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24, mtu: 1400 }] }
segments:
  - { name: lan, mtu: 1400, members: [h1/eth0, h2/eth0] }
swarm:
  managers: [h1]
  workers: [h2]
  ingress: { mtu: 1400 }
networks:
  - { name: app, driver: overlay, attachable: true, subnet: 10.20.0.0/16, mtu: 1400 }
containers:
  - { name: box, host: h1, image: busybox, networks: [app] }
`;

describe.runIf(labOk && vxlanCap?.ok === true).sequential(labTitle("netns lab: RealDriver steps (ingress MTU, no-command containers)", { name: "vxlan", cap: vxlanCap }), () => {
  const netnsLab = new NetnsLab();
  const plan = labPlan(planFrom(PLAN), detection?.caps);
  let lab: StartedNetnsLab;
  let driver: RealDriver;
  let steps: Step[];
  const results: StepResult[] = [];

  beforeAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB)); // why: a previous run that died must not block this one
    lab = await netnsLab.up(planToLabSpec(plan, LAB));
    await loadLabImages(lab, plan);
    // why: the plan's image as is, no workload command: what a real host over SSH runs (only the image is the lab's)
    driver = labDriver(plan, lab, { workload: () => ({ image: BUSYBOX_IMAGE }) });
    steps = labSteps(plan);
    for (const s of steps) results.push(await driver.apply(s));
  }, 180_000);

  afterAll(async () => {
    await downFromState(netnsLab.stateFileOf(LAB));
  }, 60_000);

  it("applies every step", () => {
    expect(results.filter((r) => r.status === "failed").map((r) => `${r.id}: ${r.message}`)).toEqual([]);
  });

  it("replaces Docker's default ingress (same subnet, MTU 1500) with the planned MTU 1400", async () => {
    const r = results.find((x) => x.id.startsWith("ingress_replace@"))!;
    expect(r.status, r.message).toBe("done");
    expect(r.message).toContain("mtu default 1500 → 1400");
    const inspect = JSON.parse(await ok(lab.transport("h1"), ["docker", "network", "inspect", "--format", "{{json .}}", "ingress"])) as { Ingress: boolean; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Options: Record<string, string> };
    expect(inspect.Ingress).toBe(true);
    expect(inspect.IPAM.Config).toEqual([{ Subnet: "10.0.0.0/24", Gateway: "10.0.0.1" }]);
    expect(inspect.Options["com.docker.network.driver.mtu"]).toBe("1400");
  });

  it("applying the ingress step again is unchanged", async () => {
    const r = await driver.apply(steps.find((s) => s.kind === "ingress_replace")!);
    expect(r).toMatchObject({ status: "unchanged" });
  });

  it("a busybox with no command stays running (docker run -dit), with a TTY and stdin open", async () => {
    const state = async () => ok(lab.transport("h1"), ["docker", "inspect", "--format", "{{.State.Status}} {{.Config.Tty}} {{.Config.OpenStdin}} {{json .Config.Cmd}}", "box"]);
    // why: a plain -d busybox exits within a second; give it time to do so
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await state()).toBe('running true true ["sh"]');
  });
});
