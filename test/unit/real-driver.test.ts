// The real driver's "already done" checks and its docker run argv, against a fake transport (no engine).
import { describe, expect, it } from "vitest";
import { ingressDifferences, RealDriver, TeardownIncomplete, type RealDriverOptions } from "../../src/drivers/real/real-driver.js";
import type { ExecResult, Transport } from "../../src/drivers/transport.js";
import { compileSteps } from "../../src/model/steps/compile.js";
import { renderStep } from "../../src/model/steps/render.js";
import type { ContainerRunStep, IngressReplaceStep, Step } from "../../src/model/steps/step.js";
import { planFrom } from "../helpers/sim.js";

const swarmPlan = (ingress: string) => planFrom(`
crosshost: 1
name: t-ingress
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24, mtu: 1400 }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24, mtu: 1400 }] }
segments:
  - { name: lan, mtu: 1400, members: [h1/eth0, h2/eth0] }
swarm:
  managers: [h1]
  workers: [h2]
  ingress: ${ingress}
networks:
  - { name: app, driver: overlay, attachable: true, subnet: 10.20.0.0/16, mtu: 1400 }
containers:
  - { name: box, host: h1, image: busybox, networks: [app] }
  - { name: web, host: h1, image: busybox, networks: [app], command: [busybox, httpd, -f, -p, "80"] }
`);

const stepOf = <K extends Step["kind"]>(steps: Step[], kind: K, id?: string) =>
  steps.find((s) => s.kind === kind && (id === undefined || s.id === id)) as Extract<Step, { kind: K }>;

/** Docker's own ingress right after `swarm init`, as dockerd 20.10 reports it (measured in the lab). */
const DEFAULT_INGRESS = { Name: "ingress", Id: "old", Driver: "overlay", Ingress: true, IPAM: { Driver: "default", Options: null, Config: [{ Subnet: "10.0.0.0/24", Gateway: "10.0.0.1" }] }, Options: { "com.docker.network.driver.overlay.vxlanid_list": "4096" } };
const withMtu = (mtu: string) => ({ ...DEFAULT_INGRESS, Options: { ...DEFAULT_INGRESS.Options, "com.docker.network.driver.mtu": mtu } });

type Answer = (argv: readonly string[], stdin?: string) => ExecResult | undefined;
const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr: string): ExecResult => ({ code: 1, stdout: "", stderr });

/** One fake transport for every host: records argv, answers with the first answer that knows it, else exit 0. */
function fakeDriver(plan: ReturnType<typeof swarmPlan>, answer: Answer, extra: Partial<RealDriverOptions> = {}) {
  const calls: string[][] = [];
  const transport = (host: string): Transport => ({
    host, describe: `fake ${host}`,
    exec: async (argv, o) => {
      calls.push([...argv]);
      return answer(argv, typeof o?.stdin === "string" ? o.stdin : undefined) ?? ok();
    },
    close: async () => {},
  });
  const driver = new RealDriver(plan, { transport, hostDir: () => "/tmp/x", ...extra });
  return { driver, calls, changes: () => calls.filter((c) => c[0] === "docker" && !["inspect", "info"].includes(c[1]!) && !(c[1] === "network" && c[2] === "inspect")).map((c) => c.join(" ")) };
}

/** An engine whose ingress is `current` until `docker network rm ingress`, then gone after `lingers` more inspects. */
function ingressEngine(current: object | undefined, lingers = 1): Answer {
  let net = current as { Id?: string } | undefined;
  let removed = false;
  let left = lingers;
  return (argv) => {
    if (argv.join(" ") === "docker network rm ingress") {
      removed = true;
      return ok("ingress\n");
    }
    if (argv[1] === "network" && argv[2] === "inspect" && argv.at(-1) === "ingress") {
      if (removed && left-- <= 0) net = undefined;
      if (!net) return fail("Error response from daemon: network ingress not found");
      return ok(`${argv.includes("{{.Id}}") ? net.Id : JSON.stringify(net)}\n`);
    }
    if (argv[1] === "network" && argv[2] === "create" && argv.includes("--ingress")) {
      if (net) return fail("Error response from daemon: network with name ingress already exists");
      return ok("newid\n");
    }
    return undefined;
  };
}

