// The real driver: applies compiled steps to real Docker engines through a Transport per host (a lab
// host's namespace, a dind node, or SSH), and observes reality with real probes in the same shape as the
// simulator's prediction. Every value from the plan reaches a command as one argv word.
import type { ContainerObservation, ConsulAgentObservation, HostObservation, Observation, ProbeResult, ProbeSpec, ServiceObservation, SwarmObservation } from "../../model/observation.js";
import { formatIp, parseIp } from "../../model/ip.js";
import type { AddressRef, Plan } from "../../model/plan.js";
import { agentHttpAddress, indexPlan, type PlanIndex } from "../../model/plan.js";
import { durationMs } from "../../model/read/names.js";
import { PLACEHOLDER, renderStep, runDetachFlag, type RenderedCommand } from "../../model/steps/render.js";
import { OWNER_LABEL, PLAN_LABEL, type ConsulAgentStep, type ContainerRunStep, type IngressReplaceStep, type Step, type StepResult } from "../../model/steps/step.js";
import type { Driver } from "../driver.js";
import type { ExecResult, Transport } from "../transport.js";
import { mapLimit } from "./limit.js";

/** Faults a backend can inject (a lab); real hosts over SSH have none. */
export interface FaultInjector {
  stopEngine(host: string): Promise<void>;
  startEngine(host: string): Promise<void>;
  cutHost(host: string): Promise<void>;
  restoreHost(host: string): Promise<void>;
  setSegmentMtu(segment: string, mtu: number): Promise<void>;
  blockPort(fromHost: string, toHost: string, proto: "tcp" | "udp", port: number): Promise<void>;
  unblockPort(fromHost: string, toHost: string, proto: "tcp" | "udp", port: number): Promise<void>;
}

/** What actually runs for a workload container: the lab substitutes images it can build. */
export interface Workload {
  readonly image: string;
  readonly command?: readonly string[];
}

export interface RealDriverOptions {
  readonly name?: string;
  readonly transport: (host: string) => Transport;
  /** Directory on the host for files crosshost writes (Consul configuration and data). */
  readonly hostDir: (host: string) => string;
  /** Image and command for a workload container (default: as planned). */
  readonly workload?: (step: ContainerRunStep) => Workload;
  /** Image and argv prefix for a Consul agent (default: the plan's image, `agent …` as the seed). */
  readonly consulImage?: (step: ConsulAgentStep) => { image: string; argv: readonly string[] };
  readonly faults?: FaultInjector;
  /** An extra Consul configuration file next to the plan's (timing only, e.g. raft_multiplier in a lab). */
  readonly consulExtraConfig?: Readonly<Record<string, unknown>>;
  /** Progress and command log. */
  readonly log?: (host: string, message: string) => void;
  /** How long observe() waits for the clusters to settle after a change. */
  readonly settleTimeoutMs?: number;
}

const DOCKER_TIMEOUT = 60_000;

export class RealDriver implements Driver {
  readonly name: string;
  private readonly index: PlanIndex;
  private changedAt = Date.now();
  private faulted = false;
  /** A new check's first run comes after a random stagger within its interval: wait at least that long. */
  private checksDueAt = 0;
  /** Checks registered but not run yet, as of the last observation. */
  private checksNotRun = -1;

  /** Dry run: commands that change something are recorded, not run. */
  private readonly dry: { planned: Map<string, string[]> } | undefined;
  private current: string | undefined;

  constructor(readonly plan: Plan, private readonly opts: RealDriverOptions, dry = false) {
    this.name = opts.name ?? "real";
    this.index = indexPlan(plan);
    this.dry = dry ? { planned: new Map() } : undefined;
  }

  /** The same driver that only looks: each step reports "unchanged" or what it would run. */
  dryRun(): RealDriver {
    return new RealDriver(this.plan, this.opts, true);
  }

  private t(host: string): Transport {
    return this.opts.transport(host);
  }

  private async run(host: string, argv: readonly string[], stdin?: string, timeoutMs = DOCKER_TIMEOUT): Promise<ExecResult> {
    if (this.dry && !readOnly(argv)) {
      const list = this.dry.planned.get(this.current ?? "") ?? [];
      list.push(`${host}: ${argv.join(" ")}`);
      this.dry.planned.set(this.current ?? "", list);
      return { code: 0, stdout: "", stderr: "" };
    }
    const started = Date.now();
    const r = await this.t(host).exec(argv, { ...(stdin !== undefined ? { stdin } : {}), timeoutMs });
    this.opts.log?.(host, `$ ${argv.join(" ")} → ${r.code} (${Date.now() - started} ms)${r.code !== 0 && r.stderr ? `: ${r.stderr.trim().split("\n").pop()}` : ""}`);
    return r;
  }

  private async docker(host: string, args: readonly string[], stdin?: string): Promise<ExecResult> {
    return this.run(host, ["docker", ...args], stdin);
  }

  private ok(step: Step, message: string, unchanged = false): StepResult {
    if (!unchanged) this.changedAt = Date.now();
    return { id: step.id, status: unchanged ? "unchanged" : "done", message };
  }

  private failed(step: Step, r: ExecResult | string): StepResult {
    // The docker CLI ends its errors with "Run 'docker run --help' for more information": the line before says what failed.
    const message = typeof r === "string" ? r : (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^Run '.*--help' for more information/.test(l)).slice(-2).join(" ");
    return { id: step.id, status: "failed", message };
  }

  // ---- apply ---------------------------------------------------------------------------------

  async apply(step: Step): Promise<StepResult> {
    this.current = step.id;
    try {
      const r = await this.applyStep(step);
      if (this.dry) {
        const planned = this.dry.planned.get(step.id);
        if (!planned) return { id: step.id, status: "unchanged", message: r.message };
        return { id: step.id, status: "skipped", message: `would run: ${planned.map((p) => p.replace(/^[^:]+: /, "")).join(" && ")}` };
      }
      return r;
    } catch (e) {
      if (this.dry) return { id: step.id, status: "skipped", message: `would run ${step.kind.replace(/_/g, " ")} (${e instanceof Error ? e.message : String(e)})` };
      return this.failed(step, e instanceof Error ? e.message : String(e));
    }
  }

