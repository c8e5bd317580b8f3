// Times the netns lab for the seed's three hosts: image builds (cold and cached), lab up, image import, down.
// Run as root: npx tsx bench/lab-netns.ts [--cold]   (--cold empties this benchmark's own image cache first)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { buildBusyboxImage, buildConsulImage, crosshostCacheDir, importImageEverywhere } from "../lab/images.js";
import { downFromState, NetnsLab } from "../lab/netns/netns-lab.js";
import { seedLabSpec } from "../lab/seed-spec.js";

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const row = (what: string, ms: number, extra = ""): void => console.log(`${what.padEnd(34)} ${seconds(ms).padStart(9)}  ${extra}`);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = Date.now();
  const v = await fn();
  return [v, Date.now() - t0];
}

const cold = process.argv.includes("--cold");
// a cold run uses a fresh cache dir, so the user's cache stays as it is
const cacheDir = cold ? await mkdtemp(`${tmpdir()}/crosshost-bench-cache-`) : crosshostCacheDir();
const lab = new NetnsLab();
const spec = seedLabSpec("bench");
await downFromState(lab.stateFileOf(spec.name));

try {
  console.log(`crosshost netns lab benchmark: ${spec.hosts.length} hosts, cache ${cacheDir}${cold ? " (cold)" : ""}`);
  const [bb1, tBb1] = await timed(() => buildBusyboxImage({ cacheDir }));
  row(`busybox image (${bb1.cached ? "cached" : "cold"})`, tBb1);
  const [, tBb2] = await timed(() => buildBusyboxImage({ cacheDir }));
  row("busybox image (cached)", tBb2);
  const [c1, tC1] = await timed(() => buildConsulImage({ cacheDir }));
  row(`consul image (${c1.cached ? "cached" : "cold, incl. apt"})`, tC1);
  const [, tC2] = await timed(() => buildConsulImage({ cacheDir }));
  row("consul image (cached)", tC2);

  const [started, tUp] = await timed(() => lab.up(spec));
  row("lab up (3 netns + 3 dockerd)", tUp);
  const [, tImp] = await timed(() => Promise.all([importImageEverywhere(started, bb1), importImageEverywhere(started, c1)]));
  row("import busybox + consul, 3 hosts", tImp);
  await Promise.all(
    started.hosts.map((h) =>
      started.transport(h).exec(["docker", "run", "-d", "--name", "web", "-p", "8080:80", bb1.tag, "httpd", "-f", "-p", "80", "-h", "/var/www"]),
    ),
  );
  const [, tDown] = await timed(() => started.down());
  row("lab down (3 running containers)", tDown);
  const [again, tUp2] = await timed(() => lab.up(spec));
  row("lab up (again)", tUp2);
  const [, tDown2] = await timed(() => again.down());
  row("lab down (idle engines)", tDown2);
} finally {
  await downFromState(lab.stateFileOf(spec.name));
  if (cold) await rm(cacheDir, { recursive: true, force: true });
}