describe("ingress_replace: unchanged only when everything the step sets is already there", () => {
  const plan = swarmPlan("{ mtu: 1400 }");
  const step = stepOf(compileSteps(plan), "ingress_replace");

  it("the plan keeps Docker's default subnet and sets MTU 1400 (the validator's hint)", () => {
    expect(step).toMatchObject({ subnet: "10.0.0.0/24", gateway: "10.0.0.1", mtu: 1400 });
  });

  it("Docker's default ingress (right subnet, no MTU option) is replaced: it is 1500, not 1400", async () => {
    // why: the old check compared the subnet only and reported "already on the planned subnet" here
    const f = fakeDriver(plan, ingressEngine(DEFAULT_INGRESS, 2));
    const r = await f.driver.apply(step);
    expect(r.status, r.message).toBe("done");
    expect(r.message).toContain("mtu default 1500 → 1400");
    expect(f.changes()).toEqual([
      "docker network rm ingress",
      "docker network create --driver overlay --ingress --subnet 10.0.0.0/24 --gateway 10.0.0.1 --opt com.docker.network.driver.mtu=1400 --label crosshost.owned=true --label crosshost.plan=t-ingress ingress",
    ]);
  });

  it("waits until the engine has dropped the old ingress before creating the new one", async () => {
    const f = fakeDriver(plan, ingressEngine(DEFAULT_INGRESS, 3));
    const r = await f.driver.apply(step);
    expect(r.status, r.message).toBe("done");
    const rm = f.calls.findIndex((c) => c.join(" ") === "docker network rm ingress");
    const polls = f.calls.slice(rm).filter((c) => c.includes("{{.Id}}"));
    expect(polls.length).toBeGreaterThanOrEqual(3);
  });

  it("an ingress already at MTU 1400 on the planned subnet and gateway is unchanged", async () => {
    const f = fakeDriver(plan, ingressEngine(withMtu("1400")));
    const r = await f.driver.apply(step);
    expect(r).toMatchObject({ status: "unchanged" });
    expect(f.changes()).toEqual([]);
  });

  it("no ingress at all: only the create", async () => {
    const f = fakeDriver(plan, ingressEngine(undefined));
    const r = await f.driver.apply(step);
    expect(r.status, r.message).toBe("done");
    expect(f.changes()).toHaveLength(1);
    expect(f.changes()[0]).toMatch(/^docker network create .*--ingress/);
  });

  it("a dry run reports both commands and does not wait for the removal", async () => {
    const f = fakeDriver(plan, ingressEngine(DEFAULT_INGRESS, 1000));
    const r = await f.driver.dryRun().apply(step);
    expect(r.status).toBe("skipped");
    expect(r.message).toMatch(/^would run: docker network rm ingress && docker network create .*mtu=1400/);
    expect(f.calls.filter((c) => c.includes("{{.Id}}"))).toEqual([]);
  });

  it("compares subnet, gateway, MTU, driver and the ingress flag", () => {
    const s = (o: Partial<IngressReplaceStep>): IngressReplaceStep => ({ ...step, ...o });
    const j = (o: object) => JSON.stringify(o);
    expect(ingressDifferences(s({}), j(withMtu("1400")))).toEqual([]);
    expect(ingressDifferences(s({}), j(DEFAULT_INGRESS))).toEqual(["mtu default 1500 → 1400"]);
    expect(ingressDifferences(s({ mtu: 1450 }), j(withMtu("1400")))).toEqual(["mtu 1400 → 1450"]);
    // why: a step without mtu means Docker's default, which an explicit "1500" option also is
    const { mtu: _drop, ...noMtu } = step;
    expect(ingressDifferences(noMtu, j(withMtu("1500")))).toEqual([]);
    expect(ingressDifferences(noMtu, j(DEFAULT_INGRESS))).toEqual([]);
    expect(ingressDifferences(s({ subnet: "10.11.0.0/24", gateway: "10.11.0.1" }), j(withMtu("1400")))).toEqual(["subnet 10.0.0.0/24 → 10.11.0.0/24", "gateway 10.0.0.1 → 10.11.0.1"]);
    expect(ingressDifferences(s({ gateway: "10.0.0.254" }), j(withMtu("1400")))).toEqual(["gateway 10.0.0.1 → 10.0.0.254"]);
    expect(ingressDifferences(s({}), j({ ...withMtu("1400"), Ingress: false }))).toEqual(["not the routing-mesh network → --ingress"]);
    expect(ingressDifferences(s({}), "not json")).toHaveLength(1);
  });
});

