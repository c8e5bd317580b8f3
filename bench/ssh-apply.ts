// bench/ssh-apply: `crosshost apply` over SSH to three lab hosts (real sshd per netns host), all three in
// parallel against each host applied alone; issue 5's target: parallel within 1.5× of the slowest host.
// Each host gets its own bridge network and four containers (no cross-host ordering).
// Run as root: npx tsx bench/ssh-apply.ts [--rounds N]
import { cpus } from "node:os";
import { stringify } from "yaml";
import { NetnsLab } from "../lab/netns/netns-lab.js";
import { LabSshd, withOperator } from "../lab/netns/sshd.js";
import { labConsul, labWorkload, loadLabImages, planToLabSpec } from "../lab/plan-lab.js";
import type { Plan } from "../src/model/plan.js";
import { validateValue } from "../src/model/validate.js";
import { connectRemote, remoteApply, remoteDestroy, type RemoteOptions } from "../src/drivers/ssh/remote.js";

const rounds = Number(process.argv.includes("--rounds") ? process.argv[process.argv.indexOf("--rounds") + 1] : 2);
const HOSTS = [["h1", "192.168.1.71"], ["h2", "192.168.1.72"], ["h3", "192.168.1.73"]] as const;

function planFor(names: readonly string[], sshd?: LabSshd): Plan {
  const raw = {
    name: "bench-ssh",
    hosts: HOSTS.filter(([n]) => names.includes(n)).map(([name, ip]) => ({
      name, nics: [{ name: "ens34", address: `${ip}/24` }],
      ...(sshd ? { ssh: { address: ip, user: "root", key_file: sshd.clientKey } } : {}),
    })),
    networks: names.map((n, i) => ({ name: `net-${n}`, subnet: `10.${60 + i}.0.0/24`, hosts: [n] })),
    containers: names.flatMap((n) => [1, 2, 3, 4].map((k) => ({ name: `${n}-c${k}`, host: n, networks: [`net-${n}`] }))),
  };
  const v = validateValue(JSON.parse(stringify(raw) === "" ? "{}" : JSON.stringify(raw)));
  if (!v.plan) throw new Error(v.diagnostics.map((d) => d.message).join("; "));
  return v.plan;
}

/** Per host, the time its remote commands took during the last timed apply (summed). */
let commandMs: Record<string, number> = {};

async function timeApply(plan: Plan, opts: RemoteOptions): Promise<number> {
  let timing = false;
  const ctx = await connectRemote(plan, { ...opts, log: (e) => { if (timing && e.type === "command") commandMs[e.host] = (commandMs[e.host] ?? 0) + e.ms; } });
  try {
    commandMs = {};
    timing = true;
    const t0 = Date.now();
    const r = await remoteApply(ctx);
    const ms = Date.now() - t0;
    timing = false;
    const bad = r.results.filter((x) => x.status === "failed");
    if (r.stoppedBeforeChanges || bad.length) throw new Error(`apply failed: ${[...ctx.diagnostics.filter((d) => d.severity === "error").map((d) => d.message), ...bad.map((b) => b.message)].join("; ")}`);
    await remoteDestroy(ctx);
    return ms;
  } finally {
    await ctx.pool.close();
  }
}

const all = planFor(HOSTS.map(([n]) => n));
const lab = await new NetnsLab().up(withOperator(planToLabSpec(all, "bench-ssh")));
try {
  await loadLabImages(lab, all);
  const sshd = await LabSshd.start(lab);
  const opts: RemoteOptions = { knownHosts: sshd.knownHostsFile, dial: sshd.dialer, driver: { workload: labWorkload, consulImage: labConsul } };
  const parallel: number[] = [];
  const single: Record<string, number[]> = {};
  // Command time of each host in the best single and the best parallel run: the same commands, run alone
  // and side by side. Wall time above it is crosshost's own (SSH round trips, ordering).
  const cmdAlone: Record<string, number> = {};
  let cmdParallel: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [n] of HOSTS) {
      const ms = await timeApply(planFor([n], sshd), opts);
      if (ms < Math.min(Infinity, ...(single[n] ?? []))) cmdAlone[n] = commandMs[n] ?? 0;
      (single[n] ??= []).push(ms);
    }
    const ms = await timeApply(planFor(HOSTS.map(([n]) => n), sshd), opts);
    if (ms < Math.min(Infinity, ...parallel)) cmdParallel = commandMs;
    parallel.push(ms);
  }
  const best = (xs: number[]) => Math.min(...xs);
  const slowest = Math.max(...Object.values(single).map(best));
  const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`apply over SSH: ${all.containers.length} containers, 3 networks on 3 hosts (best of ${rounds} rounds)`);
  for (const [n, xs] of Object.entries(single)) console.log(`  ${n} alone        ${sec(best(xs))}   (its commands: ${sec(cmdAlone[n] ?? 0)} alone, ${sec(cmdParallel[n] ?? 0)} in parallel)`);
  console.log(`  all 3 in parallel ${sec(best(parallel))}`);
  console.log(`  ratio parallel / slowest single host: ${(best(parallel) / slowest).toFixed(2)}× (target ≤ 1.5×)`);
  console.log(`  ${cpus().length} CPUs for 3 hosts' engines: the same commands take ${(Math.max(...Object.values(cmdParallel)) / Math.max(...Object.values(cmdAlone))).toFixed(2)}× as long side by side`);
  await sshd.stop();
} finally {
  await lab.down();
}
