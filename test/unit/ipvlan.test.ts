// ipvlan as the kernel runs it (Documentation/networking/ipvlan.rst): children share the parent's MAC, so
// MAC filters that stop macvlan let them through; in L3 mode the master routes for its children and they
// answer no ARP, so other hosts reach them only through routes via their host.
import { describe, expect, it } from "vitest";
import { simulate } from "../helpers/sim.js";

const hosts = (platform: string, aExtra = "", bExtra = "") => `
crosshost: 1
name: t-ipvlan
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24, gateway: 192.168.1.1 }]${platform}${aExtra} }
  - { name: b, nics: [{ name: eth0, address: 192.168.1.12/24, gateway: 192.168.1.1 }]${platform}${bExtra} }
`;
const VSPHERE_LOCKED = ", platform: { kind: vsphere, promiscuous: reject, forged_transmits: reject }";

describe("ipvlan L2 shares the parent's MAC", () => {
  const l2 = (driver: string) => `${hosts(VSPHERE_LOCKED)}networks:
  - { name: lan, driver: ${driver}, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }] }
containers:
  - { name: cx, host: a, image: busybox, networks: [lan] }
  - { name: cy, host: b, image: busybox, networks: [lan] }
`;
  it("crosses a vSphere port group that rejects promiscuous mode and forged transmits", () => {
    expect(simulate(l2("ipvlan")).probe({ from: "cx", to: "cy" }).ok).toBe(true);
  });
  it("where macvlan is dropped", () => {
    const r = simulate(l2("macvlan")).probe({ from: "cx", to: "cy" });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/vSphere port group/);
  });
  it("a public cloud still drops the container addresses (source address check)", () => {
    const r = simulate(l2("ipvlan").replaceAll(VSPHERE_LOCKED, ", platform: { kind: aws }")).probe({ from: "cx", to: "cy" });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/AWS.*source address check/);
  });
  it("unless the provider's source check is off for the NIC", () => {
    expect(simulate(l2("ipvlan").replaceAll(VSPHERE_LOCKED, ", platform: { kind: aws, source_check: false }")).probe({ from: "cx", to: "cy" }).ok).toBe(true);
  });
});

describe("ipvlan L3: the master routes, nobody answers ARP for the children", () => {
  const ROUTES_A = ", routes: [{ to: 10.50.2.0/24, via: 192.168.1.12 }]";
  const ROUTES_B = ", routes: [{ to: 10.50.1.0/24, via: 192.168.1.11 }]";
  const l3 = (aExtra = "", bExtra = "") => `${hosts("", aExtra, bExtra)}networks:
  - name: l3net
    driver: ipvlan
    mode: l3
    parent: eth0
    subnet: 10.50.1.0/24
    hosts: [{ host: a, subnet: 10.50.1.0/24, gateway: 10.50.1.1 }, { host: b, subnet: 10.50.2.0/24, gateway: 10.50.2.1 }]
containers:
  - { name: x1, host: a, image: busybox, networks: [l3net] }
  - { name: x2, host: a, image: busybox, networks: [l3net] }
  - { name: cy, host: b, image: busybox, networks: [l3net] }
`;

  it("children of one master reach each other", () => {
    expect(simulate(l3()).probe({ from: "x1", to: "x2" }).ok).toBe(true);
  });

  it("across hosts, without routes to the other host's children, the packet dies at the router", () => {
    const r = simulate(l3()).probe({ from: "x1", to: "cy" });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/10\.50\.2\.\d+ is inside ipvlan network l3net/);
  });

  it("with a route each way via the other host, they reach each other", () => {
    const s = simulate(l3(ROUTES_A, ROUTES_B));
    const r = s.probe({ from: "x1", to: "cy" });
    expect(r.ok, r.hops!.map((h) => `${h.at}: ${h.note}`).join("\n")).toBe(true);
    expect(r.hops!.map((h) => h.note).join("\n")).toMatch(/handed to a's routing table[\s\S]*ipvlan L3 master delivers by destination address/);
    expect(s.probe({ from: "cy", to: "x2" }).ok).toBe(true);
  });

  it("with a route only one way the reply has no way back", () => {
    const r = simulate(l3(ROUTES_A)).probe({ from: "x1", to: "cy" });
    expect(r.ok).toBe(false);
  });

  it("another host's NIC answers when it has a route back", () => {
    expect(simulate(l3("", ROUTES_B)).probe({ from: "x1", to: "host:b" }).ok).toBe(true);
    expect(simulate(l3()).probe({ from: "x1", to: "host:b" }).ok).toBe(false);
  });

  it("the host and its own L3 children cannot talk, until an L3 shim joins the master", () => {
    const none = simulate(l3());
    expect(none.probe({ from: "host:a", to: "x1" }).reason).toMatch(/a cannot reach its own ipvlan L3 children/);
    const back = none.probe({ from: "x1", to: "host:a" });
    expect(back.ok).toBe(false);
    expect(back.hops!.map((h) => h.note).join("\n")).toMatch(/a cannot reach its own ipvlan L3 children/);
    const shim = simulate(l3(", shims: [{ name: l3shim, parent: eth0, address: 10.50.1.254/32, routes: [10.50.1.0/24] }]"));
    const r = shim.probe({ from: "host:a", to: "x1" });
    expect(r.ok, r.hops!.map((h) => `${h.at}: ${h.note}`).join("\n")).toBe(true);
    const up = shim.probe({ from: "x1", to: "host:a" });
    expect(up.ok, up.hops!.map((h) => `${h.at}: ${h.note}`).join("\n")).toBe(true);
  });
});