describe("container_run: a container with no command keeps its default shell up (-dit, as the seed)", () => {
  const plan = swarmPlan("{ mtu: 1400 }");
  const steps = compileSteps(plan);
  const box = stepOf(steps, "container_run", "container_run:box");
  const web = stepOf(steps, "container_run", "container_run:web");
  const runArgv = (s: ContainerRunStep) => renderStep(s, { plan: plan.name })[0]!.argv;

  it("renders -dit with no command, the image last", () => {
    expect(runArgv(box).slice(0, 3)).toEqual(["docker", "run", "-dit"]);
    expect(runArgv(box).at(-1)).toBe("busybox");
  });

  it("renders plain -d with a command, the command after the image", () => {
    expect(runArgv(web).slice(0, 3)).toEqual(["docker", "run", "-d"]);
    expect(runArgv(web).slice(-6)).toEqual(["busybox", "busybox", "httpd", "-f", "-p", "80"]);
  });

  it("an empty command is no command: -dit", () => {
    expect(runArgv({ ...box, command: [] }).slice(0, 3)).toEqual(["docker", "run", "-dit"]);
  });

  it("seed-macvlan renders docker run -dit … busybox for box1 and box2", () => {
    const p = planFrom("seed-macvlan");
    const runs = compileSteps(p).filter((s): s is ContainerRunStep => s.kind === "container_run").map((s) => renderStep(s, { plan: p.name })[0]!.argv.join(" "));
    expect(runs).toEqual([
      "docker run -dit --name box1 --network macvlan-test --ip 172.29.0.71 --label crosshost.owned=true --label crosshost.plan=seed-macvlan busybox",
      "docker run -dit --name box2 --network macvlan-test --ip 172.29.0.72 --label crosshost.owned=true --label crosshost.plan=seed-macvlan busybox",
    ]);
  });

  const notThere: Answer = (argv) => (argv[1] === "inspect" ? fail("Error: No such object") : undefined);
  const runOf = (calls: string[][]) => calls.find((c) => c[1] === "run")!;

  it("without a workload (real hosts) the rendered argv runs as is", async () => {
    const f = fakeDriver(plan, notThere);
    expect((await f.driver.apply(box)).status).toBe("done");
    expect(runOf(f.calls)).toEqual([...runArgv(box)]);
  });

  it("the lab's workload (its image and a command) gets plain -d and its command after its image", async () => {
    const f = fakeDriver(plan, notThere, { workload: () => ({ image: "crosshost/busybox:latest", command: ["sleep", "2147483647"] }) });
    expect((await f.driver.apply(box)).status).toBe("done");
    const argv = runOf(f.calls);
    expect(argv.slice(0, 3)).toEqual(["docker", "run", "-d"]);
    expect(argv.slice(-3)).toEqual(["crosshost/busybox:latest", "sleep", "2147483647"]);
    expect(argv).not.toContain("busybox");
  });

  it("a workload with only an image keeps -dit (the image's default runs)", async () => {
    const f = fakeDriver(plan, notThere, { workload: () => ({ image: "crosshost/busybox:latest" }) });
    await f.driver.apply(box);
    const argv = runOf(f.calls);
    expect(argv[2]).toBe("-dit");
    expect(argv.at(-1)).toBe("crosshost/busybox:latest");
  });

  it("swaps the image, not a command word that has the image's name", async () => {
    // why: web's command starts with "busybox"; the old lastIndexOf(image) swapped that word instead
    const f = fakeDriver(plan, notThere, { workload: (s) => ({ image: "crosshost/busybox:latest", command: s.command! }) });
    await f.driver.apply(web);
    expect(runOf(f.calls).slice(-6)).toEqual(["crosshost/busybox:latest", "busybox", "httpd", "-f", "-p", "80"]);
  });
});

