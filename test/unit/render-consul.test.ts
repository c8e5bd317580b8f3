// What `crosshost plan` prints for Consul: registration goes to the agent's own HTTP address (client_addr,
// ports.http) from inside its container, and agents sharing a host get config and data dirs of their own.
import { describe, expect, it } from "vitest";
import { compileSteps } from "../../src/model/steps/compile.js";
import { renderStep } from "../../src/model/steps/render.js";
import type { ConsulAgentStep, ServiceRegisterStep, Step } from "../../src/model/steps/step.js";
import { planFrom } from "../helpers/sim.js";
import { parseIp } from "../../src/model/ip.js";
import { agentHttpAddress } from "../../src/model/plan.js";
import { validateText } from "../../src/model/validate.js";

const plan = planFrom(`
crosshost: 1
name: t-consul-render
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24 }] }
consul:
  datacenter: dc1
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.71, client_addr: 0.0.0.0 }
    - { name: c1, host: h2, bind_addr: 192.168.1.72, client_addr: 192.168.1.72, ports: { http: 8501 }, retry_join: [192.168.1.71] }
    - { name: c2, host: h2, bind_addr: 192.168.1.72, client_addr: 127.0.0.1, ports: { http: 8502, dns: 8602, serf_lan: 8311 }, retry_join: [192.168.1.71] }
services:
  - { id: a, name: a, agent: s1, address: 192.168.1.71, port: 80 }
  - { id: b, name: b, agent: c1, address: 192.168.1.72, port: 80 }
  - { id: c, name: c, agent: c2, address: 192.168.1.72, port: 81 }
`);

const steps = compileSteps(plan);
const of = <K extends Step["kind"]>(kind: K, id: string) => steps.find((s) => s.kind === kind && s.id === id) as Extract<Step, { kind: K }>;
const argv = (s: Step) => renderStep(s, { plan: plan.name }).map((c) => c.argv.join(" "));

describe("service registration targets the agent's own HTTP API", () => {
  it.each([
    ["service_register:a", "docker exec -i s1 curl -sf -X PUT http://127.0.0.1:8500/v1/agent/service/register -d @-"],
    ["service_register:b", "docker exec -i c1 curl -sf -X PUT http://192.168.1.72:8501/v1/agent/service/register -d @-"],
    ["service_register:c", "docker exec -i c2 curl -sf -X PUT http://127.0.0.1:8502/v1/agent/service/register -d @-"],
  ])("%s", (id, want) => {
    expect(argv(of("service_register", id) as ServiceRegisterStep)).toEqual([want]);
  });
});

describe("agent host directories", () => {
  const mounts = (id: string) => {
    const a = argv(of("consul_agent", id) as ConsulAgentStep)[0]!;
    return [...a.matchAll(/-v (\S+):\/consul\/(config|data)/g)].map((m) => `${m[2]}=${m[1]}`).sort();
  };

  it("an agent alone on its host uses the seed's /etc/consul and its data_dir", () => {
    expect(mounts("consul_agent:s1")).toEqual(["config=/etc/consul", "data=/opt/consul/data"]);
  });

  it("agents sharing a host each get their own", () => {
    expect(mounts("consul_agent:c1")).toEqual(["config=/etc/consul/c1", "data=/opt/consul/data/c1"]);
    expect(mounts("consul_agent:c2")).toEqual(["config=/etc/consul/c2", "data=/opt/consul/data/c2"]);
    const file = renderStep(of("consul_agent", "consul_agent:c2"), { plan: plan.name })[0]!.file!;
    expect(file.path).toBe("/etc/consul/c2/c2.json");
  });
});

describe("go-sockaddr templates and the IPv6 any-address in agent addresses", () => {
  const agent = (fields: string) => planFrom(`
crosshost: 1
name: t-tpl
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }, { name: eth1, address: 10.9.0.71/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, ${fields} }
`).consul!.agents[0]!;

  it("GetInterfaceIP of a host NIC is that NIC's address; the config keeps the template as written", () => {
    const a = agent(`bind_addr: '{{ GetInterfaceIP "eth1" }}', client_addr: "::"`);
    expect(a.bindAddr).toBe(parseIp("10.9.0.71"));
    expect(agentHttpAddress(a)).toBe("127.0.0.1:8500");
    const plan = planFrom(`
crosshost: 1
name: t-tpl2
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, bind_addr: '{{ GetInterfaceIP "eth0" }}' }
`);
    const step = compileSteps(plan).find((s) => s.kind === "consul_agent") as ConsulAgentStep;
    expect(step.config.bind_addr).toBe('{{ GetInterfaceIP "eth0" }}');
  });

  it("a template crosshost cannot evaluate is a warning, and no address check guesses about it", () => {
    const v = validateText(`
crosshost: 1
name: t-tpl3
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24 }] }
consul:
  agents:
    - { name: s1, host: h1, server: true, bootstrap_expect: 1, bind_addr: '{{ GetPrivateIP }}' }
`, "p.yaml");
    const codes = v.diagnostics.filter((d) => d.severity !== "info").map((d) => `${d.severity} ${d.code}`);
    expect(codes).toEqual(["warning invalid_value"]);
  });
});
