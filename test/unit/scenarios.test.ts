// The built-in scenarios (issue 2): the seed's two walk-throughs, reproduced as written, must report the
// seed's mistakes that DESIGN.md lists, each at its place in the file; the corrected versions must report
// no error and no warning.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listScenarios } from "../../src/scenarios/index.js";
import { validateText } from "../../src/model/validate.js";

const findings = (name: string) => {
  const s = listScenarios().find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  return validateText(readFileSync(s.file, "utf8"), s.file).diagnostics;
};

/** [severity, code, path] of each expected finding; the scenario must report exactly these, nothing else. */
const SEED: Record<string, readonly (readonly [string, string, string])[]> = {
  "seed-macvlan": [
    // 172.29.0.0/16 is not the LAN's subnet and its gateway .254 exists nowhere: no way off the segment.
    ["warning", "macvlan_gateway_absent", "networks.0.gateway"],
    // Each daemon's macvlan IPAM is its own: without disjoint ip-ranges two hosts hand out one address.
    ["warning", "macvlan_ip_range_overlap", "networks.0.hosts.1"],
    // The kernel filters parent-to-child traffic: neither host reaches its own container.
    ["info", "macvlan_host_isolation", "hosts.0"],
    ["info", "macvlan_host_isolation", "hosts.1"],
  ],
  "seed-swarm-consul": [
    // bootstrap_expect 2 with two servers: quorum 2, no failure tolerated.
    ["warning", "consul_quorum_fault_tolerance", "consul.agents.0.bootstrap_expect"],
    // server-2 has no bootstrap_expect: only server-1 can ever bootstrap.
    ["error", "consul_expect_conflict", "consul.agents.1"],
    // web-service-1 is checked on the host's port 80 (nginx is published on 8080); the other two on overlay
    // addresses a host-network agent has no route to.
    ["error", "service_check_unreachable", "services.0.check"],
    ["error", "service_check_unreachable", "services.1.check"],
    ["error", "service_check_unreachable", "services.2.check"],
  ],
};

describe("built-in scenarios", () => {
  for (const [name, expected] of Object.entries(SEED)) {
    it(`${name} reports the seed's mistakes, each at its place, and nothing else`, () => {
      const got = findings(name).map((d) => [d.severity, d.code, d.path.join(".")] as const);
      expect([...got].sort()).toEqual([...expected].sort());
      for (const d of findings(name)) {
        expect(d.location?.line, `${d.code} has a line`).toBeGreaterThan(0);
        expect(d.hint.length, `${d.code} has a hint`).toBeGreaterThan(0);
      }
    });
  }

  it("every seed mistake names the value it is about", () => {
    const msgs = findings("seed-macvlan").map((d) => d.message).join("\n");
    expect(msgs).toMatch(/172\.29\.0\.254/);
    const consul = findings("seed-swarm-consul").map((d) => d.message).join("\n");
    expect(consul).toMatch(/192\.168\.1\.71:80/);
    expect(consul).toMatch(/10\.20\.0\.4/);
  });

  for (const name of ["macvlan", "swarm-consul"]) {
    it(`${name} (corrected) has no error and no warning`, () => {
      const bad = findings(name).filter((d) => d.severity !== "info");
      expect(bad.map((d) => `${d.code} at ${d.path.join(".")}: ${d.message}`)).toEqual([]);
    });
  }

  it("the worker variant's only warning is its two managers (one host is a worker by design)", () => {
    const bad = findings("swarm-consul-worker").filter((d) => d.severity !== "info");
    expect(bad.map((d) => d.code)).toEqual(["swarm_quorum_fault_tolerance"]);
  });
});
