// `crosshost apply | verify | destroy <plan>`: the plan's own hosts, over SSH.
import type { Command } from "commander";
import { hasErrors } from "../model/diagnostics.js";
import { locateAll } from "../model/source.js";
import { connectRemote, missingSshSettings, remoteApply, remoteDestroy, remoteVerify, type RemoteContext, type RemoteOptions } from "../drivers/ssh/remote.js";
import { diagnosticJson, renderDiagnostics } from "./render-diagnostics.js";
import { renderDifferences, renderExpectations } from "./render-observation.js";
import { loadOrThrow } from "./simulate.js";
import type { Style } from "./style.js";

interface RemoteCliOptions {
  json?: boolean;
  knownHosts?: string;
  acceptNew?: boolean;
  concurrency: string;
  connectTimeout: string;
  verbose?: boolean;
}

function withRemoteOptions(c: Command): Command {
  return c
    .option("--known-hosts <file>", "known_hosts file to verify host keys against (default ~/.ssh/known_hosts)")
    .option("--accept-new", "record unknown host keys (never accepts a changed one), as OpenSSH's accept-new")
    .option("--concurrency <n>", "hosts worked on at the same time", "8")
    .option("--connect-timeout <seconds>", "SSH connect timeout", "10")
    .option("-v, --verbose", "log every command per host")
    .option("--json", "print the result as JSON");
}

