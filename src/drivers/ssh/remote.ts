// Real hosts over SSH: connect (host keys verified), inspect each host (facts), validate with the facts,
// apply only what is missing, verify against the prediction, destroy exactly what crosshost created.
import { formatIp } from "../../model/ip.js";
import { appendAll, diag, hasErrors, sortDiagnostics, type Diagnostic } from "../../model/diagnostics.js";
import type { Observation } from "../../model/observation.js";
import type { Plan } from "../../model/plan.js";
import { compareObservations, evaluateExpectations, type Difference, type ExpectationResult } from "../../model/sim/evaluate.js";
import { observationProbes } from "../../model/sim/probes.js";
import { World } from "../../model/sim/world.js";
import { compileSteps } from "../../model/steps/compile.js";
import type { Step, StepResult } from "../../model/steps/step.js";
import { runRules } from "../../model/validate.js";
import { applyConcurrent, type Driver } from "../driver.js";
import { RealDriver, TeardownIncomplete, type RealDriverOptions } from "../real/real-driver.js";
import { applyFacts, factFindings, gatherFacts, type HostFacts } from "../real/host-facts.js";
import type { Dialer } from "../transports/dial.js";
import { SshPool } from "../transports/ssh-pool.js";
import type { SshLogEvent } from "../transports/ssh-transport.js";

export interface RemoteOptions {
  /** known_hosts file (default ~/.ssh/known_hosts). */
  readonly knownHosts?: string;
  /** Record unknown host keys (never accept a changed one). */
  readonly acceptNew?: boolean;
  readonly concurrency?: number;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** How to reach the hosts (tests: through a lab's relay). */
  readonly dial?: Dialer;
  readonly progress?: (host: string, message: string) => void;
  readonly log?: (e: SshLogEvent) => void;
  /** Image substitutions and extra Consul configuration (a lab's hosts cannot pull images). */
  readonly driver?: Pick<RealDriverOptions, "workload" | "consulImage" | "consulExtraConfig">;
}

export interface RemoteContext {
  readonly pool: SshPool;
  /** The plan with the hosts' facts applied. */
  readonly plan: Plan;
  readonly facts: HostFacts[];
  /** Validation with facts, unreachable hosts and mismatches: errors stop apply before anything changes. */
  readonly diagnostics: Diagnostic[];
  readonly driver: RealDriver;
}

/** Where crosshost keeps its files on a real host (per plan and host: lab hosts may share a filesystem). */
export function remoteDir(plan: Plan, host: string): string {
  return `/var/lib/crosshost/${plan.name}/${host}`;
}

/** A plan host without ssh settings cannot be reached: a finding about the plan, before any connection. */
export function missingSshSettings(plan: Plan): Diagnostic[] {
  return plan.hosts.filter((x) => !x.ssh).map((h) => diag("missing_field", {
    path: h.path, host: h.name,
    message: `host ${h.name} has no ssh settings: crosshost cannot reach it`,
    hint: `Add ssh: { address: ${h.nics[0] ? formatIp(h.nics[0].ip) : "ADDRESS"}, user: root, key_file: ~/.ssh/id_ed25519 } to ${h.name} (leave out key_file to use the SSH agent).`,
  }));
}

export async function connectRemote(plan: Plan, opts: RemoteOptions = {}): Promise<RemoteContext> {
  const diagnostics: Diagnostic[] = missingSshSettings(plan);
  const pool = new SshPool({
    ...(opts.knownHosts ? { knownHosts: opts.knownHosts } : {}),
    acceptNew: !!opts.acceptNew,
    concurrency: opts.concurrency ?? 8,
    ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.commandTimeoutMs ? { commandTimeoutMs: opts.commandTimeoutMs } : {}),
    ...(opts.dial ? { dial: opts.dial } : {}),
    ...(opts.log ? { logger: opts.log } : {}),
  });
  const hosts = plan.hosts.filter((h) => h.ssh).map((h) => {
    const { path: _path, ...target } = h.ssh!;
    return { host: h.name, target };
  });
  opts.progress?.("*", `connecting to ${hosts.length} host${hosts.length === 1 ? "" : "s"}`);
  const outcomes = await pool.open(hosts);
  const reachable = new Set<string>();
  for (const o of outcomes) {
    if (o.ok) {
      reachable.add(o.host);
      opts.progress?.(o.host, `connected (${o.ms} ms)`);
      continue;
    }
    const h = plan.hosts.find((x) => x.name === o.host)!;
    diagnostics.push(diag("ssh_unreachable", {
      path: [...h.path, "ssh"], host: o.host, message: o.error.message,
      hint: o.error.kind === "host-key-unknown" ? "Verify the fingerprint, then run once with --accept-new to record it."
        : o.error.kind === "host-key-changed" ? "The host key changed: find out why (a reinstalled host? someone in between?) before you remove the old line from known_hosts."
        : "Check the address, port, user and key in the host's ssh settings, and that sshd runs there.",
    }));
  }
  const facts: HostFacts[] = [];
  await Promise.all(plan.hosts.filter((h) => reachable.has(h.name)).map(async (h) => {
    opts.progress?.(h.name, "inspecting (docker, kernel, NICs, ports)");
    facts.push(await gatherFacts(pool.get(h.name), h));
  }));
  facts.sort((a, b) => a.host.localeCompare(b.host));
  const withFacts = applyFacts(plan, facts);
  appendAll(appendAll(diagnostics, factFindings(plan, facts)), runRules(withFacts));
  const driver = new RealDriver(withFacts, {
    name: "ssh",
    transport: (h) => pool.get(h),
    hostDir: (h) => remoteDir(plan, h),
    ...(opts.progress ? { log: (h: string, m: string) => opts.progress!(h, m) } : {}),
    ...opts.driver,
  });
  return { pool, plan: withFacts, facts, diagnostics: sortDiagnostics(diagnostics), driver };
}

