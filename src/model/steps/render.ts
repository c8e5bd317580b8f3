// The commands a step stands for, as argv arrays (never shell strings). Values only known at apply time
// are placeholders that drivers fill in: {{join-token:ROLE@HOST}} and {{address:CONTAINER@NETWORK}}.
import type { AddressRef } from "../plan.js";
import { formatIp } from "../ip.js";
import { OWNER_LABEL, PLAN_LABEL, type Step } from "./step.js";

export interface RenderedCommand {
  readonly argv: readonly string[];
  /** A file the command needs, written first (Consul's JSON configuration). */
  readonly file?: { readonly path: string; readonly content: string };
  /** Bytes for the command's stdin. */
  readonly stdin?: string;
}

export interface RenderOptions {
  readonly plan: string;
  /** Where agent configuration and data live on the host (the seed's paths by default). */
  readonly consulConfigDir?: string;
  readonly consulDataDir?: string;
}

export const PLACEHOLDER = /\{\{(join-token|address|host-address):([^}]+)\}\}/g;

export function addressPlaceholder(ref: AddressRef): string {
  switch (ref.kind) {
    case "ip": return formatIp(ref.ip);
    case "host": return `{{host-address:${ref.host}}}`;
    case "container": return `{{address:${ref.container}@${ref.network ?? ""}}}`;
  }
}

export function labels(plan: string): string[] {
  return ["--label", `${OWNER_LABEL}=true`, "--label", `${PLAN_LABEL}=${plan}`];
}

export function renderStep(step: Step, opts: RenderOptions): RenderedCommand[] {
  const own = labels(opts.plan);
  switch (step.kind) {
    case "kernel_module":
      return [{ argv: ["modprobe", step.module] }];
    case "gwbridge_create":
      return [{
        argv: ["docker", "network", "create", "--subnet", step.subnet, "--gateway", step.gateway,
          "--opt", "com.docker.network.bridge.name=docker_gwbridge", "--opt", "com.docker.network.bridge.enable_icc=false",
          "--opt", "com.docker.network.bridge.enable_ip_masquerade=true",
          ...(step.mtu !== undefined ? ["--opt", `com.docker.network.driver.mtu=${step.mtu}`] : []), ...own, "docker_gwbridge"],
      }];
    case "swarm_init":
      return [{
        argv: ["docker", "swarm", "init", "--advertise-addr", step.advertiseAddr,
          ...(step.listenAddr ? ["--listen-addr", step.listenAddr] : []),
          ...(step.dataPathPort !== 4789 ? ["--data-path-port", String(step.dataPathPort)] : []),
          ...(step.defaultAddrPool.join(",") !== "10.0.0.0/8" ? step.defaultAddrPool.flatMap((p) => ["--default-addr-pool", p]) : []),
          ...(step.defaultAddrPoolMaskLength !== 24 ? ["--default-addr-pool-mask-length", String(step.defaultAddrPoolMaskLength)] : [])],
      }];
    case "ingress_replace":
      return [
        { argv: ["docker", "network", "rm", "ingress"], stdin: "y\n" },
        { argv: ["docker", "network", "create", "--driver", "overlay", "--ingress", "--subnet", step.subnet, "--gateway", step.gateway, ...(step.mtu !== undefined ? ["--opt", `com.docker.network.driver.mtu=${step.mtu}`] : []), ...own, "ingress"] },
      ];
    case "swarm_join":
      return [{
        argv: ["docker", "swarm", "join", "--token", `{{join-token:${step.role}@${step.joinHost}}}`,
          ...(step.advertiseAddr ? ["--advertise-addr", step.advertiseAddr] : []), ...(step.listenAddr ? ["--listen-addr", step.listenAddr] : []), step.join],
      }];
    case "network_create": {
      const o: string[] = [];
      if (step.parent) o.push("-o", `parent=${step.parent}`);
      if (step.mode && step.driver === "macvlan" && step.mode !== "bridge") o.push("-o", `macvlan_mode=${step.mode}`);
      if (step.mode && step.driver === "ipvlan") o.push("-o", `ipvlan_mode=${step.mode}`);
      if (step.encrypted) o.push("--opt", "encrypted");
      if (step.mtu !== undefined) o.push("--opt", `com.docker.network.driver.mtu=${step.mtu}`);
      return [{
        argv: ["docker", "network", "create", "--driver", step.driver, "--subnet", step.subnet, "--gateway", step.gateway,
          ...(step.ipRange ? ["--ip-range", step.ipRange] : []), ...step.auxAddresses.flatMap((a) => ["--aux-address", `${a.name}=${a.ip}`]),
          ...(step.attachable ? ["--attachable"] : []), ...(step.internal ? ["--internal"] : []), ...o, ...own, step.network],
      }];
    }
    case "shim_create":
      return [
        { argv: ["ip", "link", "add", step.name, "link", step.parent, "type", step.type, "mode", step.mode] },
        { argv: ["ip", "addr", "add", step.address, "dev", step.name] },
        { argv: ["ip", "link", "set", step.name, "up"] },
        ...step.routes.map((r) => ({ argv: ["ip", "route", "add", r, "dev", step.name] })),
      ];
    case "consul_agent": {
      const cfgDir = opts.consulConfigDir ?? step.hostConfigDir;
      const dataDir = opts.consulDataDir ?? step.hostDataDir;
      const net = step.network === "host" ? ["--net=host"] : ["--network", step.network.network, ...(step.network.ip ? ["--ip", step.network.ip] : []), ...step.network.publish.flatMap((p) => ["-p", p])];
      return [{
        file: { path: `${cfgDir}/${step.configFile}`, content: `${JSON.stringify(step.config, null, 2)}\n` },
        argv: ["docker", "run", "-d", `--name=${step.agent}`, "--restart=always", ...net, "-v", `${dataDir}:/consul/data`, "-v", `${cfgDir}:/consul/config`, ...own,
          step.image, "agent", "-config-dir=/consul/config", ...step.flags],
      }];
    }
    case "container_run": {
      const [first, ...rest] = step.networks;
      const net = step.networkMode === "host" ? ["--net=host"] : first ? ["--network", first.network, ...(first.ip ? ["--ip", first.ip] : []), ...first.aliases.flatMap((a) => ["--network-alias", a])] : [];
      const cmds: RenderedCommand[] = [{
        argv: ["docker", "run", runDetachFlag(step.command), "--name", step.container, ...net,
          ...step.publish.flatMap((p) => ["-p", `${p.hostIp ? `${p.hostIp}:` : ""}${p.hostPort}:${p.containerPort}${p.proto === "udp" ? "/udp" : ""}`]),
          ...Object.entries(step.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]), ...own, step.image, ...(step.command ?? [])],
      }];
      for (const n of rest) {
        cmds.push({ argv: ["docker", "network", "connect", ...(n.ip ? ["--ip", n.ip] : []), ...n.aliases.flatMap((a) => ["--alias", a]), n.network, step.container] });
      }
      return cmds;
    }
    case "service_register": {
      const addr = addressPlaceholder(step.address);
      const body: Record<string, unknown> = { ID: step.service, Name: step.name, Tags: step.tags, Address: addr, Port: step.port };
      if (step.check) {
        const target = addressPlaceholder(step.check.target);
        body.Check = step.check.type === "http"
          ? { HTTP: `http://${target}:${step.check.port}${step.check.path === "/" ? "" : step.check.path}`, Interval: step.check.interval, Timeout: step.check.timeout }
          : { TCP: `${target}:${step.check.port}`, Interval: step.check.interval, Timeout: step.check.timeout };
      }
      // Sent from inside the agent's container, as the seed does, so it works whatever the agent's network.
      return [{ argv: ["docker", "exec", "-i", step.agent, "curl", "-sf", "-X", "PUT", `http://${step.agentHttp}/v1/agent/service/register`, "-d", "@-"], stdin: JSON.stringify(body, null, 2) }];
    }
    case "fault":
      return [];
  }
}

