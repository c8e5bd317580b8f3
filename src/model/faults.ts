// Fault verbs, shared by plan files (faults:) and the command line (--fault). One grammar for both:
//   stop:HOST  start:HOST  stop-engine:HOST  start-engine:HOST  cut:HOST  restore:HOST
//   stop-agent:AGENT  start-agent:AGENT  stop-container:NAME  start-container:NAME
//   partition:A,B[|C,D]            the listed groups, plus one group of every host not listed; it replaces
//                                  an earlier partition. heal: ends it.
//   block:FROM>TO:PROTO/PORT       unblock:FROM>TO:PROTO/PORT
//   mtu:SEGMENT=BYTES  (mtu:BYTES = every segment)
import type { Fault, Proto } from "./plan.js";
import type { PlanPath } from "./diagnostics.js";

export const FAULT_VERBS = [
  "stop", "start", "stop-engine", "start-engine", "cut", "restore",
  "stop-agent", "start-agent", "stop-container", "start-container",
  "partition", "heal", "block", "unblock", "mtu",
] as const;

export const FAULT_SYNTAX = `stop:HOST | start:HOST | stop-engine:HOST | start-engine:HOST | cut:HOST | restore:HOST |
stop-agent:AGENT | start-agent:AGENT | stop-container:NAME | start-container:NAME |
partition:A,B[|C,D] | heal | block:FROM>TO:tcp/PORT | unblock:FROM>TO:udp/PORT | mtu:SEGMENT=BYTES | mtu:BYTES`;

export type FaultParse = { ok: true; fault: Fault } | { ok: false; message: string; hint: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function parseFault(text: string, path: PlanPath = [], allSegments: readonly string[] = []): FaultParse[] {
  const colon = text.indexOf(":");
  const fail = (message: string): FaultParse[] => [{ ok: false, message, hint: `Write a fault as one of: ${FAULT_SYNTAX.replace(/\n/g, " ")}` }];
  if (text === "heal" || text === "heal:") return [{ ok: true, fault: { kind: "heal_partition", path } }];
  if (colon < 0) return fail(`fault "${text}" has no ":"`);
  const verb = text.slice(0, colon);
  const arg = text.slice(colon + 1);
  const name = (): string | undefined => (NAME.test(arg) ? arg : undefined);
  switch (verb) {
    case "stop": case "start": case "stop-engine": case "start-engine": case "cut": case "restore": {
      const host = name();
      if (!host) {
        return fail(arg.includes(",")
          ? `fault "${text}" names more than one host: ${verb}: takes one (repeat --fault for each host)`
          : `fault "${text}" needs a host name after "${verb}:"`);
      }
      const kind = ({ stop: "stop_host", start: "start_host", "stop-engine": "stop_engine", "start-engine": "start_engine", cut: "cut_host", restore: "restore_host" } as const)[verb];
      return [{ ok: true, fault: { kind, host, path } }];
    }
    case "stop-agent": case "start-agent": {
      const agent = name();
      if (!agent) return fail(`fault "${text}" needs an agent name after "${verb}:"`);
      return [{ ok: true, fault: { kind: verb === "stop-agent" ? "stop_agent" : "start_agent", agent, path } }];
    }
    case "stop-container": case "start-container": {
      const container = name();
      if (!container) return fail(`fault "${text}" needs a container name after "${verb}:"`);
      return [{ ok: true, fault: { kind: verb === "stop-container" ? "stop_container" : "start_container", container, path } }];
    }
    case "partition": {
      const groups = arg.split("|").map((g) => g.split(",").map((s) => s.trim()).filter((s) => s !== ""));
      if (groups.length === 0 || groups.some((g) => g.length === 0 || g.some((h) => !NAME.test(h)))) {
        return fail(`fault "${text}" needs groups of host names: partition:a,b|c`);
      }
      const seen = new Set<string>();
      const twice = groups.flat().find((h) => (seen.has(h) ? true : (seen.add(h), false)));
      if (twice !== undefined) return fail(`fault "${text}" puts ${twice} in two groups: each host belongs to one side`);
      return [{ ok: true, fault: { kind: "partition", groups, path } }];
    }
    case "block": case "unblock": {
      const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)>([A-Za-z0-9][A-Za-z0-9_.-]*):(tcp|udp)\/(\d{1,5})$/.exec(arg);
      if (!m || Number(m[4]) < 1 || Number(m[4]) > 65535) return fail(`fault "${text}" must look like ${verb}:FROM>TO:tcp/PORT`);
      return [{ ok: true, fault: { kind: verb === "block" ? "block_port" : "unblock_port", from: m[1]!, to: m[2]!, proto: m[3] as Proto, port: Number(m[4]), path } }];
    }
    case "mtu": {
      const m = /^(?:([A-Za-z0-9][A-Za-z0-9_.-]*)=)?(\d{2,5})$/.exec(arg);
      const mtu = m ? Number(m[2]) : NaN;
      if (!m || mtu < 68 || mtu > 65535) return fail(`fault "${text}" must look like mtu:SEGMENT=1400 or mtu:1400 (68..65535)`);
      const segments = m[1] ? [m[1]] : allSegments;
      return segments.map((segment) => ({ ok: true, fault: { kind: "set_mtu", segment, mtu, path } }) as FaultParse);
    }
    case "heal":
      return fail(`fault "${text}": heal takes nothing after it (it ends the last partition)`);
    default:
      return fail(`unknown fault verb "${verb}"`);
  }
}

/** The text form of a fault, as parseFault reads it. */
export function formatFault(f: Fault): string {
  switch (f.kind) {
    case "stop_host": return `stop:${f.host}`;
    case "start_host": return `start:${f.host}`;
    case "stop_engine": return `stop-engine:${f.host}`;
    case "start_engine": return `start-engine:${f.host}`;
    case "cut_host": return `cut:${f.host}`;
    case "restore_host": return `restore:${f.host}`;
    case "stop_agent": return `stop-agent:${f.agent}`;
    case "start_agent": return `start-agent:${f.agent}`;
    case "stop_container": return `stop-container:${f.container}`;
    case "start_container": return `start-container:${f.container}`;
    case "partition": return `partition:${f.groups.map((g) => g.join(",")).join("|")}`;
    case "heal_partition": return "heal";
    case "block_port": return `block:${f.from}>${f.to}:${f.proto}/${f.port}`;
    case "unblock_port": return `unblock:${f.from}>${f.to}:${f.proto}/${f.port}`;
    case "set_mtu": return `mtu:${f.segment}=${f.mtu}`;
  }
}
