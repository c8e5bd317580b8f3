// What every lab backend offers once it is up: one Transport per host whose `docker` talks to that
// host's own engine, the faults the simulator knows, image loading, and teardown. The real driver and
// the tests only see this interface; they do not know whether hosts are namespaces or containers.
import type { FaultInjector } from "../src/drivers/real/real-driver.js";
import type { Transport } from "../src/drivers/transport.js";
import type { BuiltImage } from "./images.js";

export type LabBackend = "netns" | "dind";

/** The lab's fault primitives are the simulator's fault verbs (src/model/faults.ts). */
export interface StartedLab extends FaultInjector {
  readonly name: string;
  readonly backend: LabBackend;
  readonly hosts: readonly string[];
  /** Runs commands on the host: in its network namespace, with `docker` reaching the host's engine. */
  transport(host: string): Transport;
  /** Loads an image into the host's engine; false when it was there already. */
  loadImage(host: string, image: BuiltImage): Promise<boolean>;
  /** A directory on the host's own filesystem view for files crosshost writes there (Consul configs). */
  hostDir(host: string): string;
  /** Removes everything the lab created; idempotent. */
  down(): Promise<unknown>;
}