/**
 * `-d` with the plan's command; `-dit` for the image's default, as the seed's `docker run -itd … busybox`: a default
 * shell (busybox `sh`, `bash`) with no stdin and no TTY exits at once (docker/docs#19699, tianon/docker-brew-ubuntu-core#157).
 */
export function runDetachFlag(command: readonly string[] | undefined): "-d" | "-dit" {
  return command && command.length > 0 ? "-d" : "-dit";
}

/** Placeholders as the shell substitutions a person would type (for `crosshost plan`). */
/**
 * A command line to show people: words are shell-quoted, and a word holding a placeholder is put in
 * double quotes so that its $(…) really runs when the line is pasted into a shell.
 */
export function displayCommand(argv: readonly string[], quote: (w: string) => string): string {
  return argv.map((w) => {
    if (!new RegExp(PLACEHOLDER.source).test(w)) return quote(w);
    let out = "";
    let last = 0;
    for (const m of w.matchAll(PLACEHOLDER)) {
      out += w.slice(last, m.index).replace(/["\\$`]/g, "\\$&") + displayPlaceholders(m[0]);
      last = m.index + m[0].length;
    }
    return `"${out}${w.slice(last).replace(/["\\$`]/g, "\\$&")}"`;
  }).join(" ");
}

export function displayPlaceholders(text: string): string {
  return text.replace(PLACEHOLDER, (_m, kind: string, arg: string) => {
    if (kind === "join-token") {
      const [role, host] = arg.split("@");
      return `$(ssh ${host} docker swarm join-token -q ${role})`;
    }
    if (kind === "host-address") return `$(hostname -i)`;
    const [container, network] = arg.split("@");
    return network
      ? `$(docker inspect -f '{{(index .NetworkSettings.Networks "${network}").IPAddress}}' ${container})`
      : `$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' ${container})`;
  });
}
