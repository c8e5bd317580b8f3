import { existsSync } from "node:fs";
import { mkdir, readlink, rm, symlink } from "node:fs/promises";
import { dirname } from "node:path";

// $DOCKER_HOST as it was before the first lab of this process changed it
let before: { readonly value: string | undefined } | undefined;

/** $DOCKER_HOST as the user set it (not as a lab of this process pointed it at its private engine). */
export function userDockerHost(): string | undefined {
  return before ? before.value : process.env.DOCKER_HOST;
}

function setDockerHost(value: string | undefined): void {
  before ??= { value: process.env.DOCKER_HOST };
  if (value === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = value;
}

const RYUK_IMAGE = "testcontainers/ryuk:0.14.0"; // the one testcontainers 11.14.0 starts

export interface TestcontainersEnvInput {
  readonly dockerHost: string;
  /** A private engine of this lab (not the machine's): DOCKER_HOST goes through a per-process link. */
  readonly privateEngine?: { readonly root: string; readonly socket: string };
  /** The engine has the Ryuk image, or can pull it. */
  readonly ryukAvailable: boolean;
  /** The engine has a network called "bridge" (a private engine runs with --bridge=none). */
  readonly hasBridgeNetwork: boolean;
}

export interface TestcontainersEnvResult {
  /** "NAME=value (why)" for each variable set; empty when testcontainers needs nothing. */
  readonly settings: readonly string[];
  /** The link created for a private engine (recorded in the lab state, removed at down). */
  readonly link?: string;
}

/**
 * Sets only the testcontainers variables this machine needs (lab-notes 4b) in process.env.
 *
 * testcontainers caches its engine client for the life of the process, so a process that brings up two
 * labs with private engines one after the other would keep talking to the first. DOCKER_HOST therefore
 * names a per-process link, `<root>/.tc-<pid>.sock`, which each lab points at its own engine's socket.
 */
export async function configureTestcontainers(input: TestcontainersEnvInput): Promise<TestcontainersEnvResult> {
  const settings: string[] = [];
  let link: string | undefined;
  if (input.privateEngine) {
    link = `${input.privateEngine.root.replace(/\/+$/, "")}/.tc-${process.pid}.sock`;
    await mkdir(dirname(link), { recursive: true });
    await rm(link, { force: true });
    await symlink(input.privateEngine.socket, link);
    const value = `unix://${link}`;
    if (process.env.DOCKER_HOST !== value) {
      setDockerHost(value);
      settings.push(`DOCKER_HOST=${value} (-> ${input.privateEngine.socket}: the lab's private engine)`);
    }
  } else {
    const user = userDockerHost();
    if (input.dockerHost !== (user ?? "unix:///var/run/docker.sock")) {
      setDockerHost(input.dockerHost);
      settings.push(`DOCKER_HOST=${input.dockerHost} (the docker CLI's current context)`);
    } else if (process.env.DOCKER_HOST !== user) {
      setDockerHost(user); // an earlier private lab of this process had pointed it elsewhere
    }
  }
  if (!input.ryukAvailable && process.env.TESTCONTAINERS_RYUK_DISABLED !== "true") {
    process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
    settings.push(`TESTCONTAINERS_RYUK_DISABLED=true (${RYUK_IMAGE} is not there and cannot be pulled; the lab's own state-file teardown cleans up)`);
  }
  // with /.dockerenv present testcontainers believes it runs in a container and asks the engine for the
  // "bridge" network's gateway; without that network it gives up ("no working container runtime strategy")
  if (existsSync("/.dockerenv") && !input.hasBridgeNetwork && process.env.TESTCONTAINERS_HOST_OVERRIDE === undefined) {
    process.env.TESTCONTAINERS_HOST_OVERRIDE = "localhost";
    settings.push("TESTCONTAINERS_HOST_OVERRIDE=localhost (/.dockerenv exists and the engine has no bridge network)");
  }
  return link !== undefined ? { settings, link } : { settings };
}

export function ryukImage(): string {
  return RYUK_IMAGE;
}

/** Removes a link made by configureTestcontainers if it still points at `socket` (another lab may have taken it over). */
export async function removeTestcontainersLink(link: string, socket: string): Promise<void> {
  const target = await readlink(link).catch(() => undefined);
  if (target === socket) await rm(link, { force: true });
}