  private async applyStep(step: Step): Promise<StepResult> {
    switch (step.kind) {
      case "kernel_module": {
        const have = await this.run(step.host, ["test", "-d", `/sys/module/${step.module}`]);
        if (have.code === 0) return this.ok(step, `${step.module} is loaded`, true);
        // Built into the kernel (no /sys/module entry, modprobe may not even exist): try the link type.
        if (await this.linkTypeWorks(step.host, step.module)) return this.ok(step, `${step.module} is available (built in)`, true);
        const r = await this.run(step.host, ["modprobe", step.module]);
        if (r.code === 0) return this.ok(step, `${step.module} loaded`);
        return this.failed(step, r.code === 127 ? `no ${step.module} in this kernel, and no modprobe to load it` : r);
      }
      case "gwbridge_create": {
        const have = await this.docker(step.host, ["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "docker_gwbridge"]);
        if (have.code === 0) return have.stdout.trim() === step.subnet ? this.ok(step, "docker_gwbridge exists", true) : this.failed(step, `docker_gwbridge exists with ${have.stdout.trim()}, not ${step.subnet}: remove it (after leaving the swarm) first`);
        return this.runRendered(step);
      }
      case "swarm_init": {
        if ((await this.swarmState(step.host)) === "active") return this.ok(step, "already in a swarm", true);
        return this.formSwarm(step, "yes");
      }
      case "ingress_replace":
        return this.ingressReplace(step);
      case "swarm_join": {
        if ((await this.swarmState(step.host)) === "active") return this.ok(step, "already in a swarm", true);
        return this.formSwarm(step, "joined");
      }
      case "network_create": {
        const have = await this.docker(step.host, ["network", "inspect", "--format", `{{index .Labels "${OWNER_LABEL}"}}`, step.network]);
        if (have.code === 0) {
          return have.stdout.trim() === "true" ? this.ok(step, `${step.network} exists`, true) : this.failed(step, `a network named ${step.network} already exists and crosshost did not create it: left untouched`);
        }
        return this.runRendered(step);
      }
      case "shim_create": {
        const have = await this.run(step.host, ["ip", "-o", "link", "show", "dev", step.name]);
        if (have.code === 0) return this.ok(step, `${step.name} exists`, true);
        for (const c of renderStep(step, { plan: this.plan.name })) {
          const r = await this.run(step.host, c.argv);
          if (r.code !== 0) return this.failed(step, r);
        }
        // Marked as ours, so that destroy removes it and nothing else.
        await this.run(step.host, ["ip", "link", "set", "dev", step.name, "alias", `${OWNER_LABEL}=${this.plan.name}`]);
        return this.ok(step, `${step.name} on ${step.parent}`);
      }
      case "consul_agent":
        return this.consulAgent(step);
      case "container_run":
        return this.containerRun(step);
      case "service_register":
        return this.serviceRegister(step);
      case "fault":
        return this.fault(step);
    }
  }

  /** Creates and deletes a throwaway link of the module's type in the host's namespace. */
  private async linkTypeWorks(host: string, module: string): Promise<boolean> {
    const name = `cxprobe${process.pid % 10000}`;
    const h = this.index.hosts.get(host);
    const parent = h?.nics[0]?.name;
    const spec: Record<string, string[]> = {
      macvlan: parent ? ["link", parent, "type", "macvlan", "mode", "bridge"] : [],
      ipvlan: parent ? ["link", parent, "type", "ipvlan", "mode", "l2"] : [],
      vxlan: ["type", "vxlan", "id", "4242", "dstport", "0"],
      "8021q": parent ? ["link", parent, "type", "vlan", "id", "4042"] : [],
    };
    const args = spec[module];
    if (!args || args.length === 0) return false;
    const r = await this.run(host, ["ip", "link", "add", name, ...args]);
    if (r.code !== 0) return false;
    await this.run(host, ["ip", "link", "del", name]);
    return true;
  }

  private async runRendered(step: Step): Promise<StepResult> {
    for (const c of renderStep(step, { plan: this.plan.name })) {
      const argv = await this.resolve(step, c.argv);
      const r = await this.run(step.host, argv, c.stdin);
      if (r.code !== 0) return this.failed(step, r);
    }
    return this.ok(step, step.reason);
  }

  /** Unchanged only when the ingress already has everything the step sets (subnet, gateway, MTU), not just the subnet. */
  private async ingressReplace(step: IngressReplaceStep): Promise<StepResult> {
    const [rm, create] = renderStep(step, { plan: this.plan.name }) as [RenderedCommand, RenderedCommand];
    const have = await this.docker(step.host, ["network", "inspect", "--format", "{{json .}}", "ingress"]);
    let diff = ["there was none"];
    if (have.code === 0) {
      diff = ingressDifferences(step, have.stdout);
      if (diff.length === 0) return this.ok(step, "ingress already as planned (subnet, gateway, MTU)", true);
      const old = (parseJson<{ Id?: string }>(have.stdout) ?? {}).Id;
      const r = await this.run(step.host, rm.argv, rm.stdin);
      if (r.code !== 0) return this.failed(step, r);
      // The engine drops its own copy a moment after the swarm's (about 1.3 s in the lab); creating
      // before that fails with "network with name ingress already exists".
      const deadline = Date.now() + 30_000;
      while (!this.dry) {
        const now = await this.docker(step.host, ["network", "inspect", "--format", "{{.Id}}", "ingress"]);
        if (now.code !== 0 || now.stdout.trim() !== old) break;
        if (Date.now() > deadline) return this.failed(step, "the old ingress was still there 30 s after docker network rm ingress");
        await sleep(250);
      }
    }
    const r = await this.run(step.host, create.argv, create.stdin);
    if (r.code !== 0) return this.failed(step, r);
    return this.ok(step, `ingress recreated (${diff.join(", ")})`);
  }

  /** Fills in values only known now: join tokens, container and host addresses. */
  private async resolve(step: Step, argv: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const word of argv) {
      let w = word;
      for (const m of [...word.matchAll(PLACEHOLDER)]) {
        const [whole, kind, arg] = m as unknown as [string, string, string];
        w = w.replace(whole, await this.placeholder(step, kind, arg));
      }
      out.push(w);
    }
    return out;
  }

  private async placeholder(_step: Step, kind: string, arg: string): Promise<string> {
    if (kind === "join-token") {
      const [role, host] = arg.split("@") as [string, string];
      const r = await this.docker(host, ["swarm", "join-token", "-q", role]);
      if (r.code !== 0) throw new Error(`cannot get a ${role} join token from ${host}: ${r.stderr.trim()}`);
      return r.stdout.trim();
    }
    if (kind === "host-address") return formatIp(this.index.hosts.get(arg)!.nics[0]!.ip);
    const [container, network] = arg.split("@") as [string, string];
    const ip = await this.containerAddress(container, network || undefined);
    if (ip === undefined) throw new Error(`${container} has no address${network ? ` on ${network}` : ""}`);
    return ip;
  }

  private async addressOf(ref: AddressRef): Promise<string | undefined> {
    if (ref.kind === "ip") return formatIp(ref.ip);
    if (ref.kind === "host") return formatIp(this.index.hosts.get(ref.host)!.nics[0]!.ip);
    return this.containerAddress(ref.container, ref.network);
  }

  private async containerAddress(name: string, network?: string): Promise<string | undefined> {
    const c = this.index.containers.get(name);
    if (!c) return undefined;
    if (c.networkMode === "host") return formatIp(this.index.hosts.get(c.host)!.nics[0]!.ip);
    const addrs = await this.inspectAddresses(c.host, name);
    const net = network ?? c.attachments[0]?.network;
    return net !== undefined ? addrs[net] : undefined;
  }

  private async inspectAddresses(host: string, name: string): Promise<Record<string, string>> {
    const r = await this.docker(host, ["inspect", "--format", "{{json .NetworkSettings.Networks}}", name]);
    if (r.code !== 0) return {};
    try {
      const nets = JSON.parse(r.stdout) as Record<string, { IPAddress?: string }>;
      return Object.fromEntries(Object.entries(nets).filter(([, v]) => v.IPAddress).map(([k, v]) => [k, v.IPAddress!]));
    } catch {
      return {};
    }
  }

  private async swarmState(host: string): Promise<string> {
    const r = await this.docker(host, ["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    return r.code === 0 ? r.stdout.trim() : "unknown";
  }

  /**
   * Init or join a host that is in no swarm. The mark that crosshost formed this host's swarm is written
   * before the command, not after: an apply killed between a join that succeeded and a mark written after
   * it left a swarm that a later `destroy` took for the user's and kept (found by the SSH kill-mid-apply
   * test). The mark is taken back when the command fails and the host is still in no swarm.
   */
  private async formSwarm(step: Step, mark: string): Promise<StepResult> {
    await this.remember(step.host, "swarm-formed", mark);
    const r = await this.runRendered(step);
    if (r.status !== "done" && (await this.swarmState(step.host)) === "inactive") {
      await this.run(step.host, ["rm", "-f", `${this.opts.hostDir(step.host)}/swarm-formed`]);
    }
    return r;
  }

  /** Small per-host facts crosshost keeps about what it did (who formed the swarm). */
  private async remember(host: string, key: string, value: string): Promise<void> {
    const dir = this.opts.hostDir(host);
    await this.run(host, ["mkdir", "-p", dir]);
    await this.run(host, ["tee", `${dir}/${key}`], value);
  }

  private async recall(host: string, key: string): Promise<string | undefined> {
    const r = await this.run(host, ["cat", `${this.opts.hostDir(host)}/${key}`]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  private async containerState(host: string, name: string): Promise<{ exists: boolean; running: boolean; owned: boolean }> {
    // A process that keeps exiting under --restart=always shows Running and Restarting both true between
    // tries (`docker ps`: "Restarting (1)"): that is not running (a Consul agent refusing its config does this).
    const r = await this.docker(host, ["inspect", "--format", `{{.State.Running}} {{.State.Restarting}} {{index .Config.Labels "${OWNER_LABEL}"}}`, name]);
    if (r.code !== 0) return { exists: false, running: false, owned: false };
    const [running, restarting, owned] = r.stdout.trim().split(" ");
    return { exists: true, running: running === "true" && restarting !== "true", owned: owned === "true" };
  }

  private async consulAgent(step: ConsulAgentStep): Promise<StepResult> {
    const cur = await this.containerState(step.host, step.agent);
    if (cur.exists && !cur.owned) return this.failed(step, `a container named ${step.agent} exists and crosshost did not create it: left untouched`);
    if (cur.running) return this.ok(step, `agent ${step.agent} running`, true);
    if (cur.exists) {
      const r = await this.docker(step.host, ["start", step.agent]);
      return r.code === 0 ? this.ok(step, `agent ${step.agent} started again`) : this.failed(step, r);
    }
    const dir = `${this.opts.hostDir(step.host)}/consul/${step.agent}`;
    const cfg = `${dir}/config`;
    const data = `${dir}/data`;
    const rendered = renderStep(step, { plan: this.plan.name, consulConfigDir: cfg, consulDataDir: data })[0]!;
    for (const argv of [["mkdir", "-p", cfg, data]]) {
      const r = await this.run(step.host, argv);
      if (r.code !== 0) return this.failed(step, r);
    }
    const w = await this.run(step.host, ["tee", rendered.file!.path], rendered.file!.content);
    if (w.code !== 0) return this.failed(step, w);
    if (this.opts.consulExtraConfig) {
      const x = await this.run(step.host, ["tee", `${cfg}/zz-crosshost.json`], `${JSON.stringify(this.opts.consulExtraConfig, null, 2)}\n`);
      if (x.code !== 0) return this.failed(step, x);
    }
    let argv = [...rendered.argv];
    if (this.opts.consulImage) {
      const sub = this.opts.consulImage(step);
      const at = argv.indexOf(step.image);
      argv = [...argv.slice(0, at), sub.image, ...sub.argv, ...argv.slice(at + 1)];
    }
    const r = await this.run(step.host, argv);
    return r.code === 0 ? this.ok(step, `agent ${step.agent} started`) : this.failed(step, r);
  }

  private async containerRun(step: ContainerRunStep): Promise<StepResult> {
    const cur = await this.containerState(step.host, step.container);
    if (cur.exists && !cur.owned) return this.failed(step, `a container named ${step.container} exists and crosshost did not create it: left untouched`);
    if (cur.running) return this.ok(step, `${step.container} running`, true);
    if (cur.exists) {
      const r = await this.docker(step.host, ["start", step.container]);
      return r.code === 0 ? this.ok(step, `${step.container} started again`) : this.failed(step, r);
    }
    const [run, ...connects] = renderStep(step, { plan: this.plan.name });
    let argv = [...run!.argv];
    if (this.opts.workload) {
      const w = this.opts.workload(step);
      // The image is the word before the planned command (which may contain the image's name).
      const at = argv.length - (step.command?.length ?? 0) - 1;
      argv = [...argv.slice(0, at), w.image, ...(w.command ?? [])];
      // Detach flags follow the command that really runs (-dit only for an image's default).
      if (argv[2] === runDetachFlag(step.command)) argv[2] = runDetachFlag(w.command);
    }
    const r = await this.run(step.host, argv);
    if (r.code !== 0) {
      // Docker creates the container before it fails to start it (a taken address): remove our leftover.
      await this.docker(step.host, ["rm", "-f", step.container]);
      return this.failed(step, r);
    }
    for (const c of connects) {
      const cr = await this.run(step.host, c.argv);
      if (cr.code !== 0) return this.failed(step, cr);
    }
    return this.ok(step, `${step.container} running`);
  }

  private agentHttp(agentName: string): string {
    return `http://${agentHttpAddress(this.index.agents.get(agentName)!)}`;
  }

  /** GET on the agent's HTTP API, from inside the agent's own container (busybox wget). */
  private async agentGet(agentName: string, path: string): Promise<{ ok: boolean; body: string }> {
    const a = this.index.agents.get(agentName)!;
    const r = await this.inContainer(a.host, a.name, ["wget", "-q", "-O", "-", `${this.agentHttp(agentName)}${path}`], 15_000);
    return { ok: r.code === 0, body: r.stdout };
  }

  private readonly pids = new Map<string, number>();

  /**
   * Runs argv inside a container's network and mount namespaces with nsenter (its own binaries, its own
   * resolv.conf): much lighter than `docker exec`, which goes through containerd for every command. Falls
   * back to `docker exec` where nsenter is not available or not allowed.
   */
  private async inContainer(host: string, name: string, argv: readonly string[], timeoutMs = 15_000): Promise<ExecResult> {
    let pid = this.pids.get(name);
    if (pid === undefined) {
      const r = await this.docker(host, ["inspect", "--format", "{{.State.Pid}}", name]);
      pid = r.code === 0 ? Number(r.stdout.trim()) : 0;
      if (pid > 0) this.pids.set(name, pid);
    }
    if (pid && pid > 0 && this.nsenterWorks !== false) {
      const r = await this.run(host, ["nsenter", "-t", String(pid), "-n", "-m", "--", ...argv], undefined, timeoutMs);
      if (r.code !== 126 && r.code !== 127 && !/nsenter: (?:cannot open|reassociate|failed to execute)/.test(r.stderr)) {
        this.nsenterWorks = true;
        return r;
      }
      if (this.nsenterWorks === undefined && /cannot open|reassociate/.test(r.stderr)) this.pids.delete(name);
      this.nsenterWorks = this.nsenterWorks ?? false;
    }
    return this.run(host, ["docker", "exec", name, ...argv], undefined, timeoutMs);
  }

  private nsenterWorks: boolean | undefined;

  private async serviceRegister(step: Extract<Step, { kind: "service_register" }>): Promise<StepResult> {
    const a = this.index.agents.get(step.agent)!;
    const have = await this.agentGet(step.agent, `/v1/agent/service/${encodeURIComponent(step.service)}`);
    if (have.ok) return this.ok(step, `${step.service} registered`, true);
    const address = await this.addressOf(step.address);
    const service: Record<string, unknown> = { id: step.service, name: step.name, tags: step.tags, address, port: step.port };
    if (step.check) {
      const target = await this.addressOf(step.check.target);
      service.check = step.check.type === "http"
        ? { http: `http://${target}:${step.check.port}${step.check.path === "/" ? "" : step.check.path}`, interval: step.check.interval, timeout: step.check.timeout }
        : { tcp: `${target}:${step.check.port}`, interval: step.check.interval, timeout: step.check.timeout };
    }
    const file = `${this.opts.hostDir(a.host)}/consul/${a.name}/service-${step.service}.json`;
    const w = await this.run(a.host, ["tee", file], JSON.stringify({ service }, null, 2));
    if (w.code !== 0) return this.failed(step, w);
    const cp = await this.docker(a.host, ["cp", file, `${a.name}:/tmp/service-${step.service}.json`]);
    if (cp.code !== 0) return this.failed(step, cp);
    const r = await this.docker(a.host, ["exec", a.name, "consul", "services", "register", `-http-addr=${this.agentHttp(a.name)}`, `/tmp/service-${step.service}.json`]);
    if (r.code === 0 && step.check) this.checksDueAt = Math.max(this.checksDueAt, Date.now() + (durationMs(step.check.interval) ?? 10_000) + 1000);
    return r.code === 0 ? this.ok(step, `${step.service} registered with ${a.name}`) : this.failed(step, r);
  }

  private async fault(step: Extract<Step, { kind: "fault" }>): Promise<StepResult> {
    const f = step.fault;
    const inj = this.opts.faults;
    const need = (): FaultInjector => {
      if (!inj) throw new Error(`this driver cannot inject ${f.kind} (only a lab can)`);
      return inj;
    };
    switch (f.kind) {
      // A lab host is "off" when cut and its engine stopped. The cable and the power are separate, as in the
      // simulator: start does not plug back a cable the plan pulled, and restore does not wake a stopped host.
      case "stop_host":
        this.stoppedHosts.add(f.host);
        if (!this.cutHosts.has(f.host)) await need().cutHost(f.host);
        await need().stopEngine(f.host);
        break;
      case "start_host":
        this.stoppedHosts.delete(f.host);
        if (!this.cutHosts.has(f.host)) await need().restoreHost(f.host);
        await need().startEngine(f.host);
        break;
      case "stop_engine": await need().stopEngine(f.host); break;
      case "start_engine": await need().startEngine(f.host); break;
      case "cut_host":
        if (!this.cutHosts.has(f.host) && !this.stoppedHosts.has(f.host)) await need().cutHost(f.host);
        this.cutHosts.add(f.host);
        break;
      case "restore_host":
        if (this.cutHosts.has(f.host) && !this.stoppedHosts.has(f.host)) await need().restoreHost(f.host);
        this.cutHosts.delete(f.host);
        break;
      case "set_mtu": await need().setSegmentMtu(f.segment, f.mtu); break;
      case "block_port": await need().blockPort(f.from, f.to, f.proto, f.port); break;
      case "unblock_port": await need().unblockPort(f.from, f.to, f.proto, f.port); break;
      case "stop_agent": case "stop_container": {
        const name = "agent" in f ? f.agent : f.container;
        const host = this.index.containers.get(name)!.host;
        const r = await this.docker(host, ["stop", "-t", "10", name]);
        if (r.code !== 0) return this.failed(step, r);
        break;
      }
      case "start_agent": case "start_container": {
        const name = "agent" in f ? f.agent : f.container;
        const host = this.index.containers.get(name)!.host;
        const r = await this.docker(host, ["start", name]);
        if (r.code !== 0) return this.failed(step, r);
        break;
      }
      case "heal_partition": {
        const r = await this.healPartition();
        if (r) return this.failed(step, r);
        break;
      }
      case "partition": {
        // A new partition replaces the one before, as in the simulator.
        const healed = await this.healPartition();
        if (healed) return this.failed(step, healed);
        const groupOf = new Map<string, number>();
        f.groups.forEach((g, i) => g.forEach((h) => groupOf.set(h, i)));
        for (const h of this.plan.hosts) if (!groupOf.has(h.name)) groupOf.set(h.name, f.groups.length);
        for (const a of this.plan.hosts) {
          for (const b of this.plan.hosts) {
            if (groupOf.get(a.name) === groupOf.get(b.name)) continue;
            for (const nic of b.nics) {
              const r = await this.run(a.name, ["iptables", "-I", "INPUT", "-s", formatIp(nic.ip), "-m", "comment", "--comment", `${OWNER_LABEL} partition`, "-j", "DROP"]);
              if (r.code !== 0) return this.failed(step, r);
            }
          }
        }
        break;
      }
    }
    this.changedAt = Date.now();
    this.faulted = true;
    return this.ok(step, `fault ${f.kind} applied`);
  }

  // ---- observe -------------------------------------------------------------------------------

  /**
   * Observes reality. Clusters need time after a change (Swarm heartbeats, Serf failure detection, Raft
   * elections): the observation is repeated until two consecutive ones agree, or the settle time is up.
   */
  async observe(probes: readonly ProbeSpec[]): Promise<Observation> {
    this.pids.clear();
    const deadline = Date.now() + (this.opts.settleTimeoutMs ?? 90_000);
    // After a fault, Serf's failure detection and autopilot's 10-second rounds take their time: the
    // state must hold still for longer before it counts as settled.
    const quietMs = this.faulted ? 15_000 : 2_000;
    let prev = await this.observeState();
    let stableSince = Date.now();
    for (;;) {
      if (Date.now() >= deadline) break;
      await sleep(1000);
      const next = await this.observeState();
      if (JSON.stringify(next) !== JSON.stringify(prev)) {
        stableSince = Date.now();
        if (process.env.CROSSHOST_DEBUG_SETTLE) this.opts.log?.("*", `settling: ${changedParts(prev, next).join(", ")}`);
      }
      prev = next;
      // A check that has not run yet has no output: once every check has run, there is nothing to wait for.
      if (Date.now() - Math.max(stableSince, this.changedAt) >= quietMs && (Date.now() >= this.checksDueAt || this.checksNotRun === 0)) break;
    }
    this.faulted = false;
    const settled = Date.now();
    // Consul agents on Docker networks are probe targets too, though not container observations.
    const targets: Record<string, ContainerObservation> = { ...prev.containers };
    await Promise.all((this.plan.consul?.agents ?? []).filter((a) => a.network !== "host" && hostsUp(prev.hosts, a.host)).map(async (a) => {
      const st = await this.containerState(a.host, a.name);
      targets[a.name] = { host: a.host, state: st.running ? "running" : st.exists ? "exited" : "absent", addresses: st.running ? await this.inspectAddresses(a.host, a.name) : {} };
    }));
    this.owners.clear();
    const results = await mapLimit(probes, 24, (p) => this.probe(p, targets));
    if (process.env.CROSSHOST_DEBUG_SETTLE) this.opts.log?.("*", `settling: done; ${probes.length} probes in ${Date.now() - settled} ms`);
    return { driver: this.name, ...prev, probes: results };
  }

  private async observeState(): Promise<Omit<Observation, "driver" | "probes">> {
    const hosts: Record<string, HostObservation> = {};
    await Promise.all(this.plan.hosts.map(async (h) => {
      const alive = await this.run(h.name, ["true"], undefined, 10_000);
      const nets = alive.code === 0 ? await this.docker(h.name, ["network", "ls", "--format", "{{.Name}}"]) : undefined;
      // Only networks the plan knows: a user's own networks on the host are none of crosshost's business.
      hosts[h.name] = {
        up: alive.code === 0,
        engine: nets?.code === 0,
        networks: nets?.code === 0 ? nets.stdout.split("\n").map((s) => s.trim()).filter((s) => s && s !== "bridge" && this.index.networks.has(s)).sort() : [],
      };
    }));
    const containers: Record<string, ContainerObservation> = {};
    await Promise.all(this.plan.containers.filter((c) => !c.agent).map(async (c) => {
      if (!hosts[c.host]?.engine) {
        containers[c.name] = { host: c.host, state: "unknown", addresses: {} };
        return;
      }
      const st = await this.containerState(c.host, c.name);
      const addrs = st.running ? await this.inspectAddresses(c.host, c.name) : {};
      const planned = new Set(c.attachments.map((a) => a.network));
      containers[c.name] = {
        host: c.host,
        state: st.running ? "running" : st.exists ? "exited" : "absent",
        addresses: Object.fromEntries(Object.entries(addrs).filter(([k]) => planned.has(k))),
      };
    }));
    return { hosts: sortKeys(hosts, this.plan.hosts.map((h) => h.name)), containers: sortKeys(containers, this.plan.containers.map((c) => c.name)), swarm: await this.observeSwarm(hosts), consul: await this.observeConsul(), services: await this.observeServices() };
  }

  private async observeSwarm(hosts: Record<string, HostObservation>): Promise<SwarmObservation | null> {
    const swarm = this.plan.swarm;
    if (!swarm) return null;
    const active: string[] = [];
    await Promise.all(swarm.nodes.map(async (n) => {
      if (!hosts[n.host]?.engine) return;
      if ((await this.swarmState(n.host)) === "active") active.push(n.host);
    }));
    active.sort();
    for (const m of swarm.nodes.filter((n) => n.role === "manager" && active.includes(n.host))) {
      const r = await this.docker(m.host, ["node", "ls", "--format", "{{.Hostname}}\t{{.Status}}\t{{.ManagerStatus}}"]);
      if (r.code !== 0) continue;
      const rows = r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => l.split("\t") as [string, string, string?]);
      let leader: string | null = null;
      const nodes = swarm.nodes.map((n) => {
        const row = rows.find((x) => x[0] === n.host);
        const status = (row?.[1] ?? "").toLowerCase() === "ready" ? "ready" as const : "down" as const;
        const ms = (row?.[2] ?? "").toLowerCase();
        const manager = ms === "leader" ? "leader" as const : ms === "reachable" ? "reachable" as const : ms === "unreachable" ? "unreachable" as const : undefined;
        if (manager === "leader") leader = n.host;
        return { host: n.host, role: (row ? (ms ? "manager" : "worker") : n.role) as "manager" | "worker", status, ...(manager ? { manager } : {}) };
      });
      return { nodes, leader, active };
    }
    return { nodes: [], leader: null, active };
  }

  private async observeConsul(): Promise<Record<string, ConsulAgentObservation> | null> {
    const consul = this.plan.consul;
    if (!consul) return null;
    const out: Record<string, ConsulAgentObservation> = {};
    await Promise.all(consul.agents.map(async (a) => {
      const st = await this.containerState(a.host, a.name);
      if (!st.running) {
        out[a.name] = { running: false, leader: "", peers: [], members: {}, memberCounts: { alive: 0, failed: 0, left: 0 } };
        return;
      }
      // Without a known server or a leader these endpoints answer with an error: that means "no leader".
      const leader = await this.agentGet(a.name, "/v1/status/leader");
      const peers = await this.agentGet(a.name, "/v1/status/peers");
      const members = await this.agentGet(a.name, "/v1/agent/members");
      const m: Record<string, "alive" | "failed" | "left"> = {};
      const counts = { alive: 0, failed: 0, left: 0 };
      // Serf lists members in no fixed order: sort, so that two observations of the same state are equal.
      for (const x of (parseJson<{ Name: string; Status: number }[]>(members.body) ?? []).sort((p, q) => (p.Name < q.Name ? -1 : p.Name > q.Name ? 1 : 0))) {
        // Serf member status: 1 alive, 2 leaving, 3 left, 4 failed.
        const s = x.Status === 1 ? "alive" : x.Status === 3 || x.Status === 2 ? "left" : "failed";
        m[x.Name] = s;
        counts[s]++;
      }
      out[a.name] = { running: true, leader: (leader.ok ? parseJson<string>(leader.body) : undefined) ?? "", peers: ((peers.ok ? parseJson<string[]>(peers.body) : undefined) ?? []).sort(), members: m, memberCounts: counts };
    }));
    return sortKeys(out, consul.agents.map((a) => a.name));
  }

  private async observeServices(): Promise<Record<string, ServiceObservation>> {
    const out: Record<string, ServiceObservation> = {};
    let notRun = 0;
    for (const s of this.plan.services) {
      const agent = this.index.agents.get(s.agent)!;
      const st = await this.containerState(agent.host, agent.name);
      if (!st.running) {
        out[s.id] = { agent: s.agent, registered: false, health: "unknown", reason: `agent ${s.agent} is not running` };
        continue;
      }
      const svc = await this.agentGet(s.agent, `/v1/agent/service/${encodeURIComponent(s.id)}`);
      if (!svc.ok) {
        out[s.id] = { agent: s.agent, registered: false, health: "unknown", reason: "not registered" };
        continue;
      }
      if (!s.check) {
        out[s.id] = { agent: s.agent, registered: true, health: "passing" };
        continue;
      }
      const checks = parseJson<Record<string, { ServiceID: string; Status: string; Output: string }>>((await this.agentGet(s.agent, "/v1/agent/checks")).body) ?? {};
      const c = Object.values(checks).find((x) => x.ServiceID === s.id);
      if (!c || c.Output === "") notRun++;
      const health = (c?.Status ?? "unknown") as ServiceObservation["health"];
      out[s.id] = { agent: s.agent, registered: true, health, ...(c && health !== "passing" ? { reason: c.Output.trim().split("\n")[0] ?? "" } : {}) };
    }
    this.checksNotRun = notRun;
    return out;
  }

  private async probe(p: ProbeSpec, containers: Record<string, ContainerObservation>): Promise<ProbeResult> {
    const fromHost = p.from.startsWith("host:") ? p.from.slice(5) : this.index.containers.get(p.from)?.host;
    if (!fromHost) return { ...p, ok: false, reason: `no endpoint ${p.from}` };
    // A container observed not running sends and answers nothing, though its name may still resolve for a
    // moment and a restart loop may bring it up between tries (a Consul agent refusing its config): no probe
    // then, from it or to it, as the prediction has none.
    const down = [p.from, p.to].find((e) => {
      const state = containers[e]?.state;
      return state !== undefined && state !== "running" && this.index.containers.get(e)?.networkMode !== "host";
    });
    if (down !== undefined) return { ...p, ok: false, reason: `${down} is not running` };
    let target: string | undefined;
    if (p.by === "name") target = p.to;
    else if (parseIp(p.to) !== undefined) target = p.to;
    else if (p.to.startsWith("host:")) target = formatIp(this.index.hosts.get(p.to.slice(5))!.nics[0]!.ip);
    else {
      const c = this.index.containers.get(p.to);
      const addrs = containers[p.to]?.addresses ?? {};
      if (c?.networkMode === "host") target = formatIp(this.index.hosts.get(c.host)!.nics[0]!.ip);
      else if (p.network) target = addrs[p.network];
      else {
        const from = p.from.startsWith("host:") ? undefined : this.index.containers.get(p.from);
        const shared = c?.attachments.find((a) => from?.attachments.some((b) => b.network === a.network) && addrs[a.network]);
        target = shared ? addrs[shared.network] : c?.attachments.map((a) => addrs[a.network]).find((x) => x !== undefined);
      }
    }
    if (target === undefined) return { ...p, ok: false, reason: `${p.to} has no address` };
    // The same address may belong to someone on the sender's host (each docker0 hands out 172.17.0.2): the
    // packet then ends there and the reply proves nothing about the target, as the simulator says.
    if (p.by !== "name" && parseIp(p.to) === undefined) {
      const c = this.index.containers.get(p.to);
      const expected = p.to.startsWith("host:") ? p.to : c?.networkMode === "host" ? `host:${c.host}` : p.to;
      const owner = (await this.localOwners(fromHost)).get(target);
      if (owner !== undefined && owner !== expected) return { ...p, ok: false, address: target, reason: `${target} is also the address of ${owner.startsWith("host:") ? `host ${owner.slice(5)}` : `${owner} on ${fromHost}`}` };
    }
    if (p.proto !== "icmp") {
      const argv = ["nc", "-z", "-w", "2", target, String(p.port)];
      const r = p.from.startsWith("host:") ? await this.run(fromHost, argv, undefined, 10_000) : await this.inContainer(fromHost, p.from, argv, 10_000);
      return { ...p, ok: r.code === 0, address: target, ...(r.code !== 0 ? { reason: lastLine(r) || `${p.proto}/${p.port} refused or timed out` } : {}) };
    }
    // busybox ping (no DF) inside containers, as the seed does; the host's ping from its namespace. One
    // echo, and a second try when it is lost (the first packet may wait for ARP or the overlay's peer table).
    const ping = ["ping", "-c", "1", "-W", "1", "-s", String(p.size), target];
    let r: ExecResult | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      r = p.from.startsWith("host:") ? await this.run(fromHost, ping, undefined, 10_000) : await this.inContainer(fromHost, p.from, ping, 10_000);
      if (r.code === 0 && !/ 100% packet loss/.test(r.stdout)) return { ...p, ok: true, address: target };
      if (/bad address|unknown host|Network is unreachable|not found/i.test(`${r.stdout}${r.stderr}`)) break;
    }
    return { ...p, ok: false, address: target, reason: lastLine(r!) || "no reply" };
  }

  /** Removes the partition's DROP rules (by their comment) on every host; a failure's text, or undefined. */
  private async healPartition(): Promise<string | undefined> {
    for (const h of this.plan.hosts) {
      const list = await this.run(h.name, ["iptables", "-S", "INPUT"]);
      if (list.code !== 0) continue;
      for (const line of list.stdout.split("\n")) {
        if (!line.startsWith("-A INPUT ") || !line.includes(`${OWNER_LABEL} partition`)) continue;
        const m = /-s ([0-9.]+)\/32/.exec(line);
        if (!m) continue;
        const r = await this.run(h.name, ["iptables", "-D", "INPUT", "-s", m[1]!, "-m", "comment", "--comment", `${OWNER_LABEL} partition`, "-j", "DROP"]);
        if (r.code !== 0) return `${h.name}: ${lastLine(r)}`;
      }
    }
    return undefined;
  }

  private readonly owners = new Map<string, Promise<Map<string, string>>>();
  /** Lab hosts the plan's faults cut off, and the ones they stopped (cut and engine down). */
  private readonly cutHosts = new Set<string>();
  private readonly stoppedHosts = new Set<string>();

  /** Who holds each IPv4 address on a host: its own interfaces ("host:NAME") and its running containers (by name). */
  private localOwners(host: string): Promise<Map<string, string>> {
    let m = this.owners.get(host);
    if (!m) {
      m = (async () => {
        const out = new Map<string, string>();
        const ips = await this.run(host, ["ip", "-o", "-4", "addr", "show"], undefined, 10_000);
        for (const line of ips.stdout.split("\n")) {
          const ip = /\sinet\s+([0-9.]+)\//.exec(line)?.[1];
          if (ip) out.set(ip, `host:${host}`);
        }
        const ids = await this.docker(host, ["ps", "-q"]);
        const list = ids.stdout.split(/\s+/).filter(Boolean);
        if (ids.code === 0 && list.length > 0) {
          const r = await this.docker(host, ["inspect", "--format", "{{.Name}}{{range .NetworkSettings.Networks}} {{.IPAddress}}{{end}}", ...list]);
          for (const line of r.stdout.split("\n")) {
            const [name, ...addrs] = line.trim().split(/\s+/);
            if (!name) continue;
            for (const a of addrs) if (a && !out.has(a)) out.set(a, name.replace(/^\//, ""));
          }
        }
        return out;
      })();
      this.owners.set(host, m);
    }
    return m;
  }

  // ---- teardown ------------------------------------------------------------------------------

  /** Removes what crosshost created (by label), the swarm only where crosshost formed it. */
  /**
   * Best effort over every host; what could not be removed is collected and thrown at the end as one
   * TeardownIncomplete, so nothing that failed is reported as removed and nothing after it is skipped.
   */
  async teardown(): Promise<void> {
    const problems: string[] = [];
    const check = (host: string, what: string, r: ExecResult) => {
      if (r.code !== 0) problems.push(`${host}: ${what}: ${(r.stderr || r.stdout).trim().split("\n")[0] || `exit ${r.code}`}`);
    };
    const alive = new Set<string>();
    await Promise.all(this.plan.hosts.map(async (h) => {
      if ((await this.run(h.name, ["docker", "info", "--format", "{{.ID}}"], undefined, 15_000)).code !== 0) return;
      alive.add(h.name);
      const ids = await this.docker(h.name, ["ps", "-aq", "--filter", `label=${OWNER_LABEL}=true`, "--filter", `label=${PLAN_LABEL}=${this.plan.name}`]);
      const list = ids.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
      if (list.length > 0) check(h.name, `docker rm -f ${list.join(" ")}`, await this.docker(h.name, ["rm", "-f", "-v", ...list]));
    }));
    // Networks once every host's containers are gone. A swarm-scoped overlay is one cluster object: it is
    // removed once, on a manager, and only after the attachment tasks of the containers just removed on
    // every host are gone; until then the manager answers "network … is in use by task …".
    const swarmNets = new Map<string, string>();
    await Promise.all([...alive].map(async (host) => {
      const nets = await this.docker(host, ["network", "ls", "--filter", `label=${OWNER_LABEL}=true`, "--filter", `label=${PLAN_LABEL}=${this.plan.name}`, "--format", "{{.ID}} {{.Name}} {{.Scope}}"]);
      for (const [id, name, scope] of nets.stdout.split("\n").map((s) => s.trim().split(" ")).filter((x) => x[0])) {
        // Not the ingress crosshost recreated: removing it asks for confirmation and takes the routing mesh
        // away; it goes with the swarm below when crosshost formed the swarm, and stays when the swarm is the user's.
        if (name === "ingress") continue;
        if (scope === "swarm") swarmNets.set(id!, name!);
        else check(host, `docker network rm ${name}`, await this.docker(host, ["network", "rm", id!]));
      }
    }));
    if (swarmNets.size > 0) {
      const managers = (this.plan.swarm?.nodes ?? []).filter((n) => n.role === "manager" && alive.has(n.host)).map((n) => n.host);
      const on = managers.find((m) => m === this.plan.swarm?.init) ?? managers[0];
      for (const [id, name] of swarmNets) {
        if (on === undefined) {
          problems.push(`${name}: docker network rm: no manager of the swarm answers`);
          continue;
        }
        let r = await this.docker(on, ["network", "rm", id]);
        for (let tries = 0; r.code !== 0 && /in use by task/.test(r.stderr) && tries < 30; tries++) {
          await sleep(1000);
          r = await this.docker(on, ["network", "rm", id]);
        }
        if (r.code !== 0 && !/not found|No such network/i.test(r.stderr)) check(on, `docker network rm ${name}`, r);
      }
    }
    // Leave the swarm only where crosshost joined or formed it; workers and joiners first, then managers.
    const nodes = this.plan.swarm?.nodes ?? [];
    const order = [...nodes.filter((n) => n.role === "worker"), ...nodes.filter((n) => n.role === "manager" && n.host !== this.plan.swarm?.init), ...nodes.filter((n) => n.host === this.plan.swarm?.init)];
    for (const n of order) {
      // "pending" too: a join killed halfway leaves the node pending, and `swarm leave --force` ends that.
      const state = await this.swarmState(n.host);
      if (state === "inactive" || state === "unknown") continue;
      // A swarm the host was in before crosshost came is the user's: never leave it.
      if ((await this.recall(n.host, "swarm-formed")) === undefined) continue;
      check(n.host, "docker swarm leave --force", await this.docker(n.host, ["swarm", "leave", "--force"]));
    }
    for (const h of this.plan.hosts) {
      for (const s of h.shims) {
        const link = await this.run(h.name, ["ip", "-o", "link", "show", "dev", s.name]);
        if (link.code === 0 && link.stdout.includes(`alias ${OWNER_LABEL}=${this.plan.name}`)) check(h.name, `ip link del ${s.name}`, await this.run(h.name, ["ip", "link", "del", "dev", s.name]));
      }
      // The mark stays with a swarm that could not be left, so a second destroy still knows it is crosshost's.
      const stillIn = problems.some((p) => p.startsWith(`${h.name}: docker swarm leave`));
      await this.run(h.name, ["rm", "-rf", `${this.opts.hostDir(h.name)}/consul`, ...(stillIn ? [] : [`${this.opts.hostDir(h.name)}/swarm-formed`])]);
    }
    this.changedAt = Date.now();
    if (problems.length > 0) throw new TeardownIncomplete(problems);
  }
}

/** Thrown by RealDriver.teardown after it has tried everything: each entry is "host: what: why". */
export class TeardownIncomplete extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`could not remove ${problems.length === 1 ? "one thing" : `${problems.length} things`} crosshost created:\n  ${problems.join("\n  ")}`);
    this.name = "TeardownIncomplete";
  }
}

/** Docker's overlay default when no com.docker.network.driver.mtu option is set. */
const OVERLAY_DEFAULT_MTU = 1500;

/**
 * How an existing ingress differs from what the step sets ([] when it is as planned), read from
 * `docker network inspect --format '{{json .}}' ingress`. The MTU is a driver option, a string in Options:
 * "com.docker.network.driver.mtu": "1400" (dockerd 20.10 in the lab); absent on Docker's default ingress,
 * which is 1500. The key is com.docker.network.driver.mtu, not com.docker.network.mtu (docker/docs#14510).
 */
export function ingressDifferences(step: IngressReplaceStep, inspect: string): string[] {
  let n: { Driver?: string; Ingress?: boolean; IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null }; Options?: Record<string, string> | null };
  try {
    n = JSON.parse(inspect) as typeof n;
  } catch {
    return ["unreadable docker network inspect output"];
  }
  const out: string[] = [];
  if (n.Driver !== "overlay") out.push(`driver ${n.Driver ?? "?"} → overlay`);
  if (n.Ingress !== true) out.push("not the routing-mesh network → --ingress");
  const cfg = n.IPAM?.Config ?? [];
  const subnets = cfg.map((c) => c.Subnet ?? "").join(",");
  if (subnets !== step.subnet) out.push(`subnet ${subnets || "none"} → ${step.subnet}`);
  const gateways = cfg.map((c) => c.Gateway ?? "").join(",");
  if (gateways !== step.gateway) out.push(`gateway ${gateways || "none"} → ${step.gateway}`);
  const mtuOpt = n.Options?.["com.docker.network.driver.mtu"];
  const mtu = mtuOpt === undefined ? OVERLAY_DEFAULT_MTU : Number(mtuOpt);
  const planned = step.mtu ?? OVERLAY_DEFAULT_MTU;
  if (mtu !== planned) out.push(`mtu ${mtuOpt ?? `default ${OVERLAY_DEFAULT_MTU}`} → ${planned}`);
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function lastLine(r: ExecResult): string {
  return (r.stderr.trim() || r.stdout.trim()).split("\n").filter(Boolean).pop() ?? "";
}

function sortKeys<T>(o: Record<string, T>, order: readonly string[]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of order) if (k in o) out[k] = o[k]!;
  return out;
}

/** Commands that only look (dry runs run them, everything else is recorded). */
function readOnly(argv: readonly string[]): boolean {
  const [a, b, c] = argv;
  if (a === "docker") {
    if (b === "inspect" || b === "info" || b === "ps" || b === "version") return true;
    if ((b === "network" || b === "node") && (c === "inspect" || c === "ls")) return true;
    if (b === "swarm" && c === "join-token") return true;
    if (b === "image" && c === "inspect") return true;
    return false;
  }
  if (a === "test" || a === "cat" || a === "true" || a === "ss" || a === "wget") return true;
  if (a === "ip") return argv.includes("show") || argv.includes("-j");
  if (a === "nsenter") return argv.includes("wget") || argv.includes("ping") || argv.includes("nc");
  return false;
}

/** Which parts of two observations differ (for debugging how clusters settle). */
function changedParts(a: object, b: object, prefix = ""): string[] {
  const out: string[] = [];
  const ra = a as Record<string, unknown>, rb = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ra ?? {}), ...Object.keys(rb ?? {})])) {
    const x = ra?.[k], y = rb?.[k];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (x && y && typeof x === "object" && typeof y === "object" && !Array.isArray(x) && prefix.split(".").length < 3) out.push(...changedParts(x, y, `${prefix}${k}.`));
    else out.push(`${prefix}${k}: ${JSON.stringify(x)} → ${JSON.stringify(y)}`);
  }
  return out;
}

function hostsUp(hosts: Record<string, HostObservation>, host: string): boolean {
  return hosts[host]?.engine === true;
}