describe("swarm init/join: the mark that crosshost formed the swarm survives an apply killed mid-join", () => {
  const plan = swarmPlan("{ mtu: 1400 }");
  const steps = compileSteps(plan);
  /** An engine in no swarm until a swarm command succeeds (or `fails`), and the mark file on disk. */
  function swarmEngine(joinFails = false) {
    let state = "inactive";
    let mark: string | undefined;
    const answer: Answer = (argv, stdin) => {
      const cmd = argv.join(" ");
      if (cmd.includes("{{.Swarm.LocalNodeState}}")) return ok(`${state}\n`);
      if (argv[0] === "docker" && argv[1] === "swarm" && (argv[2] === "init" || argv[2] === "join")) {
        if (joinFails) return fail("Error response from daemon: Timeout was reached before node joined.");
        state = "active";
        return ok();
      }
      if (argv[1] === "swarm" && argv[2] === "leave") {
        state = "inactive";
        return ok();
      }
      if (argv[0] === "tee" && argv[1]!.endsWith("/swarm-formed")) {
        mark = stdin;
        return ok();
      }
      if (argv[0] === "cat" && argv[1]!.endsWith("/swarm-formed")) return mark === undefined ? fail("No such file") : ok(mark);
      if (argv[0] === "rm" && argv.some((a) => a.endsWith("/swarm-formed"))) {
        mark = undefined;
        return ok();
      }
      return undefined;
    };
    return { answer, mark: () => mark, state: () => state };
  }

  it("the mark is written before docker swarm join, so a kill right after the join still leaves it", async () => {
    const engine = swarmEngine();
    const { driver, calls } = fakeDriver(plan, engine.answer);
    const join = stepOf(steps, "swarm_join");
    expect((await driver.apply(join)).status).toBe("done");
    const markAt = calls.findIndex((c) => c[0] === "tee" && c[1]!.endsWith("/swarm-formed"));
    const joinAt = calls.findIndex((c) => c[1] === "swarm" && c[2] === "join");
    expect(markAt).toBeGreaterThanOrEqual(0);
    expect(markAt).toBeLessThan(joinAt);
    expect(engine.mark()).toBe("joined");
  });

  it("a failed join with the host still in no swarm takes the mark back", async () => {
    const engine = swarmEngine(true);
    const { driver } = fakeDriver(plan, engine.answer);
    expect((await driver.apply(stepOf(steps, "swarm_join"))).status).toBe("failed");
    expect(engine.mark()).toBeUndefined();
  });

  it("teardown leaves a swarm crosshost joined, and keeps one it finds without the mark", async () => {
    const mine = swarmEngine();
    const a = fakeDriver(plan, mine.answer);
    await a.driver.apply(stepOf(steps, "swarm_init"));
    await a.driver.teardown();
    expect(mine.state()).toBe("inactive");

    const users = swarmEngine();
    const b = fakeDriver(plan, users.answer);
    await b.driver.apply(stepOf(steps, "swarm_init"));
    await b.driver.teardown(); // removes the mark with the rest of crosshost's files
    users.answer(["docker", "swarm", "init"]);
    expect(users.state()).toBe("active");
    const c = fakeDriver(plan, users.answer);
    await c.driver.teardown();
    expect(users.state()).toBe("active");
    expect(c.calls.some((x) => x[1] === "swarm" && x[2] === "leave")).toBe(false);
  });

  it("a swarm that cannot be left is reported (host, command, reason) and keeps its mark for the next destroy", async () => {
    const engine = swarmEngine();
    const stuck: Answer = (argv, stdin) => (argv[1] === "swarm" && argv[2] === "leave" ? fail("Error response from daemon: context deadline exceeded") : engine.answer(argv, stdin));
    const { driver } = fakeDriver(plan, stuck);
    await driver.apply(stepOf(steps, "swarm_init"));
    const err = await driver.teardown().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TeardownIncomplete);
    // The fake engine is one for both hosts, so both report it.
    expect((err as TeardownIncomplete).problems).toContain("h1: docker swarm leave --force: Error response from daemon: context deadline exceeded");
    expect(engine.mark()).toBe("yes");
  });
});

describe("probes: a container observed not running is neither probed to nor from", () => {
  it("reports the stopped endpoint and runs no ping (a restart loop may bring it up for a moment)", async () => {
    const plan = swarmPlan("{ mtu: 1400 }");
    const { driver, calls } = fakeDriver(plan, (argv) => {
      if (argv[1] === "inspect" && argv.at(-1) === "box") return ok("false false true\n");
      if (argv[1] === "inspect" && argv.at(-1) === "web" && argv[3]?.startsWith("{{.State")) return ok("true false true\n");
      return undefined;
    }, { settleTimeoutMs: 0 });
    const obs = await driver.observe([
      { from: "box", to: "web", by: "address", size: 56, proto: "icmp" },
      { from: "web", to: "box", by: "name", size: 56, proto: "icmp" },
    ]);
    expect(obs.probes.map((p) => [p.from, p.to, p.ok, p.reason])).toEqual([["box", "web", false, "box is not running"], ["web", "box", false, "box is not running"]]);
    expect(calls.filter((c) => c.includes("ping"))).toEqual([]);
  });
});
