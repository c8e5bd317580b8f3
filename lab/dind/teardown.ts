import { access, readdir, rmdir } from "node:fs/promises";
import { LabTeardownError } from "../netns/errors.js";
import { cgroupDirs, cgroupRoots, netnsNames, tryRun, unmountAllUnder } from "../netns/sys.js";
import { dockerTry } from "./docker.js";
import { LAB_LABEL } from "./layout.js";
import { stopPrivateEngine } from "./outer-engine.js";
import { readDindLabState, type DindLabState, type DindRecordedRule, type SwitchAccess } from "./state.js";
import { removeTestcontainersLink } from "./testcontainers-env.js";

export interface DindTeardownOptions {
  /** How long the private outer dockerd gets after SIGTERM before it is killed; default 0: SIGKILL at once. */
  readonly graceMs?: number;
  readonly onProgress?: (message: string) => void;
}

export interface DindTeardownReport {
  /** False when there was no state file: nothing to do. */
  readonly found: boolean;
  readonly ms: number;
  readonly notes: readonly string[];
}

/**
 * Tears down everything recorded in a dind lab's state file, in any state (half-built, crashed, already
 * partly removed), from the file alone. On the machine's engine it removes only the containers and networks
 * the file names or that carry the lab's label; a private engine is stopped and its netns, tmpfs and cgroups
 * removed. Throws LabTeardownError (keeping the state file) if something could not be removed.
 */
export async function downFromState(stateFile: string, options: DindTeardownOptions = {}): Promise<DindTeardownReport> {
  const t0 = Date.now();
  if (!(await access(stateFile).then(() => true, () => false))) {
    return { found: false, ms: Date.now() - t0, notes: [`no state file ${stateFile}`] };
  }
  const state: DindLabState = await readDindLabState(stateFile);
  const { layout } = state;
  const problems: string[] = [];
  const notes: string[] = [];
  const say = options.onProgress ?? (() => undefined);
  const engine = state.engine;

  if (engine?.kind === "machine") {
    say(`removing containers and networks from ${engine.dockerHost}`);
    await removeFromEngine(engine.dockerHost, state, problems, notes);
  }
  // rules before the namespace they live in goes; the root namespace's matter most
  for (const rule of state.rules) {
    const msg = await deleteRule(rule, engine?.dockerHost);
    if (msg) problems.push(msg);
  }
  if (engine?.kind === "private") {
    say("stopping the private engine");
    for (const pid of await stopPrivateEngine(engine, options.graceMs)) problems.push(`private engine: pid ${pid} did not exit after SIGKILL`);
    for (const link of state.tcLinks) await removeTestcontainersLink(link, engine.socket);
    for (const m of await unmountAllUnder(layout.labDir)) problems.push(`still mounted: ${m}`);
    if (engine.netnsCreated && (await netnsNames()).includes(engine.netns)) {
      const r = await tryRun(["ip", "netns", "del", engine.netns]);
      if (r.code !== 0) problems.push(`ip netns del ${engine.netns}: ${r.stderr.trim()}`);
    }
    for (const dir of await cgroupDirs(engine.cgroupParent)) {
      await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "ENOENT") problems.push(`rmdir ${dir}: ${e.code ?? e.message}`);
      });
    }
    // the shared parent: rmdir fails (and is ignored) while another lab still has a cgroup in it
    for (const root of await cgroupRoots()) await rmdir(`${root}/crosshost-dind`).catch(() => undefined);
    for (const dir of engine.sharedDirs) await removeEmptyDirs(dir);
  }
  if (problems.length > 0) throw new LabTeardownError(stateFile, problems);
  if (state.labDirCreated) {
    // no mounts are left under it (checked above), so this cannot reach outside the lab dir
    const r = await tryRun(["rm", "-rf", "--one-file-system", "--", layout.labDir], 120_000);
    if (r.code !== 0) throw new LabTeardownError(stateFile, [`rm -rf ${layout.labDir}: ${r.stderr.trim()}`]);
  }
  say(`down in ${Date.now() - t0} ms`);
  return { found: true, ms: Date.now() - t0, notes };
}

async function removeFromEngine(dockerHost: string, state: DindLabState, problems: string[], notes: string[]): Promise<void> {
  const label = `label=${LAB_LABEL}=${state.layout.lab}`;
  const listed = await dockerTry(dockerHost, ["ps", "-aq", "--no-trunc", "--filter", label], 30_000);
  if (listed.code !== 0) {
    problems.push(`engine ${dockerHost} does not answer (${listed.stderr.trim()}); containers ${state.containers.join(", ")} and networks ${state.networks.join(", ")} may remain`);
    return;
  }
  // by full id, each once: `docker rm -f` of a name and of its id at once fails with "already in progress"
  const ids = new Set(listed.stdout.split("\n").filter(Boolean));
  for (const name of state.containers) {
    const r = await dockerTry(dockerHost, ["inspect", "--format", "{{.Id}}", name], 30_000);
    if (r.code === 0) ids.add(r.stdout.trim());
  }
  if (ids.size > 0) {
    const r = await dockerTry(dockerHost, ["rm", "-f", "-v", ...ids], 120_000);
    for (const line of r.stderr.split("\n").filter(Boolean)) {
      if (/No such container|already in progress/i.test(line)) notes.push(line.trim());
      else problems.push(`docker rm: ${line.trim()}`);
    }
    const left = await dockerTry(dockerHost, ["ps", "-aq", "--filter", label], 30_000);
    if (left.stdout.trim() !== "") problems.push(`containers still there after docker rm -f: ${left.stdout.trim().split("\n").join(", ")}`);
  }
  const nets = await dockerTry(dockerHost, ["network", "ls", "-q", "--filter", label], 30_000);
  const networks = [...new Set([...state.networks, ...nets.stdout.split("\n").filter(Boolean)])];
  for (const n of networks) {
    const r = await dockerTry(dockerHost, ["network", "rm", n], 60_000);
    if (r.code !== 0 && !/No such network|not found/i.test(r.stderr)) problems.push(`docker network rm ${n}: ${r.stderr.trim()}`);
  }
}

/** argv run where the switch lives (see SwitchAccess). */
export function switchArgv(where: SwitchAccess, dockerHost: string | undefined, argv: readonly string[]): string[] {
  switch (where.kind) {
    case "root":
      return [...argv];
    case "netns":
      return ["nsenter", `--net=/run/netns/${where.netns}`, "--", ...argv];
    case "helper":
      return [
        "docker", "-H", dockerHost ?? "", "run", "--rm", "--network", "host", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
        "--entrypoint", argv[0] ?? "true", where.image, ...argv.slice(1),
      ];
  }
}

/** Deletes one recorded rule if it is there; its crosshost comment makes it ours alone. */
async function deleteRule(rule: DindRecordedRule, dockerHost: string | undefined): Promise<string | undefined> {
  if (rule.where.kind === "netns" && !(await netnsNames()).includes(rule.where.netns)) return undefined;
  const base = ["iptables", "-w", "-t", rule.table];
  const check = await tryRun(switchArgv(rule.where, dockerHost, [...base, "-C", rule.chain, ...rule.rule]), 60_000);
  if (check.code !== 0) return undefined; // not there (never inserted, or already removed)
  const del = await tryRun(switchArgv(rule.where, dockerHost, [...base, "-D", rule.chain, ...rule.rule]), 60_000);
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
