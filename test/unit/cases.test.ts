// Cases from public failure reports (/work/shared/cases/public-reports.md): for every row whose expected
// output is a validator finding, a minimal plan that reproduces it (test/fixtures/cases/<ID>-<slug>.yaml)
// must produce the expected code, and its fixed variant (<ID>-<slug>.fixed.yaml) must not produce that
// code at all. K-<kind>-<n> fixtures are extra cases of the same fault kinds ("Fault kinds" table), not
// listed rows. Each fixture's header comment cites the report and what is expected.
//
// `severity` is the severity the case table gives for the row, where it applies to the validator (absent
// where the table's severity is a simulator outcome or where the code itself is a judgment call; see the
// notes). `message` narrows the check to the finding about the case when the code is a broad one
// (port_blocked, subnet_overlap, mtu_exceeds_path).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CODES, type DiagnosticCode, type Severity } from "../../src/model/codes.js";
import type { Diagnostic } from "../../src/model/diagnostics.js";
import { validateText } from "../../src/model/validate.js";

interface Case {
  readonly id: string;
  readonly file: string;
  readonly code: DiagnosticCode;
  readonly severity?: Severity;
  readonly message?: RegExp;
  readonly note?: string;
}

const CASES = [
  // ---- network scope and attachability (overlay lifecycle) ----
  { id: "B01", file: "B01-overlay-not-listed-on-worker", code: "overlay_lazy_on_worker",
    note: "table: INFO (simulator); the same plan shape is B02's validator WARN, so no severity is asserted" },
  { id: "B02", file: "B02-attachable-overlay-precheck-on-worker", code: "overlay_lazy_on_worker", severity: "warning" },
  { id: "B03", file: "B03-overlay-not-attachable", code: "overlay_not_attachable", severity: "error" },
  { id: "K", file: "K-overlay-lifecycle-1", code: "overlay_not_attachable", severity: "error", message: /ingress/ },
  { id: "K", file: "K-overlay-lifecycle-2", code: "overlay_lazy_on_worker", severity: "warning" },
  { id: "K", file: "K-overlay-lifecycle-3", code: "overlay_not_attachable", severity: "error", message: /consul1/ },
  { id: "K", file: "K-overlay-lifecycle-4", code: "overlay_lazy_on_worker", severity: "info" },

  // ---- join role / control-plane authority ----
  { id: "B04", file: "B04-overlay-without-swarm", code: "swarm_not_manager", severity: "error" },
  { id: "B04", file: "B04-overlay-create-on-worker", code: "swarm_not_manager", severity: "error" },
  { id: "K", file: "K-join-role-1", code: "swarm_not_manager", severity: "error" },
  { id: "K", file: "K-join-role-2", code: "swarm_not_manager", severity: "error" },
  { id: "K", file: "K-join-role-3", code: "swarm_not_manager", severity: "error" },

  // ---- identity / advertise address ----
  { id: "B06", file: "B06-advertise-not-local", code: "swarm_advertise_not_local", severity: "error" },
  { id: "B29", file: "B29-multiple-private-ips", code: "consul_advertise_ambiguous", severity: "error" },
  { id: "B29", file: "B29-host-network-docker0", code: "consul_advertise_ambiguous", severity: "error" },
  { id: "K", file: "K-advertise-identity-1", code: "swarm_advertise_ambiguous", severity: "error" },
  { id: "K", file: "K-advertise-identity-2", code: "consul_bind_not_local", severity: "error" },
  { id: "K", file: "K-advertise-identity-3", code: "consul_advertise_ambiguous", severity: "error" },
  { id: "K", file: "K-advertise-identity-4", code: "host_unreachable",
    note: "advertised address not routable from the peers; no dedicated code, host_unreachable is the closest" },

  // ---- firewall / ports / protocols ----
  { id: "B07", file: "B07-join-port-blocked", code: "port_blocked", severity: "error", message: /tcp\/2377/ },
  { id: "B08", file: "B08-encrypted-overlay-esp-blocked", code: "port_blocked", severity: "error", message: /\besp\b|ESP/ },
  { id: "B31", file: "B31-serf-udp-not-published", code: "port_blocked", severity: "error", message: /8301\/udp/ },
  { id: "K", file: "K-firewall-ports-1", code: "port_blocked", severity: "error", message: /udp\/8301/ },
  { id: "K", file: "K-firewall-ports-2", code: "port_blocked", severity: "error", message: /udp\/7789/ },
  { id: "K", file: "K-firewall-ports-3", code: "port_blocked", severity: "error", message: /udp\/7946/ },
  { id: "K", file: "K-firewall-ports-4", code: "port_blocked", severity: "error", message: /tcp\/2377/ },
  { id: "K", file: "K-firewall-ports-5", code: "port_blocked", severity: "error", message: /tcp\/8300|8300\/tcp/ },
  { id: "K", file: "K-firewall-ports-6", code: "port_blocked", severity: "error", message: /8301/ },

  // ---- VXLAN port conflicts ----
  { id: "B09", file: "B09-data-path-port-nsx", code: "vxlan_port_conflict", severity: "error" },
  { id: "K", file: "K-vxlan-port-1", code: "vxlan_port_conflict", severity: "error" },
  { id: "K", file: "K-vxlan-port-2", code: "vxlan_port_conflict", severity: "error" },
  { id: "K", file: "K-vxlan-port-3", code: "vxlan_port_conflict",
    note: "encryption with a custom data-path port on an old engine; no dedicated code, vxlan_port_conflict is the closest" },

  // ---- MTU ----
  { id: "B11", file: "B11-overlay-mtu-openstack", code: "mtu_exceeds_path", severity: "error", message: /overlay "app-net"/ },
  { id: "B13", file: "B13-bridge-mtu-above-egress", code: "mtu_exceeds_path", severity: "warning", message: /docker0/ },
  { id: "B15", file: "B15-mixed-underlay-mtu", code: "mtu_exceeds_path", message: /different underlay MTUs/,
    note: "table: WARN; the rule gives ERROR for the user overlay (B11's condition holds too) and WARN for ingress" },
  { id: "B15", file: "B15-docker0-mtu-openstack", code: "mtu_exceeds_path", severity: "warning", message: /docker0/ },
  { id: "K", file: "K-mtu-1", code: "mtu_exceeds_path", severity: "error", message: /9000/ },
  { id: "K", file: "K-mtu-2", code: "mtu_exceeds_path", severity: "error", message: /secure-net/ },
  { id: "K", file: "K-mtu-3", code: "mtu_exceeds_path", severity: "warning", message: /ingress/ },
  { id: "K", file: "K-mtu-4", code: "mtu_exceeds_path", severity: "warning", message: /app-br/ },
  { id: "K", file: "K-mtu-5", code: "mtu_exceeds_path", severity: "error", message: /overlay "app-net"/ },
  { id: "K", file: "K-mtu-6", code: "mtu_exceeds_path", severity: "error", message: /overlay "app-net"/ },

  // ---- addressing overlap ----
  { id: "B16", file: "B16-ingress-overlaps-corp-lan", code: "subnet_overlap", severity: "error", message: /ingress.*corp-lan/ },
  { id: "B18", file: "B18-gwbridge-overlaps-peered-vpc", code: "subnet_overlap", severity: "error", message: /docker_gwbridge.*peered-vpc/ },
  { id: "B20", file: "B20-overlay-equals-lan", code: "subnet_overlap", severity: "error", message: /overlay "ovnet".*eth0 subnet/ },
  { id: "B38", file: "B38-macvlan-pool-overlap", code: "subnet_overlap", severity: "error", message: /"n1".*"n2"|"n2".*"n1"/ },
  { id: "B38", file: "B38-macvlan-parent-shared", code: "macvlan_parent_shared", severity: "error" },
  { id: "K", file: "K-addressing-overlap-1", code: "subnet_overlap", severity: "error", message: /route to 10\.50\.0\.0\/16/ },
  { id: "K", file: "K-addressing-overlap-2", code: "subnet_overlap", severity: "error", message: /app-br.*docker0/ },
  { id: "K", file: "K-addressing-overlap-3", code: "subnet_overlap", severity: "error", message: /ingress.*corp/ },
  { id: "K", file: "K-addressing-overlap-4", code: "subnet_overlap", severity: "error", message: /docker_gwbridge.*route/ },
  { id: "K", file: "K-addressing-overlap-5", code: "subnet_overlap", severity: "error", message: /"back".*"front"|"front".*"back"/ },
  { id: "K", file: "K-addressing-overlap-6", code: "subnet_overlap", severity: "error", message: /app-net/ },
  { id: "K", file: "K-addressing-overlap-7", code: "subnet_overlap", severity: "error", message: /"mv".*route/ },
  { id: "K", file: "K-addressing-overlap-8", code: "subnet_overlap", severity: "error", message: /docker_gwbridge/ },

  // ---- distributed IPAM (macvlan) ----
  { id: "B36", file: "B36-macvlan-same-range-per-node", code: "macvlan_ip_range_overlap", severity: "error" },
  { id: "K", file: "K-macvlan-ipam-1", code: "macvlan_ip_range_overlap", severity: "error" },
  { id: "K", file: "K-macvlan-ipam-2", code: "macvlan_ip_range_overlap", severity: "error" },
  { id: "K", file: "K-macvlan-ipam-3", code: "pool_exhausted", severity: "error" },
  { id: "K", file: "K-macvlan-ipam-4", code: "macvlan_gateway_absent", severity: "warning" },
  { id: "K", file: "K-macvlan-ipam-5", code: "duplicate_address", severity: "error" },

  // ---- L2 isolation / underlay acceptance (macvlan) ----
  { id: "B33", file: "B33-host-to-own-macvlan", code: "macvlan_host_isolation", severity: "info",
    note: "table: INFO/WARN; the rule also gives an ERROR because the plan expects the host to reach it" },
  { id: "B34", file: "B34-vsphere-port-group-default", code: "macvlan_promiscuous_required", severity: "error" },
  { id: "B35", file: "B35-aws-macvlan", code: "macvlan_cloud_mac_filter", severity: "error" },
  { id: "K", file: "K-macvlan-l2-underlay-1", code: "macvlan_promiscuous_required", severity: "error" },
  { id: "K", file: "K-macvlan-l2-underlay-2", code: "macvlan_promiscuous_required", severity: "error" },
  { id: "K", file: "K-macvlan-l2-underlay-3", code: "macvlan_cloud_mac_filter", severity: "error" },
  { id: "K", file: "K-macvlan-l2-underlay-4", code: "macvlan_parent_missing", severity: "error" },
  { id: "K", file: "K-macvlan-l2-underlay-5", code: "macvlan_cloud_mac_filter", severity: "error",
    note: "OpenStack port security drops unknown MACs by default; macvlan_promiscuous_required would do as well" },
  { id: "K", file: "K-macvlan-l2-underlay-6", code: "kernel_feature_missing", severity: "error" },
  { id: "K", file: "K-macvlan-l2-underlay-7", code: "macvlan_host_isolation", severity: "error" },
  { id: "K", file: "K-macvlan-l2-underlay-8", code: "macvlan_host_isolation", severity: "error" },

  // ---- quorum arithmetic ----
  { id: "B22", file: "B22-two-managers", code: "swarm_quorum_fault_tolerance", severity: "warning" },
  { id: "B23", file: "B23-consul-two-servers", code: "consul_quorum_fault_tolerance", severity: "warning" },
  { id: "B24", file: "B24-consul-readdress-in-place", code: "consul_stale_raft_peer", severity: "warning" },
  { id: "B24", file: "B24-consul-cloned-servers", code: "consul_stale_raft_peer", severity: "warning" },
  { id: "K", file: "K-quorum-1", code: "swarm_quorum_fault_tolerance", severity: "warning" },
  { id: "K", file: "K-quorum-2", code: "swarm_quorum_fault_tolerance", severity: "warning" },
  { id: "K", file: "K-quorum-3", code: "consul_quorum_fault_tolerance", severity: "warning" },
  { id: "K", file: "K-quorum-4", code: "consul_quorum_fault_tolerance", severity: "warning" },
  { id: "K", file: "K-quorum-5", code: "consul_stale_raft_peer", severity: "warning" },

  // ---- bootstrap configuration (Consul) ----
  { id: "B25", file: "B25-bootstrap-expect-only-first", code: "consul_expect_conflict", severity: "error" },
  { id: "B27", file: "B27-expect-on-client", code: "consul_expect_on_client", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-1", code: "consul_multiple_bootstrap", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-2", code: "consul_multiple_bootstrap", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-3", code: "consul_expect_conflict", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-4", code: "consul_expect_below_servers", severity: "warning" },
  { id: "K", file: "K-consul-bootstrap-5", code: "consul_expect_unreached", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-6", code: "consul_leave_on_terminate", severity: "warning" },
  { id: "K", file: "K-consul-bootstrap-7", code: "consul_expect_conflict", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-8", code: "consul_expect_on_client", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-9", code: "consul_expect_conflict", severity: "error" },
  { id: "K", file: "K-consul-bootstrap-10", code: "consul_multiple_bootstrap", severity: "error" },

  // ---- service registration address ----
  { id: "B32", file: "B32-service-bridge-ip", code: "service_address_unreachable", severity: "error" },
  { id: "B32", file: "B32-service-host-ip-overlay", code: "service_address_unreachable", severity: "error" },
  { id: "K", file: "K-service-address-1", code: "service_address_unreachable", severity: "error" },
  { id: "K", file: "K-service-address-2", code: "service_address_unreachable", severity: "error" },
  { id: "K", file: "K-service-address-3", code: "service_address_unreachable", severity: "error" },
  { id: "K", file: "K-service-address-4", code: "service_address_unreachable", severity: "error" },
  { id: "K", file: "K-service-address-5", code: "service_address_unreachable", severity: "error" },
  { id: "K", file: "K-service-address-6", code: "service_address_unreachable", severity: "error" },
] as const satisfies readonly Case[];

const DIR = new URL("../fixtures/cases/", import.meta.url);

function validate(name: string) {
  return validateText(readFileSync(new URL(name, DIR), "utf8"), `test/fixtures/cases/${name}`);
}

function show(ds: readonly Diagnostic[]): string {
  if (ds.length === 0) return "  (no diagnostics)";
  return ds.map((d) => `  ${d.location ? `${d.location.line}:${d.location.column}` : "-"} ${d.severity} ${d.code}: ${d.message}`).join("\n");
}

/** A fixture must be a well-formed plan: no parse/input errors and no crash of a rule. */
function expectWellFormed(ds: readonly Diagnostic[]): void {
  const bad = ds.filter((d) => CODES[d.code].family === "input" || d.code === "internal_error");
  expect(bad, `the fixture itself has input problems:\n${show(bad)}`).toEqual([]);
}

describe.each(CASES as readonly Case[])("case $id: $file", (c) => {
  it(`reports ${c.code}${c.severity ? ` (${c.severity})` : ""}`, () => {
    const v = validate(`${c.file}.yaml`);
    expect(v.parsed).toBe(true);
    expectWellFormed(v.diagnostics);
    const hits = v.diagnostics.filter((d) => d.code === c.code && (!c.message || c.message.test(d.message)));
    expect(hits.length, `expected ${c.code}${c.message ? ` matching ${c.message}` : ""}; got:\n${show(v.diagnostics)}`).toBeGreaterThan(0);
    if (c.severity) {
      expect(hits.map((d) => d.severity), `expected a ${c.code} finding with severity ${c.severity}; got:\n${show(hits)}`).toContain(c.severity);
    }
  });

  it("fixed variant does not", () => {
    const v = validate(`${c.file}.fixed.yaml`);
    expect(v.parsed).toBe(true);
    expectWellFormed(v.diagnostics);
    const hits = v.diagnostics.filter((d) => d.code === c.code);
    expect(hits, `the fixed variant still reports ${c.code}:\n${show(hits)}`).toEqual([]);
  });
});
