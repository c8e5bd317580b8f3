import { access, readdir, rmdir } from "node:fs/promises";
import { LabTeardownError } from "./errors.js";
import { killNetnsProcesses, stopEngine } from "./engine.js";
import { readLabState, type LabState, type RecordedRule } from "./state.js";
import { cgroupDirs, cgroupRoots, listLinks, pidsInCgroup, signalAll, tryRun, unmountAllUnder, waitExited } from "./sys.js";

// Measured here: dockerd + containerd exit ~25 ms after SIGTERM if no container ever ran, but ~1 s once a
// container has (a containerd reconnect loop in dockerd's shutdown). Nothing they would clean up survives
// teardown (the lab dir goes), so they get this long before SIGKILL.
const TEARDOWN_GRACE_MS = 500;

export interface TeardownOptions {
  /** How long each dockerd gets after SIGTERM before it is killed (its containers are killed first); default 500 ms. */
  readonly graceMs?: number;
  readonly onProgress?: (message: string) => void;
}

export interface TeardownReport {
  /** False when there was no state file: nothing to do. */
  readonly found: boolean;
  readonly ms: number;
  /** Things that were already gone or skipped as not ours (informational). */
  readonly notes: readonly string[];
}

/**
 * Tears down everything recorded in the state file, in any state (half-built, crashed, already partly
 * removed), from the file alone. Touches only what the file lists: its netns, links, iptables rules
 * (matched by their crosshost comment), cgroups, and processes whose command line names the lab's host
 * directories. Throws LabTeardownError (keeping the state file) if something could not be removed.
 */
export async function downFromState(stateFile: string, options: TeardownOptions = {}): Promise<TeardownReport> {
  const t0 = Date.now();
  if (!(await access(stateFile).then(() => true, () => false))) {
    return { found: false, ms: Date.now() - t0, notes: [`no state file ${stateFile}`] };
  }
  const state: LabState = await readLabState(stateFile);
  const { layout } = state;
  const problems: string[] = [];
  const notes: string[] = [];
  const say = options.onProgress ?? (() => undefined);

  // 1. processes: all hosts at once; containers die first so each dockerd's shutdown has nothing to wait for
  say("stopping engines");
  await Promise.all(
    layout.hosts.map(async (h) => {
      const stuck = await stopEngine(h, {
        killContainersFirst: true,
        graceMs: options.graceMs ?? TEARDOWN_GRACE_MS,
        recordedPids: state.enginePids[h.name] ?? [],
      });
      const stuckNs = state.netns.includes(h.netns) ? await killNetnsProcesses(h) : [];
      for (const pid of [...stuck, ...stuckNs]) problems.push(`host ${h.name}: pid ${pid} did not exit after SIGKILL`);
    }),
  );
  const leftover = await pidsInCgroup(layout.cgroupParent);
  signalAll(leftover, "SIGKILL");
  for (const pid of await waitExited(leftover, 3_000)) problems.push(`pid ${pid} in cgroup ${layout.cgroupParent} did not exit`);

  // 2. mounts: overlay2 rootfs, docker's netns files, the data-root self-bind, our UTS files
  say("unmounting");
  const stillMounted = await unmountAllUnder(layout.labDir);
  for (const m of stillMounted) problems.push(`still mounted: ${m}`);

  // 3. namespaces, rules, links
  say("removing namespaces, rules and links");
  await Promise.all(
    state.netns.map(async (ns) => {
      const r = await tryRun(["ip", "netns", "del", ns]);
      if (r.code !== 0 && !/No such file/.test(r.stderr)) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }),
  );
  for (const rule of state.rules) {
    if (rule.netns !== undefined) continue; // went away with its lab netns
    const msg = await deleteRule(rule);
    if (msg) problems.push(msg);
  }
  say("netns deleted; removing rules and links");
  const links = new Map((await listLinks()).map((l) => [l.ifname, l]));
  await Promise.all(
    state.links.map(async (name) => {
      const link = links.get(name);
      if (!link) return;
      if (link.ifalias !== undefined && link.ifalias !== "" && !link.ifalias.startsWith(`crosshost lab=${layout.lab} `)) {
        notes.push(`link ${name} carries alias "${link.ifalias}", not ours: left alone`);
        return;
      }
      const r = await tryRun(["ip", "link", "del", name]);
      if (r.code !== 0 && !/Cannot find device|No such device/.test(r.stderr)) problems.push(`ip link del ${name}: ${r.stderr.trim()}`);
    }),
  );

  say("removing cgroups and the lab dir");
  // 4. cgroups (deepest first), shared runtime dirs we created, the lab dir
  for (const rel of state.cgroups) {
    for (const dir of await cgroupDirs(rel)) {
      try {
        await rmdir(dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOENT") problems.push(`rmdir ${dir}: ${code}`);
      }
    }
  }
  // the shared "/crosshost" parent: rmdir fails (and is ignored) while another lab still has a cgroup in it
  for (const root of await cgroupRoots()) await rmdir(`${root}/crosshost`).catch(() => undefined);
  // only empty directories: another engine may be using them by now
  for (const dir of state.sharedDirs) await removeEmptyDirs(dir);
  if (problems.length > 0) throw new LabTeardownError(stateFile, problems);
  if (state.labDirCreated) {
    // no mounts are left under it (checked above), so this cannot reach outside the lab dir
    const r = await tryRun(["rm", "-rf", "--one-file-system", "--", layout.labDir], 120_000);
    if (r.code !== 0) throw new LabTeardownError(stateFile, [`rm -rf ${layout.labDir}: ${r.stderr.trim()}`]);
  }
  say(`down in ${Date.now() - t0} ms`);
  return { found: true, ms: Date.now() - t0, notes };
}

/** Deletes one root-netns rule if it is there; the crosshost comment in it makes it ours alone. */
async function deleteRule(rule: RecordedRule): Promise<string | undefined> {
  const base = ["iptables", "-w", "-t", rule.table];
  const check = await tryRun([...base, "-C", rule.chain, ...rule.rule]);
  if (check.code !== 0) return undefined; // not there (never inserted, or already removed)
  const del = await tryRun([...base, "-D", rule.chain, ...rule.rule]);
  return del.code === 0 ? undefined : `iptables -t ${rule.table} -D ${rule.chain} ${rule.rule.join(" ")}: ${del.stderr.trim()}`;
}

/** Removes dir and its subdirectories bottom-up as long as they hold no files; never removes a file. */
async function removeEmptyDirs(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeEmptyDirs(`${dir}/${e.name}`);
  await rmdir(dir).catch(() => undefined);
}
