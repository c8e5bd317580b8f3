// bench/ssh-apply: `crosshost apply` over SSH to three lab hosts (real sshd per netns host), all three in
// parallel against each host applied alone; issue 5's target: parallel within 1.5× of the slowest host.
// Each host gets its own bridge network and four containers (no cross-host ordering).
// Run as root: npx tsx bench/ssh-apply.ts [--rounds N]
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

async function timeApply(plan: Plan, opts: RemoteOptions): Promise<number> {
  const ctx = await connectRemote(plan, opts);
  try {
    const t0 = Date.now();
    const r = await remoteApply(ctx);
    const ms = Date.now() - t0;
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
  for (let r = 0; r < rounds; r++) {
    for (const [n] of HOSTS) (single[n] ??= []).push(await timeApply(planFor([n], sshd), opts));
    parallel.push(await timeApply(planFor(HOSTS.map(([n]) => n), sshd), opts));
  }
  const best = (xs: number[]) => Math.min(...xs);
  const slowest = Math.max(...Object.values(single).map(best));
  console.log(`apply over SSH: ${all.containers.length} containers, 3 networks on 3 hosts (best of ${rounds} rounds)`);
  for (const [n, xs] of Object.entries(single)) console.log(`  ${n} alone        ${(best(xs) / 1000).toFixed(2)} s`);
  console.log(`  all 3 in parallel ${(best(parallel) / 1000).toFixed(2)} s`);
  console.log(`  ratio parallel / slowest single host: ${(best(parallel) / slowest).toFixed(2)}× (target ≤ 1.5×)`);
  await sshd.stop();
} finally {
  await lab.down();
}
