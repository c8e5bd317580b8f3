// Times the dind lab for the seed's three hosts: outer engine, node image (cold or cached), three nodes up,
// swarm + overlay, Consul leader, a passing Consul check, down.
// Run: npx tsx bench/lab-dind.ts [--cold]   (--cold builds the node image in a fresh cache dir of its own)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { DindLab, downFromState, type DindProgressEvent, type StartedDindLab } from "../lab/dind/dind-lab.js";
import { buildBusyboxImage, buildConsulImage, BUSYBOX_IMAGE, CONSUL_IMAGE, crosshostCacheDir } from "../lab/images.js";
import { seedLabSpec } from "../lab/seed-spec.js";

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const row = (what: string, ms: number, extra = ""): void => console.log(`${what.padEnd(44)} ${seconds(ms).padStart(9)}  ${extra}`);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = Date.now();
  const v = await fn();
  return [v, Date.now() - t0];
}

async function must(lab: StartedDindLab, host: string, argv: string[], stdin?: string): Promise<string> {
  const r = await lab.transport(host).exec(argv, { timeoutMs: 60_000, ...(stdin !== undefined ? { stdin } : {}) });
  if (r.code !== 0) throw new Error(`${host}: ${argv.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cold = process.argv.includes("--cold");
const cacheDir = cold ? await mkdtemp(`${tmpdir()}/crosshost-bench-cache-`) : crosshostCacheDir();
const dind = new DindLab();
const spec = seedLabSpec("bench-dind");
const [S1, S2, C1] = ["consul-server-1", "consul-server-2", "consul-client-1"] as const;
const ADDR = { [S1]: "192.168.1.71", [S2]: "192.168.1.72", [C1]: "192.168.1.73" };
await downFromState(dind.stateFileOf(spec.name));

try {
  console.log(`crosshost dind lab benchmark: ${spec.hosts.length} hosts, cache ${cacheDir}${cold ? " (cold)" : ""}`);
  const events: DindProgressEvent[] = [];
  const at = (step: string, pick: "first" | "last" = "last"): number => {
    const hits = events.filter((e) => e.step === step);
    return (pick === "first" ? hits[0] : hits[hits.length - 1])?.atMs ?? 0;
  };
  const tStart = Date.now();
  const [lab, tUp] = await timed(() => dind.up(spec, { cacheDir, onProgress: (e) => events.push(e) }));
  const engineMs = at("engine");
  const imageEnd = at("image");
  const imageMsg = events.filter((e) => e.step === "image").pop()?.message ?? "";
  const restored = events.some((e) => e.step === "image" && /image store restored/.test(e.message));
  row(`outer engine (${lab.engineKind}${restored ? ", image store restored" : ""})`, engineMs);
  const how = /built now/.test(imageMsg) ? "cold: mmdebstrap + import" : /imported from the cached/.test(imageMsg) ? "cached rootfs tar, imported" : restored ? "cached: restored image store" : "cached in the engine";
  row(`node image (${how})`, imageEnd - at("testcontainers"), lab.nodeImage ?? "");
  row("three nodes up (containers + inner dockerd)", tUp - imageEnd);
  row("lab up, total", tUp);

  const [bb, cs] = await Promise.all([buildBusyboxImage({ cacheDir }), buildConsulImage({ cacheDir })]);
  // the images load while the swarm forms, as a driver would do it
  const loading = timed(() => Promise.all(lab.hosts.flatMap((h) => [lab.loadImage(h, bb), lab.loadImage(h, cs)])));
  const [, tSwarm] = await timed(async () => {
    await must(lab, S1, ["docker", "swarm", "init", "--advertise-addr", ADDR[S1]]);
    const mgr = await must(lab, S1, ["docker", "swarm", "join-token", "-q", "manager"]);
    const wrk = await must(lab, S1, ["docker", "swarm", "join-token", "-q", "worker"]);
    await Promise.all([
      must(lab, S2, ["docker", "swarm", "join", "--token", mgr, "--advertise-addr", ADDR[S2], `${ADDR[S1]}:2377`]),
      must(lab, C1, ["docker", "swarm", "join", "--token", wrk, "--advertise-addr", ADDR[C1], `${ADDR[S1]}:2377`]),
    ]);
  });
  row("swarm (init + manager join + worker join)", tSwarm);
  const [, tLoad] = await loading;
  row("busybox + consul images in 3 nodes (meanwhile)", tLoad);

  const [, tOverlay] = await timed(async () => {
    await must(lab, S1, ["docker", "network", "create", "--driver", "overlay", "--attachable", "--subnet", "10.20.0.0/16", "consul-overlay-net"]);
    await Promise.all([
      must(lab, S1, ["docker", "run", "-d", "--name", "web-service-1", "--network", "consul-overlay-net", "-p", "8080:80", BUSYBOX_IMAGE, "httpd", "-f", "-p", "80", "-h", "/var/www"]),
      must(lab, C1, ["docker", "run", "-d", "--name", "api-service-1", "--network", "consul-overlay-net", BUSYBOX_IMAGE, "sleep", "3600"]),
    ]);
    await until("ping by name across the overlay", async () => (await lab.transport(C1).exec(["docker", "exec", "api-service-1", "ping", "-c", "1", "-W", "1", "web-service-1"], { timeoutMs: 5_000 })).code === 0, 20_000);
  });
  row("overlay + 2 containers + ping by name", tOverlay);

  const http = async (host: string, url: string): Promise<string> => {
    const r = await lab.transport(host).exec(["busybox", "wget", "-q", "-O", "-", url], { timeoutMs: 3_000 });
    return r.code === 0 ? r.stdout.trim() : "";
  };
  const [, tConsul] = await timed(async () => {
    const ports = { dns: 8600, http: 8500, serf_lan: 8301, serf_wan: 8302, server: 8300 };
    const base = { datacenter: "dc1", data_dir: "/consul/data", bind_addr: "0.0.0.0", client_addr: "0.0.0.0", ports };
    const configs: Record<string, object[]> = {
      [S1]: [
        { ...base, node_name: S1, server: true, bootstrap_expect: 2, advertise_addr: ADDR[S1] },
        // registered with the address and the port it is really published on, so its check can pass
        { service: { name: "web-service-1", address: ADDR[S1], port: 8080, check: { http: `http://${ADDR[S1]}:8080/`, interval: "1s" } } },
      ],
      [S2]: [{ ...base, node_name: S2, server: true, advertise_addr: ADDR[S2], retry_join: [ADDR[S1]] }],
      [C1]: [{ ...base, node_name: C1, server: false, advertise_addr: ADDR[C1], retry_join: [ADDR[S1], ADDR[S2]] }],
    };
    const start = async (host: string): Promise<void> => {
      const dir = `${lab.hostDir(host)}/consul`;
      for (const [i, c] of (configs[host] ?? []).entries()) {
        await must(lab, host, ["sh", "-c", 'mkdir -p "$1" && cat > "$1/$2"', "sh", dir, `${i}.json`], JSON.stringify(c));
      }
      await must(lab, host, ["docker", "run", "-d", "--net=host", "--name", `consul-${host}`, "-v", `${dir}:/consul/config`, CONSUL_IMAGE, "consul", "agent", "-config-dir=/consul/config"]);
    };
    await Promise.all([start(S1), start(S2), start(C1)]);
    // retry_join waits 30 s after a first attempt that found nobody listening: join explicitly (lab-notes 6)
    await until("consul-server-1 HTTP API", async () => (await http(S1, "http://127.0.0.1:8500/v1/status/leader")) !== "", 15_000);
    await Promise.all([S2, C1].map((h) => must(lab, h, ["docker", "exec", `consul-${h}`, "consul", "join", ADDR[S1]])));
    await until("leader", async () => (await http(C1, `http://${ADDR[S1]}:8500/v1/status/leader`)) === `"${ADDR[S1]}:8300"`, 30_000);
  });
  row("consul: 3 agents, leader elected", tConsul);

  const [, tCheck] = await timed(() =>
    until("web-service-1 check passing", async () => {
      const body = await http(C1, `http://${ADDR[S1]}:8500/v1/health/checks/web-service-1`);
      return body !== "" && (JSON.parse(body) as { Status: string }[]).some((c) => c.Status === "passing");
    }, 30_000),
  );
  row("consul: web-service-1 check passing", tCheck);
  const tReady = Date.now() - tStart;
  row("up to a passing check, total", tReady, cold ? "(cold: includes the image build)" : tReady < 30_000 ? "(target < 30 s with a cached image: met)" : "(target < 30 s with a cached image: missed)");

  const [, tDown] = await timed(() => lab.down());
  row("lab down", tDown);
  row("everything", Date.now() - tStart);
} finally {
  await downFromState(dind.stateFileOf(spec.name));
  if (cold) await rm(cacheDir, { recursive: true, force: true });
}
