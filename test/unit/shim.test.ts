// Host shims follow the driver of their parent's networks: one master carries macvlan or ipvlan children,
// never both (containernetworking/cni#7), in the plan, the rendered commands and the simulator.
import { describe, expect, it } from "vitest";
import { compileSteps } from "../../src/model/steps/compile.js";
import { World } from "../../src/model/sim/world.js";
import { renderStep } from "../../src/model/steps/render.js";
import type { ShimCreateStep } from "../../src/model/steps/step.js";
import { validateText } from "../../src/model/validate.js";
import { planFrom, simulate } from "../helpers/sim.js";

const hosts = (shim: string) => `
crosshost: 1
name: t-shim
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24, gateway: 192.168.1.1 }]${shim ? `, shims: [${shim}]` : ""} }
  - { name: b, nics: [{ name: eth0, address: 192.168.1.12/24, gateway: 192.168.1.1 }] }
`;
const lan = (driver: string, mode = "") => `  - { name: lan, driver: ${driver}, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0${mode ? `, mode: ${mode}` : ""}, hosts: [{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }] }`;
const SHIM = "{ name: hshim, parent: eth0, address: 192.168.1.201/32, routes: [192.168.1.128/27] }";

const shimCommands = (text: string) => {
  const plan = planFrom(text);
  const step = compileSteps(plan).find((s): s is ShimCreateStep => s.kind === "shim_create")!;
  return { step, argv: renderStep(step, { plan: plan.name }).map((c) => c.argv.join(" ")) };
};

describe("shim link type", () => {
  it.each([
    ["macvlan", "", "ip link add hshim link eth0 type macvlan mode bridge", "kernel_module:macvlan@a"],
    ["ipvlan", "", "ip link add hshim link eth0 type ipvlan mode l2", "kernel_module:ipvlan@a"],
    ["ipvlan", "l3", "ip link add hshim link eth0 type ipvlan mode l3", "kernel_module:ipvlan@a"],
  ])("on a %s network (mode %s): %s", (driver, mode, want, module) => {
    const { step, argv } = shimCommands(`${hosts(SHIM)}networks:\n${lan(driver, mode)}\n`);
    expect(argv[0]).toBe(want);
    expect(step.after).toEqual([module]);
  });

  it("a shim alone on its NIC is macvlan, its kernel module checked", () => {
    const { step, argv } = shimCommands(hosts(SHIM));
    expect(argv[0]).toBe("ip link add hshim link eth0 type macvlan mode bridge");
    expect(step.after).toEqual(["kernel_module:macvlan@a"]);
  });
});

describe("simulator: a second kind of child on one master fails as the kernel does", () => {
  const mixed = `${hosts("")}networks:
  - { name: mv, driver: macvlan, subnet: 10.1.0.0/24, parent: eth0, hosts: [a] }
  - { name: iv, driver: ipvlan, subnet: 10.2.0.0/24, parent: eth0, hosts: [a] }
containers:
  - { name: cm, host: a, image: busybox, networks: [mv] }
  - { name: ci, host: a, image: busybox, networks: [iv] }
`;

  it("the first container runs, the second is refused with Docker's error", () => {
    const s = simulate(mixed);
    expect(s.results.find((r) => r.id === "container_run:cm")!.status).not.toBe("failed");
    const second = s.results.find((r) => r.id === "container_run:ci")!;
    expect(second.status).toBe("failed");
    expect(second.message).toMatch(/failed to create the ipvlan port: device or resource busy/);
  });

  it("on separate parents both run", () => {
    const s = simulate(mixed.replace("parent: eth0, hosts: [a] }\ncontainers", "parent: eth0.20, hosts: [a] }\ncontainers"));
    expect(s.results.filter((r) => r.status === "failed").map((r) => r.id)).toEqual([]);
  });

  it("a macvlan shim on an ipvlan master makes the ipvlan container fail", () => {
    const s = simulate(`${hosts(SHIM.replace("parent: eth0", "parent: eth0, type: macvlan"))}networks:\n${lan("ipvlan")}\ncontainers:\n  - { name: cc, host: a, image: busybox, networks: [lan] }\n`);
    expect(s.results.find((r) => r.id === "container_run:cc")!.message).toMatch(/device or resource busy/);
  });
});

describe("a shim on a VLAN parent Docker creates", () => {
  const plan = `
crosshost: 1
name: t-vlan-shim
hosts:
  - { name: h1, nics: [{ name: eth0, address: 192.168.1.71/24, gateway: 192.168.1.1 }], shims: [{ name: mv10, parent: eth0.10, address: 10.10.0.250/32, routes: [10.10.0.0/25] }] }
  - { name: h2, nics: [{ name: eth0, address: 192.168.1.72/24, gateway: 192.168.1.1 }] }
segments:
  - { name: lan, members: [h1/eth0, h2/eth0], routers: [192.168.1.1, 10.10.0.1] }
networks:
  - { name: v10, driver: macvlan, subnet: 10.10.0.0/24, gateway: 10.10.0.1, parent: eth0.10, hosts: [{ host: h1, ip_range: 10.10.0.0/25 }, { host: h2, ip_range: 10.10.0.128/25 }] }
containers:
  - { name: b1, host: h1, image: busybox, networks: [v10] }
`;
  it("comes after the network that creates eth0.10, and is made", () => {
    const s = simulate(plan);
    const step = s.steps.find((x) => x.id === "shim_create:mv10@h1")!;
    expect(step.after).toContain("network_create:v10@h1");
    expect(s.results.find((r) => r.id === "shim_create:mv10@h1")!.status).not.toBe("failed");
    expect(s.probe({ from: "host:h1", to: "b1" }).ok).toBe(true);
  });
  it("a router the segment lists for the VLAN is the VLAN's gateway too", () => {
    const v = validateText(plan, "p.yaml");
    expect(v.diagnostics.filter((d) => d.code === "macvlan_gateway_absent")).toEqual([]);
    expect(validateText(plan.replace(", 10.10.0.1]", "]"), "p.yaml").diagnostics.map((d) => d.code)).toContain("macvlan_gateway_absent");
  });
});

describe("a shim that was never made carries nothing", () => {
  it("without its shim_create step the host is isolated from its own macvlan container; with it, it reaches it", () => {
    const plan = planFrom("macvlan");
    const steps = compileSteps(plan);
    const without = new World(plan);
    for (const s of steps) if (s.kind !== "shim_create") without.apply(s);
    const r = without.probe({ from: "host:docker-71", to: "box1", by: "address", proto: "icmp", size: 56 });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/parent isolation\); its shim mvshim was never made/);
    const withShim = new World(plan);
    for (const s of steps) withShim.apply(s);
    expect(withShim.probe({ from: "host:docker-71", to: "box1", by: "address", proto: "icmp", size: 56 }).ok).toBe(true);
  });
});
