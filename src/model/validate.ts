// validate(): text or data in, every finding out. Never throws: a rule that fails is reported as
// internal_error and the others still run.
import { appendAll, diag, sortDiagnostics, hasErrors, type Diagnostic } from "./diagnostics.js";
import { readPlan } from "./read/read-plan.js";
import { locateAll, parsePlanText, type PlanSource } from "./source.js";
import type { Plan } from "./plan.js";
import { makeContext, type Rule, type RuleContext } from "./rules/context.js";
import { allocationFindings, duplicateAddresses, subnetOverlaps } from "./rules/addressing.js";
import { kernelFeatures, macvlanGatewayAbsent, macvlanHostIsolation, macvlanParentShared, macvlanParents, macvlanRangeOverlap, macvlanUnderlay, shimParents } from "./rules/macvlan.js";
import { overlayAttachable, overlayLazyOnWorker, swarmAdvertise, swarmManagerOps, swarmQuorum, vxlanPortConflict } from "./rules/swarm.js";
import { hostsUnreachable, portConflicts, portsBlocked } from "./rules/flows.js";
import { bridgeMtu, nicMtu, overlayMtu } from "./rules/mtu.js";
import { consulAdvertise, consulBootstrap, consulJoins, consulLeave, consulQuorum } from "./rules/consul.js";
import { serviceChecks, serviceConsumers } from "./rules/services.js";
import { expectationFindings } from "./rules/expectations.js";

/** Every rule, in the order their findings are easiest to read. */
export const RULES: readonly (readonly [string, Rule])[] = [
  ["allocation", allocationFindings],
  ["duplicate_addresses", duplicateAddresses],
  ["subnet_overlaps", subnetOverlaps],
  ["macvlan_parents", macvlanParents],
  ["shim_parents", shimParents],
  ["macvlan_parent_shared", macvlanParentShared],
  ["macvlan_range_overlap", macvlanRangeOverlap],
  ["macvlan_gateway", macvlanGatewayAbsent],
  ["macvlan_underlay", macvlanUnderlay],
  ["macvlan_host_isolation", macvlanHostIsolation],
  ["kernel_features", kernelFeatures],
  ["swarm_quorum", swarmQuorum],
  ["swarm_manager_ops", swarmManagerOps],
  ["swarm_advertise", swarmAdvertise],
  ["overlay_attachable", overlayAttachable],
  ["overlay_lazy", overlayLazyOnWorker],
  ["vxlan_port", vxlanPortConflict],
  ["ports_blocked", portsBlocked],
  ["hosts_unreachable", hostsUnreachable],
  ["port_conflicts", portConflicts],
  ["nic_mtu", nicMtu],
  ["overlay_mtu", overlayMtu],
  ["bridge_mtu", bridgeMtu],
  ["consul_bootstrap", consulBootstrap],
  ["consul_quorum", consulQuorum],
  ["consul_advertise", consulAdvertise],
  ["consul_joins", consulJoins],
  ["consul_leave", consulLeave],
  ["service_checks", serviceChecks],
  ["service_consumers", serviceConsumers],
  ["expectations", expectationFindings],
];

export interface Validation {
  /** The plan as read; present whenever the input parsed, even with errors. */
  readonly plan?: Plan;
  readonly source?: PlanSource;
  readonly diagnostics: Diagnostic[];
  /** False when the input could not be read at all (exit code 2). */
  readonly parsed: boolean;
  readonly ok: boolean;
}

export function runRules(plan: Plan, ctx: RuleContext = makeContext(plan)): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [name, rule] of RULES) {
    try {
      appendAll(out, rule(ctx));
    } catch (e) {
      out.push(diag("internal_error", { path: [], message: `rule ${name} failed: ${e instanceof Error ? e.message : String(e)}`, hint: "Please report this with the plan file; the other rules still ran." }));
    }
  }
  return out;
}

/** Validates already-parsed data (JSON values, or a plan built in code). */
export function validateValue(value: unknown, source?: PlanSource): Validation {
  let plan: Plan | undefined;
  const diagnostics: Diagnostic[] = [];
  try {
    const read = readPlan(value);
    plan = read.plan;
    appendAll(diagnostics, read.reader.diagnostics);
    // Rules only run on a plan whose structure could be read; reference and value errors were reported.
    appendAll(diagnostics, runRules(plan));
  } catch (e) {
    diagnostics.push(diag("internal_error", { path: [], message: `reading the plan failed: ${e instanceof Error ? e.message : String(e)}`, hint: "Please report this with the plan file." }));
  }
  const sorted = sortDiagnostics(locateAll(diagnostics, source));
  return { ...(plan ? { plan } : {}), ...(source ? { source } : {}), diagnostics: sorted, parsed: true, ok: !hasErrors(sorted) };
}

/** Validates plan text (YAML or JSON) as read from `file`. */
export function validateText(text: string, file = "plan.yaml"): Validation {
  const parsed = parsePlanText(text, file);
  if (!parsed.ok) return { diagnostics: parsed.diagnostics, parsed: false, ok: false };
  return validateValue(parsed.source.value, parsed.source);
}