export interface ApplyReport {
  readonly diagnostics: Diagnostic[];
  readonly steps: Step[];
  readonly results: StepResult[];
  /** True when errors stopped it before anything changed. */
  readonly stoppedBeforeChanges: boolean;
}

/**
 * A failing host stops its own remaining steps; by default the whole run stops (what already ran is
 * reported); with continueOnError the other hosts go on.
 */
class StopOnFailure implements Driver {
  readonly name: string;
  private readonly failedHosts = new Set<string>();
  private stopped = false;

  constructor(private readonly inner: Driver, private readonly continueOnError: boolean) {
    this.name = inner.name;
  }

  async apply(step: Step): Promise<StepResult> {
    if (this.stopped) return { id: step.id, status: "skipped", message: "the run stopped after a failure (--continue-on-error goes on with the other hosts)" };
    if (this.failedHosts.has(step.host)) return { id: step.id, status: "skipped", message: `an earlier step on ${step.host} failed` };
    const r = await this.inner.apply(step);
    if (r.status === "failed") {
      this.failedHosts.add(step.host);
      if (!this.continueOnError) this.stopped = true;
    }
    return r;
  }

  observe: Driver["observe"] = (p) => this.inner.observe(p);
  teardown: Driver["teardown"] = () => this.inner.teardown();
}

/** Findings no --force can override: the hosts are unreachable or not what the plan says. */
const ALWAYS_BLOCKING = new Set(["ssh_unreachable", "host_fact_mismatch"]);

export async function remoteApply(ctx: RemoteContext, opts: { dryRun?: boolean; continueOnError?: boolean; force?: boolean; onResult?: (s: Step, r: StepResult) => void } = {}): Promise<ApplyReport> {
  // Faults are for labs: real hosts get the plan's steps only.
  const steps = compileSteps(ctx.plan, { faults: false });
  const blocking = ctx.diagnostics.filter((d) => d.severity === "error" && (!opts.force || ALWAYS_BLOCKING.has(d.code)));
  if (hasErrors(blocking)) return { diagnostics: ctx.diagnostics, steps, results: [], stoppedBeforeChanges: true };
  const driver = opts.dryRun ? ctx.driver.dryRun() : ctx.driver;
  const results = await applyConcurrent(new StopOnFailure(driver, !!opts.continueOnError), steps, opts.onResult);
  return { diagnostics: ctx.diagnostics, steps, results, stoppedBeforeChanges: false };
}

export interface VerifyReport {
  readonly prediction: Observation;
  readonly reality: Observation;
  readonly differences: Difference[];
  readonly expectations: ExpectationResult[];
}

export async function remoteVerify(ctx: RemoteContext): Promise<VerifyReport> {
  const steps = compileSteps(ctx.plan, { faults: false });
  const probes = observationProbes(ctx.plan);
  const world = new World(ctx.plan);
  for (const s of steps) world.apply(s);
  const prediction = world.observe(probes);
  const reality = await ctx.driver.observe(probes);
  return { prediction, reality, differences: compareObservations(prediction, reality), expectations: evaluateExpectations(ctx.plan, reality) };
}

/** Removes what crosshost created; returns what could not be removed ("host: what: why"), [] when all went. */
export async function remoteDestroy(ctx: RemoteContext): Promise<readonly string[]> {
  try {
    await ctx.driver.teardown();
    return [];
  } catch (e) {
    if (e instanceof TeardownIncomplete) return e.problems;
    throw e;
  }
}
