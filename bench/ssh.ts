// Times SSH work on the seed's three lab hosts (real sshd per netns host, ssh2 client): a fixed workload
// on all three hosts in parallel against the slowest host alone. Issue 5's target: parallel within 1.5×
// of the slowest single host.
// Run as root: npx tsx bench/ssh.ts [--rounds N] [--commands N]
// Importable: benchSsh() takes any started LabSshd and workload (the apply benchmark will pass its own).
import { readFile } from "node:fs/promises";
import { cpus } from "node:os";
import { pathToFileURL } from "node:url";
import { downFromState, NetnsLab } from "../lab/netns/netns-lab.js";
import { LabSshd, withOperator } from "../lab/netns/sshd.js";
import { seedLabSpec } from "../lab/seed-spec.js";
import type { Transport } from "../src/drivers/transport.js";
import { SshPool } from "../src/drivers/transports/ssh-pool.js";

/** Read-only docker queries, as a preflight or a verify step issues them. */
const DOCKER_QUERIES: readonly (readonly string[])[] = [
  ["docker", "version", "--format", "{{.Server.Version}}"],
  ["docker", "info", "--format", "{{.Name}} {{.Swarm.LocalNodeState}}"],
  ["docker", "network", "ls", "--format", "{{.Name}} {{.Driver}}"],
  ["docker", "ps", "-a", "--format", "{{.Names}}"],
  ["docker", "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
];

/** `n` docker commands, cycling through the queries above. */
export function dockerWorkload(n = 20): (readonly string[])[] {
  return Array.from({ length: n }, (_, i) => DOCKER_QUERIES[i % DOCKER_QUERIES.length] ?? ["true"]);
}

/** Runs the commands one after another (as an apply runs a host's steps); throws on the first failure. */
export async function runWorkload(t: Transport, workload: readonly (readonly string[])[]): Promise<void> {
  for (const argv of workload) {
    const r = await t.exec(argv, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`${t.host}: ${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  }
}

export interface Timing {
  /** Connecting (TCP, handshake, auth). */
  readonly connectMs: number;
  /** The workload, connections already open. */
  readonly workMs: number;
  readonly totalMs: number;
  /** Machine-wide CPU busy during the run, as a share of all cores (0..1); the lab's hosts share these cores. */
  readonly cpuBusy: number;
  /** CPU time of this process (the SSH client side), in ms. */
  readonly clientCpuMs: number;
  /** CPU time the hosts used (sshd, the commands, dockerd), summed over the hosts, in ms. */
  readonly hostCpuMs: number;
  /** CPU time of the lab's relay (it carries the client's TCP into the lab; real hosts need none), in ms. */
  readonly relayCpuMs: number;
}

/** Busy and total jiffies of all cores, from /proc/stat. */
async function cpuTimes(): Promise<{ busy: number; total: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface SshBenchResult {
  readonly hosts: readonly string[];
  readonly commandsPerHost: number;
  readonly rounds: number;
  /** Median per host, run alone. */
  readonly single: Readonly<Record<string, Timing>>;
  /** Median of all hosts at once. */
  readonly parallel: Timing;
  readonly slowestSingle: { readonly host: string } & Timing;
  /** parallel.totalMs / slowestSingle.totalMs. */
  readonly ratio: number;
  /**
   * The least ratio this machine allows: the CPU the parallel run needed (hosts, client, relay) spread over all
   * cores, against the slowest host alone. Lab hosts share this machine's cores; real hosts do not.
   */
  readonly cpuFloor: number;
}

export interface SshBenchOptions {
  readonly workload?: readonly (readonly string[])[];
  readonly rounds?: number;
  readonly hosts?: readonly string[];
  /** Transport work per host; default runWorkload(workload). */
  readonly work?: (t: Transport) => Promise<void>;
}

/** Fresh connections each time: connect + workload on `hosts`, all at once (concurrency = host count). */
async function timeRun(sshd: LabSshd, hosts: readonly string[], work: (t: Transport) => Promise<void>): Promise<Timing> {
  const pool = new SshPool({ concurrency: hosts.length, knownHosts: sshd.knownHostsFile, dial: sshd.dialer });
  const hostCpu = (): Promise<number[]> => Promise.all(hosts.map((h) => sshd.hostCpuMs(h)));
  const host0 = await hostCpu();
  const relay0 = await sshd.relayCpuMs();
  let timing: Omit<Timing, "hostCpuMs" | "relayCpuMs">;
  try {
    const cpu0 = await cpuTimes();
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    const opened = await pool.open(sshd.sshHosts(hosts));
    for (const o of opened) if (!o.ok) throw o.error;
    const t1 = performance.now();
    const done = await pool.run(work);
    for (const o of done) if (!o.ok) throw o.error;
    const t2 = performance.now();
    const client = process.cpuUsage(client0);
    const cpu1 = await cpuTimes();
    timing = {
      connectMs: t1 - t0, workMs: t2 - t1, totalMs: t2 - t0,
      cpuBusy: (cpu1.busy - cpu0.busy) / Math.max(1, cpu1.total - cpu0.total), clientCpuMs: (client.user + client.system) / 1000,
    };
  } finally {
    await pool.close();
  }
  const host1 = await hostCpu();
  return { ...timing, hostCpuMs: host1.reduce((sum, v, i) => sum + v - (host0[i] ?? 0), 0), relayCpuMs: (await sshd.relayCpuMs()) - relay0 };
}

/** The run with the median total time (so its parts belong together). */
function median(ts: readonly Timing[]): Timing {
  const sorted = [...ts].sort((a, b) => a.totalMs - b.totalMs);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? { connectMs: 0, workMs: 0, totalMs: 0, cpuBusy: 0, clientCpuMs: 0, hostCpuMs: 0, relayCpuMs: 0 };
}

/** Each round times every host alone, then all hosts at once; medians over the rounds. */
export async function benchSsh(sshd: LabSshd, options: SshBenchOptions = {}): Promise<SshBenchResult> {
  const hosts = options.hosts ?? sshd.hosts;
  const workload = options.workload ?? dockerWorkload();
  const rounds = Math.max(1, options.rounds ?? 5);
  const work = options.work ?? ((t: Transport) => runWorkload(t, workload));
  await timeRun(sshd, hosts, work); // warm-up: ssh2 loaded, page cache and docker CLI warm
  const singles = new Map<string, Timing[]>(hosts.map((h) => [h, []]));
  const parallels: Timing[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const h of hosts) singles.get(h)?.push(await timeRun(sshd, [h], work));
    parallels.push(await timeRun(sshd, hosts, work));
  }
  const single = Object.fromEntries(hosts.map((h) => [h, median(singles.get(h) ?? [])]));
  const slowestHost = hosts.reduce((a, b) => ((single[b]?.totalMs ?? 0) > (single[a]?.totalMs ?? 0) ? b : a));
  const slowest = single[slowestHost] ?? median([]);
  const parallel = median(parallels);
  return {
    hosts, commandsPerHost: workload.length, rounds, single, parallel,
    slowestSingle: { host: slowestHost, ...slowest }, ratio: parallel.totalMs / slowest.totalMs,
    cpuFloor: (parallel.hostCpuMs + parallel.clientCpuMs + parallel.relayCpuMs) / cpus().length / slowest.totalMs,
  };
}

export function formatSshBench(r: SshBenchResult, title = `${r.commandsPerHost} docker commands per host`): string {
  const ms = (n: number): string => `${n.toFixed(0).padStart(6)} ms`;
  const row = (what: string, t: Timing): string =>
    `${what.padEnd(28)} ${ms(t.totalMs)}  (connect ${ms(t.connectMs)}, work ${ms(t.workMs)}; CPU: hosts ${ms(t.hostCpuMs)}, client ${ms(t.clientCpuMs)}, relay ${ms(t.relayCpuMs)}, machine ${(t.cpuBusy * 100).toFixed(0).padStart(3)}% busy)`;
  return [
    `SSH benchmark: ${title}, sequential per host; median of ${r.rounds} rounds`,
    ...r.hosts.map((h) => row(`  ${h} alone`, r.single[h] ?? median([]))),
    row(`  ${r.hosts.length} hosts in parallel`, r.parallel),
    `  per command (slowest alone)    ${(r.slowestSingle.workMs / r.commandsPerHost).toFixed(1).padStart(6)} ms`,
    `parallel / slowest single host (${r.slowestSingle.host}): ${r.ratio.toFixed(2)}× (target ≤ 1.5×): ${r.ratio <= 1.5 ? "OK" : "MISSED"}; ` +
      `CPU floor on these ${cpus().length} shared cores: ${r.cpuFloor.toFixed(2)}×`,
  ].join("\n");
}

async function main(): Promise<void> {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const netnsLab = new NetnsLab();
  const spec = withOperator(seedLabSpec("bench-ssh"));
  await downFromState(netnsLab.stateFileOf(spec.name));
  const t0 = performance.now();
  const lab = await netnsLab.up(spec);
  let sshd: LabSshd | undefined;
  try {
    sshd = await LabSshd.start(lab);
    console.log(`lab + sshd up in ${(performance.now() - t0).toFixed(0)} ms (hosts ${sshd.hosts.join(", ")}; client in netns of ${sshd.vantage})`);
    const n = arg("--commands") ?? 20;
    const result = await benchSsh(sshd, { rounds: arg("--rounds"), workload: dockerWorkload(n) });
    console.log(formatSshBench(result));
    // the same number of commands that cost next to nothing on the host: what the transport itself adds
    const light = await benchSsh(sshd, { rounds: arg("--rounds"), workload: Array.from({ length: n }, () => ["cat", "/proc/loadavg"]) });
    console.log(formatSshBench(light, `${n} light commands (cat /proc/loadavg) per host`));
    // commands that take host time but no CPU here: what parallel hosts look like when they do not share cores
    const idle = await benchSsh(sshd, { rounds: arg("--rounds"), workload: Array.from({ length: n }, () => ["sleep", "0.04"]) });
    console.log(formatSshBench(idle, `${n} × sleep 0.04 per host (host time without CPU, as on separate machines)`));
  } finally {
    await sshd?.stop();
    await downFromState(netnsLab.stateFileOf(spec.name));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
