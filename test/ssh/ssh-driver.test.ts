// The SSH driver against real sshd on namespace-lab hosts: apply the seed scenario through SSH only,
// verify against the simulator, apply again (nothing to do), kill a run halfway and apply again
// (converges), refuse a changed host key, name an unreachable host, and leave the user's own network and
// container untouched through apply and destroy.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { readFileSync } from "node:fs";
import { NetnsLab, type StartedNetnsLab } from "../../lab/netns/netns-lab.js";
import { LabSshd, withOperator } from "../../lab/netns/sshd.js";
import { LAB_CONSUL_VERSION, labConsul, labWorkload, loadLabImages, planToLabSpec } from "../../lab/plan-lab.js";
import type { Plan } from "../../src/model/plan.js";
import { validateText } from "../../src/model/validate.js";
import { connectRemote, remoteApply, remoteDestroy, remoteVerify, type RemoteOptions } from "../../src/drivers/ssh/remote.js";
import { ROOT } from "../helpers/sim.js";
import { gatedTitle, sshLabGaps } from "./ssh-helpers.js";

const gaps = await sshLabGaps();

/** The seed scenario with ssh settings per host and without the LAN's router (the lab has none). */
function sshPlan(sshd: LabSshd, extra: (raw: any) => void = () => {}): Plan {
  const raw = parse(readFileSync(`${ROOT}/src/scenarios/seed-swarm-consul.yaml`, "utf8"));
  raw.name = "ssh-seed";
  for (const h of raw.hosts) {
    for (const n of h.nics) delete n.gateway;
    h.ssh = { address: sshd.address(h.name), user: "root", key_file: sshd.clientKey };
  }
  extra(raw);
  const v = validateText(stringify(raw), "ssh-seed.yaml");
  if (!v.plan) throw new Error(v.diagnostics.map((d) => d.message).join("; "));
  return v.plan;
}