export function registerRemoteCommands(program: Command, h: {
  out: (...s: string[]) => void; json: (v: unknown) => void; style: () => Style; fail: (code: number) => never; inputFailure: (e: unknown, json: boolean) => never;
  usage: (message: string, hint: string | undefined, json: boolean) => never;
}): void {
  const open = async (planArg: string, o: RemoteCliOptions): Promise<RemoteContext> => {
    let loaded;
    try {
      loaded = loadOrThrow(planArg);
    } catch (e) {
      h.inputFailure(e, !!o.json);
    }
    const concurrency = Number(o.concurrency), timeout = Number(o.connectTimeout);
    if (!Number.isInteger(concurrency) || concurrency < 1) h.usage(`--concurrency ${o.concurrency} is not a whole number of hosts`, "Give 1 or more, e.g. --concurrency 4.", !!o.json);
    if (!(timeout > 0)) h.usage(`--connect-timeout ${o.connectTimeout} is not a positive number of seconds`, "e.g. --connect-timeout 10", !!o.json);
    const style = h.style();
    const noSsh = locateAll(missingSshSettings(loaded.plan), loaded.validation.source);
    if (noSsh.length > 0) {
      if (o.json) h.json({ ok: false, diagnostics: noSsh.map(diagnosticJson) });
      else h.out(renderDiagnostics(noSsh, loaded.validation.source, loaded.label, style));
      h.fail(1);
    }
    const started = Date.now();
    const opts: RemoteOptions = {
      ...(o.knownHosts ? { knownHosts: o.knownHosts } : {}),
      acceptNew: !!o.acceptNew, concurrency, connectTimeoutMs: timeout * 1000,
      ...(o.json ? {} : { progress: (host: string, m: string) => { if (o.verbose || !m.startsWith("$")) h.out(`${style.dim(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`)} ${host.padEnd(18)} ${m}`); } }),
    };
    return connectRemote(loaded.plan, opts);
  };
  const preflight = (ctx: RemoteContext, o: RemoteCliOptions): void => {
    const shown = ctx.diagnostics.filter((d) => d.severity !== "info");
    if (!o.json && shown.length > 0) h.out(renderDiagnostics(shown, undefined, "preflight (the plan against the hosts as they are)", h.style()));
  };

  withRemoteOptions(program.command("apply"))
    .description("Apply the plan to its hosts over SSH: inspect each host first, then run only the steps whose effect is missing.")
    .argument("<plan>", "plan file whose hosts carry ssh settings")
    .option("--dry-run", "inspect and report what would run; change nothing")
    .option("--continue-on-error", "when a host fails, go on with the other hosts (that host stops)")
    .option("--force", "apply even though the validator found errors in the plan (never over unreachable hosts or host mismatches)")
    .addHelpText("after", "\nExit codes: 0 applied (or nothing to do), 1 a step failed, a host has no ssh settings, or preflight found errors (nothing changed then), 2 unreadable input or bad options.\nHost keys are verified against known_hosts; a changed key is always refused.")
    .action(async (planArg: string, o: RemoteCliOptions & { dryRun?: boolean; continueOnError?: boolean; force?: boolean }) => {
      const ctx = await open(planArg, o);
      try {
        preflight(ctx, o);
        const style = h.style();
        const started = Date.now();
        const report = await remoteApply(ctx, {
          dryRun: !!o.dryRun, continueOnError: !!o.continueOnError, force: !!o.force,
          onResult: (s, r) => {
            if (o.json) return;
            const mark = r.status === "failed" ? style.red("✗") : r.status === "unchanged" ? style.dim("=") : r.status === "skipped" ? style.yellow(o.dryRun ? "+" : "-") : style.green("✓");
            h.out(`${style.dim(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`)} ${s.host.padEnd(18)} ${mark} ${s.id}${r.status === "failed" || r.status === "skipped" ? `: ${r.message}` : ""}`);
          },
        });
        const failed = report.results.filter((r) => r.status === "failed");
        if (o.json) h.json({ ok: !report.stoppedBeforeChanges && failed.length === 0, dryRun: !!o.dryRun, diagnostics: report.diagnostics.map(diagnosticJson), steps: report.results });
        else if (report.stoppedBeforeChanges) h.out(style.red(`✗ preflight found errors: nothing was changed${report.diagnostics.some((d) => d.severity === "error" && d.code !== "ssh_unreachable" && d.code !== "host_fact_mismatch") ? " (--force applies a plan with validation errors anyway)" : ""}`));
        else {
          const count = (st: string) => report.results.filter((r) => r.status === st).length;
          h.out(`${failed.length ? style.red("✗") : style.green("✓")} ${o.dryRun ? "dry run: " : ""}${count("done")} done, ${count("unchanged")} already in place, ${count("skipped")} ${o.dryRun ? "would run" : "skipped"}, ${failed.length} failed`);
        }
        if (report.stoppedBeforeChanges || failed.length > 0) h.fail(1);
      } finally {
        await ctx.pool.close();
      }
    });

  withRemoteOptions(program.command("verify"))
    .description("Observe the real hosts and compare with the simulator's prediction, observation by observation.")
    .argument("<plan>", "plan file whose hosts carry ssh settings")
    .addHelpText("after", "\nExit codes: 0 reality agrees with the prediction, 1 disagreements or unreachable hosts, 2 unreadable input.")
    .action(async (planArg: string, o: RemoteCliOptions) => {
      const ctx = await open(planArg, o);
      try {
        preflight(ctx, o);
        if (ctx.diagnostics.some((d) => d.code === "ssh_unreachable")) h.fail(1);
        const r = await remoteVerify(ctx);
        if (o.json) h.json({ differences: r.differences, expectations: r.expectations.map((e) => ({ expectation: e.text, ok: e.ok, ...(e.detail ? { detail: e.detail } : {}) })), reality: r.reality, prediction: r.prediction });
        else h.out(renderDifferences(r.differences, h.style()), "", renderExpectations(r.expectations, h.style()));
        if (r.differences.length > 0) h.fail(1);
      } finally {
        await ctx.pool.close();
      }
    });

  withRemoteOptions(program.command("destroy"))
    .description("Remove what crosshost created on the hosts (by its label), and leave a swarm only where crosshost formed or joined it.")
    .argument("<plan>", "plan file whose hosts carry ssh settings")
    .addHelpText("after", "\nExit codes: 0 everything crosshost created is gone, 1 something could not be removed (listed: host, command, reason) or a host is unreachable, 2 unreadable input or bad options.")
    .action(async (planArg: string, o: RemoteCliOptions) => {
      const ctx = await open(planArg, o);
      try {
        if (ctx.diagnostics.some((d) => d.code === "ssh_unreachable")) {
          preflight(ctx, o);
          h.fail(1);
        }
        const left = await remoteDestroy(ctx);
        if (o.json) h.json({ ok: left.length === 0, left });
        else if (left.length === 0) h.out(h.style().green("✓ removed what crosshost created; nothing else was touched"));
        else h.out(`${h.style().red(`✗ could not remove ${left.length} of the things crosshost created`)} (nothing else was touched; run destroy again once fixed):\n${left.map((l) => `  ${l}`).join("\n")}`);
        if (left.length > 0) h.fail(1);
      } finally {
        await ctx.pool.close();
      }
    });
  void hasErrors;
}
