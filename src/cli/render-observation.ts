// Observations, steps and expectations as terminal tables.
import type { ClassMatrix, Observation, ProbeResult } from "../model/observation.js";
import { LARGE_PAYLOAD } from "../model/sim/probes.js";
import type { ExpectationResult, Difference } from "../model/sim/evaluate.js";
import type { Step, StepResult } from "../model/steps/step.js";
import { displayCommand, displayPlaceholders, PLACEHOLDER, renderStep, type RenderOptions } from "../model/steps/render.js";
import { shellQuote } from "../drivers/transport.js";
import type { Style } from "./style.js";

export function table(rows: string[][], style: Style, indent = "  "): string {
  if (rows.length === 0) return "";
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => visible(r[i] ?? "").length)));
  return rows
    .map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - visible(c).length))).join("  "))
    .map((line, i) => (i === 0 ? style.dim(line) : line))
    .join("\n");
}

const mark = (style: Style, ok: boolean | undefined) => (ok === undefined ? style.dim("·") : ok ? style.green("✓") : style.red("✗"));

export function renderSteps(steps: readonly Step[], style: Style, opts: RenderOptions, results?: ReadonlyMap<string, StepResult>): string {
  const lines: string[] = [];
  const hosts = [...new Set(steps.map((s) => s.host))];
  let n = 0;
  const number = new Map(steps.map((s) => [s.id, ++n] as const));
  for (const host of hosts) {
    lines.push(style.bold(host === "*" ? "all hosts" : `on ${host}`));
    for (const s of steps.filter((x) => x.host === host)) {
      const r = results?.get(s.id);
      const status = r ? ` ${r.status === "failed" ? style.red("FAILED") : r.status === "unchanged" ? style.dim("unchanged") : style.green("done")}` : "";
      lines.push(`  ${style.dim(String(number.get(s.id)).padStart(2))}. ${s.kind.replace(/_/g, " ")}${status}  ${style.dim(`— ${s.reason}`)}`);
      if (s.after.length > 0) lines.push(style.dim(`      after ${s.after.map((a) => `#${number.get(a) ?? "?"}`).join(", ")}`));
      for (const c of renderStep(s, opts)) {
        if (c.file) {
          lines.push(style.dim(`      # ${c.file.path}`));
          for (const l of c.file.content.trimEnd().split("\n")) lines.push(`      ${style.dim("|")} ${l}`);
        }
        const stdin = c.stdin?.replace(/\n$/, "");
        lines.push(`      $ ${displayCommand(c.argv, shellQuote)}${stdin !== undefined && !stdin.includes("\n") ? ` <<< ${shellQuote(stdin)}` : ""}`);
        if (stdin !== undefined && stdin.includes("\n")) {
          lines.push(style.dim(`      < standard input${new RegExp(PLACEHOLDER.source).test(stdin) ? " (crosshost fills in each $(…) before sending it)" : ""}:`));
          for (const l of displayPlaceholders(stdin).split("\n")) lines.push(`      ${style.dim("<")} ${l}`);
        }
      }
      if (r && r.status === "failed") lines.push(`      ${style.red(r.message)}`);
    }
  }
  return lines.join("\n");
}

export function renderObservation(obs: Observation, style: Style): string {
  const out: string[] = [];
  out.push(style.bold("Hosts"));
  out.push(table([["host", "up", "engine", "networks"], ...Object.entries(obs.hosts).map(([h, o]) => [h, mark(style, o.up), mark(style, o.engine), o.networks.join(", ") || "-"])], style));
  const containers = Object.entries(obs.containers);
  if (containers.length > 0) {
    out.push("", style.bold("Containers"));
    out.push(table([["container", "host", "state", "addresses"], ...containers.map(([n, c]) => [n, c.host, c.state === "running" ? style.green(c.state) : style.red(c.state), Object.entries(c.addresses).map(([k, v]) => `${v} (${k})`).join(", ") || (c.error ? style.red(c.error) : "-")])], style));
  }
  if (obs.swarm) {
    out.push("", `${style.bold("Swarm")}  leader: ${obs.swarm.leader ? style.green(obs.swarm.leader) : style.red("none (quorum lost: no cluster change possible; running containers keep working)")}`);
    if (obs.swarm.nodes.length > 0) out.push(table([["node", "role", "status", "manager status"], ...obs.swarm.nodes.map((n) => [n.host, n.role, n.status === "ready" ? n.status : style.red(n.status), n.manager ?? ""])], style));
  }
  if (obs.consul) {
    out.push("", style.bold("Consul") + style.dim("  (each agent's own view: /v1/status/leader, /v1/status/peers, /v1/agent/members)"));
    out.push(table([["agent", "running", "leader", "peers", "members"], ...Object.entries(obs.consul).map(([a, o]) => [
      a, mark(style, o.running), o.running ? (o.leader || style.red("none")) : "-", o.peers.join(" ") || "-",
      Object.entries(o.members).map(([m, s]) => (s === "alive" ? m : `${m}(${s})`)).join(" ") || "-",
    ])], style));
  }
  const services = Object.entries(obs.services);
  if (services.length > 0) {
    out.push("", style.bold("Services"));
    out.push(table([["service", "agent", "health", "why"], ...services.map(([id, s]) => [id, s.agent, s.health === "passing" ? style.green(s.health) : style.red(s.health), s.reason ?? ""])], style));
  }
  out.push("", obs.classes ? renderClassMatrix(obs.classes, style) : renderMatrix(obs.probes, style));
  return out.join("\n");
}

/** The matrix per equivalence class, for large plans. */
export function renderClassMatrix(m: ClassMatrix, style: Style): string {
  const lines = [style.bold("Reachability by class") + style.dim(`  ${m.classes.length} classes of equivalent endpoints; each cell traced once, on the example pair`)];
  for (const c of m.classes) lines.push(`  ${style.bold(c.id)}  ${c.label}`);
  const rows = [["from", "to", "host", "address", `${LARGE_PAYLOAD + 28} B`, "name", "example", "why not"]];
  for (const cell of m.cells) {
    rows.push([cell.from, cell.to, cell.sameHost ? "same" : "other", mark(style, cell.address), mark(style, cell.large), cell.name === undefined ? style.dim("·") : mark(style, cell.name), style.dim(cell.example), cell.reason ?? ""]);
  }
  lines.push(table(rows, style));
  return lines.join("\n");
}

/** Matrix cells: address with a small packet, address with a 1450-byte packet, by name. */
export function renderMatrix(probes: readonly ProbeResult[], style: Style): string {
  const matrix = probes.filter((p) => p.proto === "icmp" && p.network === undefined && !/^\d/.test(p.to));
  const froms = [...new Set(matrix.map((p) => p.from))];
  // Columns in the rows' order, so that the diagonal is the diagonal; targets that never send come last.
  const targets = new Set(matrix.map((p) => p.to));
  const tos = [...froms.filter((f) => targets.has(f)), ...[...targets].filter((t) => !froms.includes(t))];
  const find = (f: string, t: string, by: string, size: number) => matrix.find((p) => p.from === f && p.to === t && p.by === by && p.size === size);
  const rows = [["from \\ to", ...tos]];
  for (const f of froms) {
    rows.push([f, ...tos.map((t) => {
      if (f === t) return style.dim("-");
      const a = find(f, t, "address", 56), l = find(f, t, "address", LARGE_PAYLOAD), n = find(f, t, "name", 56);
      return [a, l, n].map((p) => (p ? mark(style, p.ok) : style.dim("·"))).join("");
    })]);
  }
  const failed = matrix.filter((p) => !p.ok);
  // Group failures whose reasons differ only in the address.
  const reasons = new Map<string, { reason: string; pairs: string[] }>();
  for (const p of failed) {
    const reason = p.reason ?? "unreachable";
    const k = reason.replace(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g, "#");
    const g = reasons.get(k) ?? { reason, pairs: [] };
    const label = `${p.from}→${p.to}${p.by === "name" ? " by name" : ""}${p.size !== 56 ? ` (${p.size + 28}-byte packet)` : ""}`;
    if (!g.pairs.includes(label)) g.pairs.push(label);
    reasons.set(k, g);
  }
  const lines = [
    style.bold("Reachability") + style.dim(`  cell = by address (84-byte ping), by address (${LARGE_PAYLOAD + 28}-byte ping), by name; ✓ reaches, ✗ does not, · not probed, - itself`),
    table(rows, style),
  ];
  if (reasons.size > 0) {
    lines.push("", style.bold("Why not") + style.dim("  (crosshost explain PLAN --from A --to B for every hop)"));
    for (const { reason, pairs } of reasons.values()) {
      lines.push(`  ${style.red("✗")} ${pairs.length > 4 ? `${pairs.slice(0, 4).join(", ")} and ${pairs.length - 4} more` : pairs.join(", ")}`);
      lines.push(`      ${pairs.length > 1 ? "e.g. " : ""}${reason}`);
    }
  }
  return lines.join("\n");
}

export function renderExpectations(results: readonly ExpectationResult[], style: Style): string {
  if (results.length === 0) return style.dim("No expectations in the plan.");
  const lines = [style.bold("Expectations")];
  for (const r of results) lines.push(`  ${mark(style, r.ok)} ${r.text}${r.ok ? "" : style.red(`  — ${r.detail}`)}`);
  const failed = results.filter((r) => !r.ok).length;
  lines.push(failed === 0 ? style.green(`  all ${results.length} hold`) : style.red(`  ${failed} of ${results.length} fail`));
  return lines.join("\n");
}

export function renderDifferences(diffs: readonly Difference[], style: Style): string {
  if (diffs.length === 0) return style.green("✓ reality agrees with the prediction on every observation");
  const rows = [["observation", "predicted", "observed"], ...diffs.map((d) => [d.what, d.predicted, style.red(d.actual)])];
  return `${style.red(`✗ ${diffs.length} disagreement${diffs.length === 1 ? "" : "s"} between prediction and reality`)}\n${table(rows, style)}`;
}