describe.runIf(gaps.length === 0).sequential(gatedTitle("SSH driver against real sshd (apply, verify, destroy)", gaps), () => {
  let lab: StartedNetnsLab;
  let sshd: LabSshd;
  let plan: Plan;
  let opts: RemoteOptions;

  beforeAll(async () => {
    const probe = validateText(readFileSync(`${ROOT}/src/scenarios/seed-swarm-consul.yaml`, "utf8"), "seed.yaml").plan!;
    lab = await new NetnsLab().up(withOperator(planToLabSpec(probe, "ssh-driver")));
    await loadLabImages(lab, probe);
    sshd = await LabSshd.start(lab);
    plan = sshPlan(sshd);
    opts = {
      knownHosts: sshd.knownHostsFile, dial: sshd.dialer, connectTimeoutMs: 5000,
      driver: { workload: labWorkload, consulImage: labConsul, consulExtraConfig: { performance: { raft_multiplier: 1 }, retry_interval: "2s" } },
    };
  }, 180_000);

  afterAll(async () => {
    await sshd?.stop().catch(() => undefined);
    await lab?.down();
  }, 120_000);

  it("a user's own network and container exist before crosshost comes", async () => {
    const t = lab.transport("consul-server-2");
    expect((await t.exec(["docker", "network", "create", "--subnet", "10.77.0.0/24", "usernet"])).code).toBe(0);
    expect((await t.exec(["docker", "run", "-d", "--name", "userbox", "--network", "usernet", "crosshost/busybox:latest", "sleep", "3600"])).code).toBe(0);
  }, 60_000);

  it("dry run: inspects, reports what it would do, changes nothing", async () => {
    const ctx = await connectRemote(plan, opts);
    try {
      const r = await remoteApply(ctx, { dryRun: true, force: true });
      expect(r.stoppedBeforeChanges, ctx.diagnostics.map((d) => d.message).join("\n")).toBe(false);
      expect(r.results.filter((x) => x.status === "skipped").length).toBeGreaterThan(5);
      const state = await lab.transport("consul-server-1").exec(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]);
      expect(state.stdout.trim()).toBe("inactive");
    } finally {
      await ctx.pool.close();
    }
  }, 120_000);

  it("killed halfway through, then applied again: converges", async () => {
    // The child applies through the same lab; it is killed once the swarm exists and containers start.
    const child = spawn(process.execPath, ["--import", "tsx", `${ROOT}/test/ssh/fixtures/apply-child.ts`, lab.name], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
    let out = "";
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes("container_run:web-service-1")) { child.kill("SIGKILL"); resolve(); }
      });
      child.on("exit", () => resolve());
    });
    expect(out).toContain("swarm_init@consul-server-1");
    const ctx = await connectRemote(plan, opts);
    try {
      // why: the seed has validation errors (its checks can never pass); it is applied as written.
      const r = await remoteApply(ctx, { force: true });
      expect(r.stoppedBeforeChanges, ctx.diagnostics.filter((d) => d.severity === "error").map((d) => d.message).join("\n")).toBe(false);
      expect(r.results.filter((x) => x.status === "failed").map((x) => `${x.id}: ${x.message}`)).toEqual([]);
      expect(r.results.find((x) => x.id === "swarm_init@consul-server-1")!.status).toBe("unchanged");
    } finally {
      await ctx.pool.close();
    }
  }, 300_000);

  it("applied again: nothing to do", async () => {
    const ctx = await connectRemote(plan, opts);
    try {
      const r = await remoteApply(ctx, { force: true });
      expect(r.results.filter((x) => x.status !== "unchanged").map((x) => `${x.id}: ${x.status} ${x.message}`)).toEqual([]);
    } finally {
      await ctx.pool.close();
    }
  }, 180_000);

  it("verify: reality agrees with the prediction", async () => {
    const ctx = await connectRemote(plan, opts);
    try {
      const r = await remoteVerify(ctx);
      expect(r.differences.map((d) => `${d.what}: predicted ${d.predicted}, observed ${d.actual}`)).toEqual([]);
      expect(r.reality.consul!["consul-server-1"]!.leader).toBe("192.168.1.71:8300");
    } finally {
      await ctx.pool.close();
    }
  }, 300_000);

  it("a changed host key is refused, and nothing is applied", async () => {
    await sshd.regenerateHostKey("consul-client-1");
    const ctx = await connectRemote(plan, { ...opts, acceptNew: true });
    try {
      const bad = ctx.diagnostics.find((d) => d.code === "ssh_unreachable" && d.host === "consul-client-1");
      expect(bad?.message).toMatch(/consul-client-1.*changed/i);
      const r = await remoteApply(ctx, { force: true });
      expect(r.stoppedBeforeChanges).toBe(true);
    } finally {
      await ctx.pool.close();
    }
    await sshd.writeKnownHosts(sshd.knownHostsFile);
  }, 120_000);

  it("an unreachable host gives a clear error naming it", async () => {
    const unreachable = sshPlan(sshd, (raw) => {
      raw.hosts[2].ssh.port = 2222;
    });
    const started = Date.now();
    const ctx = await connectRemote(unreachable, opts);
    try {
      const d = ctx.diagnostics.find((x) => x.code === "ssh_unreachable");
      expect(d?.host).toBe("consul-client-1");
      expect(d?.message).toMatch(/consul-client-1 \(192\.168\.1\.73:2222\): (connection refused|timed out)/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await ctx.pool.close();
    }
  }, 60_000);

  it("a plan that names a NIC the host does not have is an error before anything changes", async () => {
    const wrong = sshPlan(sshd, (raw) => {
      raw.hosts[0].nics[0].name = "eth0";
      raw.consul.agents[0].advertise_addr = "192.168.1.71";
    });
    const ctx = await connectRemote(wrong, opts);
    try {
      const d = ctx.diagnostics.find((x) => x.code === "host_fact_mismatch" && x.host === "consul-server-1");
      expect(d?.message).toMatch(/consul-server-1 has no interface eth0; it has .*ens34 192\.168\.1\.71\/24/);
      expect((await remoteApply(ctx, { force: true })).stoppedBeforeChanges).toBe(true);
    } finally {
      await ctx.pool.close();
    }
  }, 60_000);

  it("destroy removes what crosshost created and nothing else", async () => {
    const ctx = await connectRemote(plan, opts);
    try {
      expect(await remoteDestroy(ctx)).toEqual([]);
    } finally {
      await ctx.pool.close();
    }
    for (const h of plan.hosts) {
      const t = lab.transport(h.name);
      expect((await t.exec(["docker", "ps", "-aq", "--filter", "label=crosshost.plan=ssh-seed"])).stdout.trim()).toBe("");
      expect((await t.exec(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"])).stdout.trim()).toBe("inactive");
    }
    const t = lab.transport("consul-server-2");
    expect((await t.exec(["docker", "inspect", "--format", "{{.State.Running}}", "userbox"])).stdout.trim()).toBe("true");
    expect((await t.exec(["docker", "network", "inspect", "--format", "{{.Name}}", "usernet"])).stdout.trim()).toBe("usernet");
  }, 180_000);
  void LAB_CONSUL_VERSION;
});
