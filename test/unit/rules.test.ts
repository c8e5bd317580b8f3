// One row per diagnostic code: a plan that must produce it, and the nearest plan that must not.
import { describe, expect, it } from "vitest";
import type { DiagnosticCode } from "../../src/model/codes.js";
import { didYouMean, editDistance } from "../../src/model/diagnostics.js";
import { durationMs } from "../../src/model/read/names.js";
import { validateText, validateValue } from "../../src/model/validate.js";

const two = (extra = "") => `
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24, gateway: 192.168.1.1 }]${extra ? `, ${extra}` : ""} }
  - { name: b, nics: [{ name: eth0, address: 192.168.1.12/24, gateway: 192.168.1.1 }] }
`;
const three = `
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24, gateway: 192.168.1.1 }] }
  - { name: b, nics: [{ name: eth0, address: 192.168.1.12/24, gateway: 192.168.1.1 }] }
  - { name: c, nics: [{ name: eth0, address: 192.168.1.13/24, gateway: 192.168.1.1 }] }
`;
const swarm3 = `
swarm:
  nodes:
    - { host: a, role: manager, advertise_addr: 192.168.1.11 }
    - { host: b, role: manager, advertise_addr: 192.168.1.12 }
    - { host: c, role: manager, advertise_addr: 192.168.1.13 }
`;
const consul3 = (a = "bootstrap_expect: 3", b = "bootstrap_expect: 3", c = "bootstrap_expect: 3", extra = "") => `
consul:
  agents:
    - { name: s1, host: a, server: true, ${a}, bind_addr: 192.168.1.11, advertise_addr: 192.168.1.11, retry_join: [192.168.1.12] ${extra} }
    - { name: s2, host: b, server: true, ${b}, bind_addr: 192.168.1.12, advertise_addr: 192.168.1.12, retry_join: [192.168.1.11] }
    - { name: s3, host: c, server: true, ${c}, bind_addr: 192.168.1.13, advertise_addr: 192.168.1.13, retry_join: [192.168.1.11] }
`;
const mtu1450 = `
hosts:
  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24, gateway: 192.168.1.1, mtu: 1450 }], docker: { bridge: { mtu: 1450 }, gwbridge: { mtu: 1450 } } }
  - { name: b, nics: [{ name: eth0, address: 192.168.1.12/24, gateway: 192.168.1.1, mtu: 1450 }], docker: { bridge: { mtu: 1450 }, gwbridge: { mtu: 1450 } } }
  - { name: c, nics: [{ name: eth0, address: 192.168.1.13/24, gateway: 192.168.1.1, mtu: 1450 }], docker: { bridge: { mtu: 1450 }, gwbridge: { mtu: 1450 } } }
`;
const swarm3Ingress1450 = swarm3.replace("swarm:\n", "swarm:\n  ingress: { mtu: 1450 }\n");
const macvlan = (hostsLine: string, containers: string) => `${two()}
networks:
  - name: mv
    driver: macvlan
    subnet: 192.168.1.0/24
    gateway: 192.168.1.1
    parent: eth0
    hosts: ${hostsLine}
containers:
${containers}
`;

interface Row {
  code: DiagnosticCode;
  bad: string;
  good: string;
  why?: string;
}

const ROWS: Row[] = [
  { code: "parse_error", bad: "hosts: [\n  - { name: a", good: two() },
  { code: "unknown_key", bad: two().replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gatway: 192.168.1.1 }] }\n  - { name: b"), good: two() },
  { code: "missing_field", bad: "hosts:\n  - { name: a }\n", good: two() },
  { code: "invalid_value", bad: two().replace("192.168.1.11/24", "192.168.1.311/24"), good: two() },
  { code: "invalid_value", why: "engine version unquoted (YAML reads 20.10 as 20.1)", bad: two("docker: { version: 20.10 }"), good: two('docker: { version: "20.10" }') },
  {
    code: "invalid_value", why: "fixed ip on the default bridge (docker run --ip refuses it)",
    bad: `${two()}\ncontainers: [{ name: cx, host: a, networks: [{ network: bridge, ip: 172.17.0.9 }] }]`,
    good: `${two()}\nnetworks: [{ name: app, driver: bridge, subnet: 10.30.0.0/24 }]\ncontainers: [{ name: cx, host: a, networks: [{ network: app, ip: 10.30.0.9 }] }]`,
  },
  {
    code: "invalid_value", why: "aliases on the default bridge (docker run --network-alias refuses them)",
    bad: `${two()}\ncontainers: [{ name: cx, host: a, networks: [{ network: bridge, aliases: [web] }] }]`,
    good: `${two()}\nnetworks: [{ name: app, driver: bridge, subnet: 10.30.0.0/24 }]\ncontainers: [{ name: cx, host: a, networks: [{ network: app, aliases: [web] }] }]`,
  },
  { code: "unknown_reference", bad: `${two()}\ncontainers: [{ name: cx, host: zz }]`, good: `${two()}\ncontainers: [{ name: cx, host: a }]` },
  { code: "duplicate_name", bad: `${two()}\ncontainers: [{ name: cx, host: a }, { name: cx, host: b }]`, good: `${two()}\ncontainers: [{ name: cx, host: a }, { name: cy, host: b }]` },
  {
    code: "address_outside_subnet",
    bad: `${two()}\nnetworks: [{ name: n, subnet: 10.1.0.0/24, hosts: [a] }]\ncontainers: [{ name: cx, host: a, networks: [{ network: n, ip: 10.1.1.5 }] }]`,
    good: `${two()}\nnetworks: [{ name: n, subnet: 10.1.0.0/24, hosts: [a] }]\ncontainers: [{ name: cx, host: a, networks: [{ network: n, ip: 10.1.0.5 }] }]`,
  },
  {
    code: "duplicate_address",
    why: "same macvlan address on two hosts of one segment",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }]", "  - { name: cx, host: a, networks: [{ network: mv, ip: 192.168.1.130 }] }\n  - { name: cy, host: b, networks: [{ network: mv, ip: 192.168.1.130 }] }"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }]", "  - { name: cx, host: a, networks: [{ network: mv, ip: 192.168.1.130 }] }\n  - { name: cy, host: b, networks: [{ network: mv, ip: 192.168.1.162 }] }"),
  },
  {
    code: "duplicate_address",
    why: "a container given a host's NIC address on the LAN",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [{ network: mv, ip: 192.168.1.12 }] }"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [{ network: mv, ip: 192.168.1.129 }] }"),
  },
  {
    code: "reserved_address",
    bad: `${two()}\nnetworks: [{ name: n, subnet: 10.1.0.0/24, hosts: [a] }]\ncontainers: [{ name: cx, host: a, networks: [{ network: n, ip: 10.1.0.1 }] }]`,
    good: `${two()}\nnetworks: [{ name: n, subnet: 10.1.0.0/24, hosts: [a] }]\ncontainers: [{ name: cx, host: a, networks: [{ network: n, ip: 10.1.0.2 }] }]`,
  },
  {
    code: "subnet_overlap",
    why: "overlay on the LAN's own subnet (moby/moby#21357)",
    bad: `${three}${swarm3}\nnetworks: [{ name: o, driver: overlay, attachable: true, subnet: 192.168.1.0/24 }]`,
    good: `${three}${swarm3}\nnetworks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]`,
  },
  {
    code: "subnet_overlap",
    why: "docker_gwbridge against a host route (moby/moby#27890)",
    bad: three.replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], routes: [{ to: 172.20.0.0/16, via: 192.168.1.254 }], docker: { gwbridge: { subnet: 172.20.0.0/16 } } }\n  - { name: b") + swarm3,
    good: three.replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], routes: [{ to: 172.20.0.0/16, via: 192.168.1.254 }], docker: { gwbridge: { subnet: 172.21.0.0/16 } } }\n  - { name: b") + swarm3,
  },
  {
    code: "ip_range_outside_subnet",
    bad: macvlan("[{ host: a, ip_range: 10.0.0.0/27 }]", "  - { name: cx, host: a, networks: [mv] }"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }"),
  },
  {
    code: "pool_exhausted",
    bad: `${two()}\nnetworks: [{ name: n, subnet: 10.1.0.0/30, hosts: [a] }]\ncontainers: [{ name: cx, host: a, networks: [n] }, { name: cy, host: a, networks: [n] }]`,
    good: `${two()}\nnetworks: [{ name: n, subnet: 10.1.0.0/29, hosts: [a] }]\ncontainers: [{ name: cx, host: a, networks: [n] }, { name: cy, host: a, networks: [n] }]`,
  },
  {
    code: "macvlan_parent_missing",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27, parent: ens34 }]", "  - { name: cx, host: a, networks: [mv] }"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }"),
  },
  {
    code: "macvlan_parent_shared",
    bad: `${two()}\nnetworks:\n  - { name: m1, driver: macvlan, subnet: 10.1.0.0/24, parent: eth0, hosts: [a] }\n  - { name: m2, driver: macvlan, subnet: 10.2.0.0/24, parent: eth0, hosts: [a] }`,
    good: `${two()}\nnetworks:\n  - { name: m1, driver: macvlan, subnet: 10.1.0.0/24, parent: eth0, hosts: [a] }\n  - { name: m2, driver: macvlan, subnet: 10.2.0.0/24, parent: eth0.20, hosts: [a] }`,
  },
  {
    code: "macvlan_parent_shared",
    why: "a macvlan and an ipvlan network on one NIC, any engine (the kernel refuses the second kind)",
    bad: `${two()}\nnetworks:\n  - { name: m1, driver: macvlan, subnet: 10.1.0.0/24, parent: eth0, hosts: [a] }\n  - { name: i1, driver: ipvlan, subnet: 10.2.0.0/24, parent: eth0, hosts: [a] }`,
    good: `${two()}\nnetworks:\n  - { name: m1, driver: macvlan, subnet: 10.1.0.0/24, parent: eth0, hosts: [a] }\n  - { name: i1, driver: ipvlan, subnet: 10.2.0.0/24, parent: eth0.20, hosts: [a] }`,
  },
  {
    code: "macvlan_parent_shared",
    why: "a shim typed macvlan on an ipvlan network's parent (untyped, it follows the network)",
    bad: `${two("shims: [{ parent: eth0, type: macvlan, address: 192.168.1.201/32, routes: [192.168.1.128/27] }]")}\nnetworks:\n  - { name: i1, driver: ipvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }] }`,
    good: `${two("shims: [{ parent: eth0, address: 192.168.1.201/32, routes: [192.168.1.128/27] }]")}\nnetworks:\n  - { name: i1, driver: ipvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }] }`,
  },
  {
    code: "macvlan_ip_range_overlap",
    bad: macvlan("[a, b]", "  - { name: cx, host: a, networks: [mv] }\n  - { name: cy, host: b, networks: [mv] }"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }]", "  - { name: cx, host: a, networks: [mv] }\n  - { name: cy, host: b, networks: [mv] }"),
  },
  {
    code: "macvlan_ip_range_overlap",
    why: "a shim inside another host's ip_range (that host's IPAM does not know it)",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], shims: [{ parent: eth0, address: 192.168.1.170/32, routes: [192.168.1.128/27] }] }\n  - { name: b"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.168.1.160/27, aux_addresses: { shim-a: 192.168.1.170 } }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], shims: [{ parent: eth0, address: 192.168.1.170/32, routes: [192.168.1.128/27] }] }\n  - { name: b"),
  },
  {
    code: "macvlan_cloud_mac_filter",
    why: "ipvlan on AWS: its shared MAC passes, the container addresses do not",
    bad: `${two(", platform: { kind: aws }")}networks: [{ name: iv, driver: ipvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }] }]`.replace("}], , platform", "}], platform"),
    good: `${two(", platform: { kind: aws, source_check: false }")}networks: [{ name: iv, driver: ipvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }] }]`.replace("}], , platform", "}], platform"),
  },
  {
    code: "macvlan_gateway_absent",
    bad: `${two()}\nnetworks: [{ name: mv, driver: macvlan, subnet: 172.29.0.0/16, gateway: 172.29.0.254, parent: eth0, hosts: [a] }]`,
    good: `${two()}\nnetworks: [{ name: mv, driver: macvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }] }]`,
  },
  {
    code: "macvlan_gateway_absent",
    why: "the LAN's subnet, but a gateway that is not its router",
    bad: `${two()}\nnetworks: [{ name: mv, driver: macvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.254, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }] }]`,
    good: `${two()}\nnetworks: [{ name: mv, driver: macvlan, subnet: 192.168.1.0/24, gateway: 192.168.1.1, parent: eth0, hosts: [{ host: a, ip_range: 192.168.1.128/27 }] }]`,
  },
  {
    code: "macvlan_promiscuous_required",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], platform: { kind: vsphere, promiscuous: reject } }\n  - { name: b"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], platform: { kind: vsphere, promiscuous: accept, forged_transmits: accept } }\n  - { name: b"),
  },
  {
    code: "macvlan_cloud_mac_filter",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], platform: { kind: aws } }\n  - { name: b"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }"),
  },
  {
    code: "macvlan_host_isolation",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }") + "expect:\n  - reach: { from: host:a, to: cx }\n",
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], shims: [{ parent: eth0, address: 192.168.1.190/32, routes: [192.168.1.128/27] }] }\n  - { name: b") + "expect:\n  - reach: { from: host:a, to: cx }\n",
  },
  {
    code: "kernel_feature_missing",
    bad: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], kernel: { macvlan: false } }\n  - { name: b"),
    good: macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], kernel: { ipvlan: false } }\n  - { name: b"),
  },
  { code: "swarm_quorum_fault_tolerance", bad: `${two()}\nswarm: { managers: [a, b] }`, good: three + swarm3 },
  {
    code: "swarm_not_manager",
    bad: `${two()}\nswarm: { managers: [a], workers: [b] }\nnetworks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16, create_on: b }]`,
    good: `${two()}\nswarm: { managers: [a], workers: [b] }\nnetworks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16, create_on: a }]`,
  },
  {
    code: "swarm_advertise_ambiguous",
    bad: `hosts:\n  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24 }, { name: eth1, address: 10.9.0.11/24 }] }\nswarm: { managers: [a] }`,
    good: `hosts:\n  - { name: a, nics: [{ name: eth0, address: 192.168.1.11/24 }, { name: eth1, address: 10.9.0.11/24 }] }\nswarm: { nodes: [{ host: a, advertise_addr: 192.168.1.11 }] }`,
  },
  {
    code: "swarm_advertise_not_local",
    bad: `${two()}\nswarm: { nodes: [{ host: a, advertise_addr: 203.0.113.10 }] }`,
    good: `${two()}\nswarm: { nodes: [{ host: a, advertise_addr: 192.168.1.11 }] }`,
  },
  {
    code: "swarm_advertise_not_local",
    why: "a joining manager advertising a typo on its own LAN (the leader's health check refuses the join)",
    bad: three + swarm3.replace("advertise_addr: 192.168.1.12", "advertise_addr: 192.168.1.112"),
    good: three + swarm3,
  },
  {
    code: "overlay_not_attachable",
    bad: `${two()}\nswarm: { managers: [a], workers: [b] }\nnetworks: [{ name: o, driver: overlay, subnet: 10.20.0.0/16 }]\ncontainers: [{ name: cx, host: b, networks: [o] }]`,
    good: `${two()}\nswarm: { managers: [a], workers: [b] }\nnetworks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]\ncontainers: [{ name: cx, host: b, networks: [o] }]`,
  },
  {
    code: "port_blocked",
    why: "the worker cannot reach the manager's 2377 (caprover/caprover#2017)",
    bad: two("firewall: { inbound: deny, allow: [{ proto: tcp, port: 2377, from: [192.168.1.11] }, { proto: any, from: [b] }] }").replace("{ proto: any, from: [b] }", "{ proto: udp, from: [b] }, { proto: tcp, port: 7946, from: [b] }") + "swarm: { managers: [a], workers: [b] }",
    good: two("firewall: { inbound: deny, allow: [{ proto: tcp, port: 2377 }, { proto: udp, from: [b] }, { proto: tcp, port: 7946, from: [b] }] }") + "swarm: { managers: [a], workers: [b] }",
  },
  {
    code: "port_blocked",
    why: "encrypted overlay without ESP (moby/moby#26523)",
    bad: two("firewall: { inbound: deny, allow: [{ proto: tcp, port: 2377 }, { proto: tcp, port: 7946 }, { proto: udp, port: 7946 }, { proto: udp, port: 4789 }] }") + "swarm: { managers: [a], workers: [b] }\nnetworks: [{ name: o, driver: overlay, attachable: true, encrypted: true, subnet: 10.20.0.0/16 }]",
    good: two("firewall: { inbound: deny, allow: [{ proto: tcp, port: 2377 }, { proto: tcp, port: 7946 }, { proto: udp, port: 7946 }, { proto: udp, port: 4789 }, { proto: esp }] }") + "swarm: { managers: [a], workers: [b] }\nnetworks: [{ name: o, driver: overlay, attachable: true, encrypted: true, subnet: 10.20.0.0/16 }]",
  },
  {
    code: "vxlan_port_conflict",
    bad: two("underlay: { vxlan_ports: [4789] }") + "swarm: { managers: [a], workers: [b] }",
    good: two("underlay: { vxlan_ports: [4789] }") + "swarm: { managers: [a], workers: [b], data_path_port: 7789 }",
  },
  {
    code: "mtu_exceeds_path",
    why: "default overlay on a 1450 underlay (moby/libnetwork#1021)",
    bad: `${mtu1450}${swarm3}\nnetworks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]`,
    good: `${mtu1450}${swarm3.replace("swarm:\n", "swarm:\n  ingress: { mtu: 1450 }\n")}\nnetworks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16, mtu: 1450 }]`,
  },
  {
    code: "mtu_exceeds_path",
    why: "docker_gwbridge above the egress NIC",
    bad: `${mtu1450.replaceAll(", gwbridge: { mtu: 1450 }", "")}${swarm3Ingress1450}`,
    good: `${mtu1450}${swarm3Ingress1450}`,
  },
  {
    code: "mtu_exceeds_path",
    why: "docker0 above the egress NIC (moby/moby#49398)",
    bad: mtu1450.replaceAll(", bridge: { mtu: 1450 }", "").replace("bridge: { mtu: 1450 }, ", ""),
    good: mtu1450,
  },
  {
    code: "mtu_exceeds_path",
    why: "jumbo and standard NICs on one switch: the 1500-byte NIC drops the jumbo frames (lab: 100% loss at 5000 bytes)",
    bad: two().replace("address: 192.168.1.11/24, gateway: 192.168.1.1 }]", "address: 192.168.1.11/24, gateway: 192.168.1.1, mtu: 9000 }]"),
    good: two().replace("address: 192.168.1.11/24, gateway: 192.168.1.1 }]", "address: 192.168.1.11/24, gateway: 192.168.1.1, mtu: 9000 }]").replace("address: 192.168.1.12/24, gateway: 192.168.1.1 }]", "address: 192.168.1.12/24, gateway: 192.168.1.1, mtu: 9000 }]"),
  },
  { code: "consul_no_bootstrap", bad: three + consul3("ui: true", "ui: true", "ui: true"), good: three + consul3() },
  { code: "consul_expect_conflict", bad: three + consul3("bootstrap_expect: 3", "bootstrap_expect: 5"), good: three + consul3() },
  {
    code: "consul_expect_on_client",
    bad: three + consul3() + "    - { name: c1, host: a, server: false, bootstrap_expect: 3, bind_addr: 192.168.1.11, ports: { serf_lan: 9301, http: 9500, dns: 9600 }, retry_join: [192.168.1.12] }\n",
    good: three + consul3() + "    - { name: c1, host: a, server: false, bind_addr: 192.168.1.11, ports: { serf_lan: 9301, http: 9500, dns: 9600 }, retry_join: [192.168.1.12] }\n",
  },
  { code: "consul_expect_unreached", bad: three + consul3("bootstrap_expect: 5", "bootstrap_expect: 5", "bootstrap_expect: 5"), good: three + consul3() },
  { code: "consul_multiple_bootstrap", bad: three + consul3("bootstrap: true", "bootstrap: true", "ui: true"), good: three + consul3() },
  {
    code: "consul_quorum_fault_tolerance",
    bad: two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 2, bind_addr: 192.168.1.11 }\n    - { name: s2, host: b, server: true, bootstrap_expect: 2, bind_addr: 192.168.1.12, retry_join: [192.168.1.11] }\n",
    good: three + consul3(),
  },
  {
    code: "consul_advertise_ambiguous",
    bad: two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1 }\n",
    good: two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11 }\n",
  },
  {
    code: "consul_bind_not_local",
    why: "an agent on a Docker network binding its host's LAN address",
    bad: two() + "networks: [{ name: cn, driver: bridge, subnet: 172.30.0.0/24, hosts: [a] }]\nconsul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, network: { network: cn, ip: 172.30.0.10 } }\n",
    good: two() + "networks: [{ name: cn, driver: bridge, subnet: 172.30.0.0/24, hosts: [a] }]\nconsul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 172.30.0.10, network: { network: cn, ip: 172.30.0.10 } }\n",
  },
  {
    code: "consul_advertise_unreachable",
    bad: two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, advertise_addr: 192.168.1.111 }\n",
    good: two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, advertise_addr: 192.168.1.11 }\n",
  },
  {
    code: "consul_bind_not_local",
    why: "a client_addr the host does not have (HTTP and DNS cannot bind)",
    bad: two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, client_addr: 10.1.1.1 }\n",
    good: two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, client_addr: 127.0.0.1 192.168.1.11 }\n",
  },
  { code: "consul_retry_join_unknown", bad: three + consul3("bootstrap_expect: 3", "bootstrap_expect: 3", "bootstrap_expect: 3", ", start_join: [192.168.1.99]"), good: three + consul3() },
  { code: "consul_leave_on_terminate", bad: three + consul3("bootstrap_expect: 3", "bootstrap_expect: 3", "bootstrap_expect: 3", ", leave_on_terminate: true"), good: three + consul3() },
  {
    code: "service_check_unreachable",
    bad: `${three}${swarm3}${consul3()}networks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]\ncontainers: [{ name: web, host: a, image: nginx, networks: [o] }]\nservices: [{ id: web, agent: s1, address: { container: web, network: o }, port: 80, check: { type: http } }]`,
    good: `${three}${swarm3}${consul3()}networks: [{ name: o, driver: overlay, attachable: true, subnet: 10.20.0.0/16 }]\ncontainers: [{ name: web, host: a, image: nginx, networks: [o], publish: ["8080:80"] }]\nservices: [{ id: web, agent: s1, address: 192.168.1.11, port: 8080, check: { type: http } }]`,
  },
  {
    code: "service_check_path_not_found",
    bad: `${three}${consul3()}containers: [{ name: web, host: a, image: nginx:alpine, publish: ["8080:80"] }]\nservices: [{ id: web, agent: s1, address: 192.168.1.11, port: 8080, check: { type: http, path: /health } }]`,
    good: `${three}${consul3()}containers: [{ name: web, host: a, image: nginx:alpine, publish: ["8080:80"] }]\nservices: [{ id: web, agent: s1, address: 192.168.1.11, port: 8080, check: { type: http, path: /index.html } }]`,
  },
  {
    code: "service_address_unreachable",
    bad: `${three}${consul3()}containers: [{ name: web, host: a, image: nginx }, { name: cli, host: b }]\nservices: [{ id: web, agent: s1, address: { container: web }, port: 80, consumers: [cli] }]`,
    good: `${three}${consul3()}containers: [{ name: web, host: a, image: nginx, publish: ["8080:80"] }, { name: cli, host: b }]\nservices: [{ id: web, agent: s1, address: 192.168.1.11, port: 8080, consumers: [cli] }]`,
  },
];

describe.each(ROWS.map((r, i) => ({ ...r, n: i })))("rule $code $why", (row) => {
  it("reports it on the failing plan", () => {
    const res = validateText(row.bad, `${row.code}.yaml`);
    const found = res.diagnostics.filter((d) => d.code === row.code);
    expect(found.length, JSON.stringify(res.diagnostics.map((d) => `${d.code}: ${d.message}`), null, 1)).toBeGreaterThan(0);
    for (const d of found) {
      expect(d.message.length).toBeGreaterThan(10);
      expect(d.hint.length).toBeGreaterThan(5);
      if (res.parsed) expect(d.path).toBeDefined();
      expect(d.location?.line, "every finding on a file carries a position").toBeGreaterThan(0);
    }
  });
  it("does not report it on the nearest sound plan", () => {
    const res = validateText(row.good, `${row.code}-ok.yaml`);
    expect(res.parsed).toBe(true);
    expect(res.diagnostics.filter((d) => d.code === row.code).map((d) => d.message)).toEqual([]);
  });
});

describe("diagnostic form", () => {
  it("a bad value gets its own finding, without follow-ons from a guessed default", () => {
    const codes = (text: string) => validateText(text, "p.yaml").diagnostics.map((d) => `${d.code}: ${d.message}`);
    // an unknown proto is not read as "any": no "a port makes no sense with proto any"
    const proto = codes(two("firewall: { allow: [{ proto: tcpp, port: 80 }] }"));
    expect(proto.filter((m) => m.startsWith("invalid_value"))).toEqual(['invalid_value: proto "tcpp" is not one of tcp, udp, esp, any; did you mean "tcp"?']);
    // an address-shaped from entry is a bad address, not an unknown host
    const from = codes(two("firewall: { allow: [{ proto: tcp, port: 80, from: [300.1.1.1/8] }] }"));
    expect(from).toContain('invalid_value: from entry "300.1.1.1/8" is not a valid IPv4 address or subnet');
    // server: "yes" is reported; the agent is not then counted as a client (no consul_no_bootstrap)
    const server = codes(`${two()}consul:\n  agents:\n    - { name: s1, host: a, server: "yes", bootstrap_expect: 1, bind_addr: 192.168.1.11 }\n`);
    expect(server).toEqual(['invalid_value: server must be true or false, not text "yes"']);
    // a swarm section that could not be read does not make every overlay say "the plan has none"
    const swarm = codes(`${two()}swarm:\n  managers: [ghost]\nnetworks: [{ name: ov, driver: overlay }]\n`);
    expect(swarm.some((m) => m.includes("the plan has none"))).toBe(false);
    expect(swarm.some((m) => m.startsWith("unknown_reference"))).toBe(true);
    // an agent that cannot bind is not also said to advertise an unreachable address
    const bind = codes(`${three}consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, network: { network: bridge } }\n    - { name: s2, host: b, server: false, bind_addr: 192.168.1.12, retry_join: [192.168.1.11] }\n`);
    expect(bind.filter((m) => m.startsWith("consul_bind_not_local"))).toHaveLength(1);
    expect(bind.filter((m) => m.startsWith("consul_advertise_unreachable"))).toEqual([]);
  });
  it("checks Consul refuses and NIC addresses other hosts cannot use are reported", () => {
    const interval = validateText(`${three}${consul3()}containers: [{ name: web, host: a, image: nginx, publish: ["8080:80"] }]\nservices: [{ id: web, agent: s1, address: 192.168.1.11, port: 8080, check: { type: tcp, interval: 0s } }]`, "p.yaml");
    expect(interval.diagnostics.map((d) => [d.code, d.path?.join(".")])).toContainEqual(["invalid_value", "services.0.check.interval"]);
    // Go durations, as Consul parses them (time.ParseDuration)
    const go = validateText(`${three}${consul3()}containers: [{ name: web, host: a, image: nginx, publish: ["8080:80"] }]\nservices: [{ id: web, agent: s1, address: 192.168.1.11, port: 8080, check: { type: tcp, interval: 1h30m, timeout: 1.5s } }]`, "p.yaml");
    expect(go.diagnostics.filter((d) => d.code === "invalid_value")).toEqual([]);
    expect(durationMs("1h30m")).toBe(5_400_000);
    expect(durationMs("1.5s")).toBe(1500);
    expect(durationMs("250us")).toBe(0.25);
    expect(durationMs("10")).toBeUndefined();
    const bcast = validateText(two().replace("192.168.1.12/24", "192.168.1.255/24"), "p.yaml");
    expect(bcast.diagnostics.map((d) => [d.code, d.severity, d.message])).toContainEqual(["reserved_address", "warning", "eth0's address 192.168.1.255 is the broadcast address of 192.168.1.0/24: other hosts on the segment send to every host at it, not to this NIC"]);
  });
  it("address ranges Docker would hand out must hold ordinary unicast addresses", () => {
    const found = (text: string) => validateText(text, "p.yaml").diagnostics.filter((d) => d.code === "invalid_value").map((d) => [d.path?.join("."), d.message]);
    expect(found(`${two()}swarm: { managers: [a], default_addr_pool: [0.0.0.0/0] }\n`)).toEqual([["swarm.default_addr_pool.0", 'default_addr_pool 0.0.0.0/0 overlaps "this network" (0.0.0.0/8): no container or host can use addresses from there']]);
    expect(found(`${two()}networks: [{ name: m, driver: bridge, subnet: 224.1.0.0/16, hosts: [a] }]\n`)).toEqual([["networks.0.subnet", "subnet 224.1.0.0/16 overlaps multicast (224.0.0.0/4): no container or host can use addresses from there"]]);
    expect(found(`${two()}networks: [{ name: m, driver: bridge, subnet: 10.1.0.0/16, hosts: [a] }]\n`)).toEqual([]);
  });
  it("a NIC listed twice in one segment is found at the second entry; NIC names are unique per host", () => {
    const res = validateText(`${two()}segments:\n  - { name: lan, members: [a/eth0, b/eth0, a/eth0] }\n`, "p.yaml");
    expect(res.diagnostics.map((d) => [d.code, d.path?.join("."), d.message])).toEqual([["invalid_value", "segments.0.members.2", "a/eth0 is listed twice in this segment"]]);
    const dup = validateText(two().replace("gateway: 192.168.1.1 }]", "gateway: 192.168.1.1 }, { name: eth0, address: 10.0.0.1/24 }]"), "p.yaml");
    expect(dup.diagnostics.find((d) => d.code === "duplicate_name")?.hint).toBe("Rename one of them; names of NICs must be unique on a host.");
  });
  it("a name that is only too long says how long it is, and the hint gives the limit", () => {
    const res = validateText(two().replace("name: a,", `name: ${"a".repeat(64)},`), "p.yaml");
    const d = res.diagnostics.find((x) => x.code === "invalid_value")!;
    expect(d.message).toMatch(/is not valid \(64 characters\)$/);
    expect(d.hint).toContain("at most 63 characters");
  });
  it("a dead retry_join entry beside one that lands is a warning; a bind from flags is placed at flags.bind", () => {
    const j = (joins: string) => three + consul3("bootstrap_expect: 3", "bootstrap_expect: 3", "bootstrap_expect: 3").replace(/retry_join: \[[^\]]*\]/, `retry_join: ${joins}`);
    const one = validateText(j("[192.168.1.12, 192.168.1.99]"), "p.yaml").diagnostics.filter((d) => d.code === "consul_retry_join_unknown");
    expect(one.map((d) => d.severity)).toEqual(["warning"]);
    const flags = validateText(two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, flags: { bind: 192.168.1.99 } }\n", "p.yaml");
    const d = flags.diagnostics.find((x) => x.code === "consul_bind_not_local")!;
    expect(d.path).toEqual(["consul", "agents", 0, "flags", "bind"]);
    expect(d.message).toContain("flags.bind, which overrides bind_addr");
  });
  it("a shim that does not route its own host's containers is a warning", () => {
    const text = macvlan("[{ host: a, ip_range: 192.168.1.128/27 }]", "  - { name: cx, host: a, networks: [mv] }").replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1 }], shims: [{ parent: eth0, address: 192.168.1.250/32, routes: [192.168.1.160/27] }] }\n  - { name: b");
    const d = validateText(text, "p.yaml").diagnostics.find((x) => x.code === "macvlan_host_isolation")!;
    expect(d.severity).toBe("warning");
    expect(d.hint).toContain("192.168.1.128/27");
  });

  it("agents alone in their own datacenter are not 'isolated' (each datacenter is its own LAN cluster)", () => {
    const text = two() + "consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, datacenter: dc1 }\n    - { name: s2, host: b, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.12, datacenter: dc2 }\n";
    expect(validateText(text, "p.yaml").diagnostics.filter((d) => d.code === "consul_agent_isolated")).toEqual([]);
    expect(validateText(text.replace("datacenter: dc2", "datacenter: dc1"), "p.yaml").diagnostics.filter((d) => d.code === "consul_agent_isolated")).toHaveLength(1);
  });

  it("Consul ports: https and grpc are known, -1 turns a client listener off, 0 is no port", () => {
    const agent = (ports: string) => two() + `consul:\n  agents:\n    - { name: s1, host: a, server: true, bootstrap_expect: 1, bind_addr: 192.168.1.11, ports: ${ports} }\n`;
    const ok = validateText(agent("{ http: -1, https: 8501, grpc: 8502, dns: -1 }"), "p.yaml");
    expect(ok.diagnostics.filter((d) => d.severity !== "info").map((d) => d.message)).toEqual([]);
    expect(ok.plan!.consul!.agents[0]!.ports).toMatchObject({ http: -1, https: 8501, grpc: 8502, dns: -1 });
    const zero = validateText(agent("{ grpc: 0 }"), "p.yaml").diagnostics.find((d) => d.code === "invalid_value")!;
    expect(zero.message).toBe("0 is not a port");
    expect(zero.path).toEqual(["consul", "agents", 0, "ports", "grpc"]);
    const reg = validateText(agent("{ http: -1 }") + "services: [{ id: w, agent: s1, address: 192.168.1.11, port: 80 }]\n", "p.yaml");
    expect(reg.diagnostics.find((d) => d.code === "invalid_value")?.message).toMatch(/ports\.http: -1 turns off/);
  });

  it("a finding on the second shim points at the second shim even when the first could not be read", () => {
    const res = validateText(two("shims: [{ name: s1, parent: eth0, address: 999.1.1.1/32 }, { name: s2, parent: eth9, address: 10.0.0.1/32 }]"), "p.yaml");
    const d = res.diagnostics.find((x) => x.code === "macvlan_parent_missing")!;
    expect(d.path).toEqual(["hosts", 0, "shims", 1, "parent"]);
  });

  it("unknown_key suggests the nearest key", () => {
    const res = validateText(two().replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gatway: 192.168.1.1 }] }\n  - { name: b"), "p.yaml");
    const d = res.diagnostics.find((x) => x.code === "unknown_key")!;
    expect(d.message).toContain('did you mean "gateway"');
    expect(d.location).toEqual({ file: "p.yaml", line: 3, column: 63 });
  });
  it("collects every finding instead of stopping at the first", () => {
    const res = validateText("hosts:\n  - { name: a, nics: [{ name: eth0, address: nope }] }\n  - { name: -bad, nics: [] , color: red }\n", "p.yaml");
    expect(res.diagnostics.map((d) => d.code).sort()).toEqual(["invalid_value", "invalid_value", "invalid_value", "unknown_key"]);
  });
  it("an unquoted engine version is a warning that says what YAML made of it", () => {
    const res = validateText(two("docker: { version: 20.10 }"), "p.yaml");
    const d = res.diagnostics.find((x) => x.code === "invalid_value")!;
    expect(d.severity).toBe("warning");
    expect(d.message).toContain("20.10 is read as 20.1");
    expect(d.hint).toBe('Quote it: version: "20.10".');
    expect(res.plan!.hosts[0]!.docker.version).toBe("20.1");
    expect(validateText(two("docker: { version: 24 }"), "p.yaml").diagnostics.filter((x) => x.code === "invalid_value")).toEqual([]);
  });
  it("a missing NIC list names the host", () => {
    const res = validateText("hosts:\n  - { name: a }\n", "p.yaml");
    expect(res.diagnostics.find((x) => x.code === "missing_field")!.message).toBe('host "a" has no "nics"');
  });
  it("suggests docker_gwbridge and ingress only in a plan with a swarm", () => {
    const hint = (plan: string) => validateText(plan, "p.yaml").diagnostics.find((x) => x.code === "unknown_reference")!.hint;
    expect(hint(`${two()}\ncontainers: [{ name: cx, host: a, networks: [zzzz] }]`)).toBe("Known networks: bridge.");
    expect(hint(`${two()}\nswarm: { managers: [a], workers: [b] }\ncontainers: [{ name: cx, host: a, networks: [zzzz] }]`)).toBe("Known networks: bridge, docker_gwbridge, ingress.");
    // why: without a swarm Docker has no docker_gwbridge: attaching to it fails ("network docker_gwbridge not found")
    expect(validateText(`${two()}\ncontainers: [{ name: cx, host: a, networks: [docker_gwbridge] }]`, "p.yaml").diagnostics.map((x) => x.code)).toContain("unknown_reference");
  });
  it("bridge MTU hints name the plan key", () => {
    const hints = (plan: string) => validateText(plan, "p.yaml").diagnostics.filter((x) => x.code === "mtu_exceeds_path" && /docker0|docker_gwbridge/.test(x.message)).map((x) => x.hint);
    expect(hints(two().replace("gateway: 192.168.1.1 }]", "gateway: 192.168.1.1, mtu: 1450 }]"))).toEqual(['Set hosts[].docker.bridge.mtu to 1450 on a (Docker: daemon.json "mtu").']);
    expect(hints(`${mtu1450.replaceAll(", gwbridge: { mtu: 1450 }", "")}${swarm3Ingress1450}`)).toEqual(["a", "b", "c"].map((h) => `Set hosts[].docker.gwbridge.mtu to 1450 on ${h} (Docker: docker_gwbridge's com.docker.network.driver.mtu).`));
  });
  it("macvlan_gateway_absent: the hint fits whether the network is on the LAN's subnet or not", () => {
    const hint = (subnet: string, gateway: string) => validateText(`${two()}\nnetworks: [{ name: mv, driver: macvlan, subnet: ${subnet}, gateway: ${gateway}, parent: eth0, hosts: [a] }]`, "p.yaml").diagnostics.find((x) => x.code === "macvlan_gateway_absent")!.hint;
    expect(hint("172.29.0.0/16", "172.29.0.254")).toContain("Use the LAN's subnet and router (subnet: 192.168.1.0/24");
    const onLan = hint("192.168.1.0/24", "192.168.1.254");
    expect(onLan).not.toContain("Use the LAN's subnet");
    expect(onLan).toContain("set gateway: 192.168.1.1");
  });
  it("drops a host without NICs and a route through a missing NIC, with a finding at the place", () => {
    const res = validateText("hosts:\n  - { name: a, nics: [{ name: eth0, address: 10.1.0.1/24 }], routes: [{ to: 10.8.0.0/16, dev: nope }] }\n  - { name: b, nics: [] }\n", "p.yaml");
    const byCode = res.diagnostics.filter((d) => d.severity === "error").map((d) => [d.code, d.location?.line]);
    expect(byCode).toEqual([["unknown_reference", 2], ["invalid_value", 3]]);
    expect(res.plan?.hosts.map((h) => [h.name, h.routes.length])).toEqual([["a", 0]]);
  });
  it("control and invisible characters from the plan are escaped: a message stays one inert line", () => {
    const unsafe = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;
    const res = validateValue({
      hosts: [
        { name: "a\u001b[31mRED\u001b]0;pwned\u0007", nics: [{ name: "eth0", address: "10.0.0.1/24" }] },
        { name: "b", nics: [{ name: "eth0", address: "10.0.0.2/24" }], ["col\u202eor"]: 1 },
      ],
      containers: [
        { name: "c\u200b1", host: "b" },
        { name: "c2", host: "b", command: ["sh", "-c", "echo\nline2\u0085"] },
        { name: "c3", host: "b\u009b2J" },
      ],
    });
    const text = res.diagnostics.flatMap((d) => [d.message, d.hint, ...(d.related ?? []).map((r) => r.message)]);
    expect(text.filter((t) => unsafe.test(t))).toEqual([]);
    const messages = res.diagnostics.map((d) => d.message).join("\n");
    expect(messages).toContain('name "a\\u001b[31mRED\\u001b]0;pwned\\u0007" is not valid');
    expect(messages).toContain('unknown key "col\\u202eor"');
    expect(messages).toContain('name "c\\u200b1" is not valid');
    expect(messages).toContain('"echo\\nline2\\u0085" is not valid in command');
    expect(messages).toContain("b\\u009b2J");
    // why: the path keeps the raw key (it is data, and --json escapes it anyway)
    expect(res.diagnostics.find((d) => d.code === "unknown_key")!.path).toEqual(["hosts", 1, "col\u202eor"]);
  });
  it("a long value or key is cut at 40 characters in a message", () => {
    const res = validateValue({ hosts: [{ name: "a", nics: [{ name: "eth0", address: "10.0.0.1/24" }], ["k".repeat(100_000)]: 1 }] });
    expect(res.diagnostics.find((d) => d.code === "unknown_key")!.message).toBe(`unknown key "${"k".repeat(40)}…" in a host`);
    const ref = validateValue({ hosts: [{ name: "a", nics: [{ name: "eth0", address: "10.0.0.1/24" }] }], containers: [{ name: "cc", host: "\u001b".repeat(100_000) }] });
    expect(ref.diagnostics.find((d) => d.code === "unknown_reference")!.message).toBe(`no host named "${"\\u001b".repeat(40)}…"`);
  });
  it("names odd values plainly: no [object Object], NaN or 'number Infinity'", () => {
    const messages = (text: string) => validateText(text, "p.yaml").diagnostics.filter((d) => d.code === "invalid_value").map((d) => d.message);
    expect(messages(`crosshost: {}\n${two()}`)).toEqual(["plan format version must be 1, not a mapping"]);
    expect(messages(`crosshost: 2\n${two()}`)).toEqual(["plan format version 2 is not supported"]);
    expect(messages(`crosshost: .inf\n${two()}`)).toEqual(["plan format version must be 1, not infinity (.inf, or a number too large to hold)"]);
    expect(messages(two().replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1, mtu: .nan }] }\n  - { name: b"))).toEqual(["mtu must be a finite number, not not-a-number (.nan)"]);
    expect(messages(two().replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1, mtu: 1e400 }] }\n  - { name: b"))).toEqual(["mtu must be a finite number, not infinity (.inf, or a number too large to hold)"]);
    expect(messages(two().replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1, mtu: -.inf }] }\n  - { name: b"))).toEqual(["mtu must be a finite number, not minus infinity (-.inf, or a number too large to hold)"]);
    expect(messages(two().replace("gateway: 192.168.1.1 }] }\n  - { name: b", "gateway: 192.168.1.1, mtu: !!timestamp 2001-12-14 }] }\n  - { name: b"))).toEqual(["mtu must be a number, not a timestamp"]);
  });
  it("did-you-mean: a swapped pair of letters is one edit", () => {
    expect(editDistance("imgae", "image")).toBe(1);
    expect(editDistance("form", "from")).toBe(1);
    expect(editDistance("adress", "address")).toBe(1);
    expect(editDistance("abc", "xyz")).toBe(3);
  });
  it.each([
    ["imgae", ["name", "host", "image", "networks", "network_mode", "publish", "listen", "command", "labels"], "image"],
    ["nmae", ["name", "nics", "routes", "kernel", "docker", "firewall"], "name"],
    ["tpye", ["type", "address", "port", "path", "interval", "timeout"], "type"],
    ["form", ["from", "to", "size", "proto", "port"], "from"],
    ["hots", ["crosshost", "name", "hosts", "networks", "containers"], "hosts"],
    ["bind", ["name", "host", "server", "bootstrap_expect", "bind_addr", "advertise_addr"], "bind_addr"],
    ["consul", ["consul-server-1", "worker-1"], "consul-server-1"],
    // why: guesses that would mislead: nothing near, or a prefix shared by several keys, or too short a prefix
    ["color", ["name", "nics", "routes", "kernel", "docker", "firewall", "platform", "ssh"], undefined],
    ["net", ["name", "host", "image", "networks", "network_mode"], undefined],
    ["data", ["data_dir", "datacenter", "log_level"], undefined],
    ["ne", ["networks"], undefined],
    ["consul", ["consul-server-1", "consul-server-2"], undefined],
    ["madeup", ["name", "address", "mtu", "gateway"], undefined],
  ] as [string, string[], string | undefined][])("did-you-mean %s → %s", (word, candidates, expected) => {
    expect(didYouMean(word, candidates)).toBe(expected);
  });
  it("did-you-mean reaches unknown_key findings", () => {
    const res = validateText(`${two()}\ncontainers: [{ name: cc, host: a, imgae: nginx }]\nconsul: { agents: [{ name: cs, host: b, server: true, bootstrap_expect: 1, bind: 192.168.1.12 }] }\n`, "p.yaml");
    expect(res.diagnostics.filter((d) => d.code === "unknown_key").map((d) => d.hint)).toEqual(['Rename it to "image".', 'Rename it to "bind_addr".']);
  });
  it("parse errors in plan words, at the right place", () => {
    const parse = (text: string) => validateText(text, "p.yaml").diagnostics.map((d) => [d.location?.line, d.location?.column, d.message, d.hint]);
    expect(parse(`${two()}---\n${two()}`)).toEqual([[5, 1, 'the file holds more than one YAML document: a "---" line starts a second one here', "A plan is one document: remove the --- line (merging the parts), or put each plan in its own file."]]);
    const deep = parse(`hosts: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`);
    expect(deep, JSON.stringify(deep)).toHaveLength(1);
    expect(deep[0]![2]).toBe("the nesting is too deep to read: lists or mappings inside each other far deeper than a plan needs");
    expect(parse('hosts:\n  - name: "a\n')).toEqual([[2, 11, 'a quoted value is never closed: its " opens here and nothing closes it (it runs to the end of the file)', "Add the closing quote at the end of the value."]]);
    // why: in a flow mapping the runaway quote also swallows the closing } and ]; those follow-ons are dropped
    expect(parse("hosts: [{ name: 'a }]\nx: 1\n").map((d) => d.slice(0, 3))).toEqual([[1, 17, "a quoted value is never closed: its ' opens here and nothing closes it (it runs to the end of the file)"]]);
    // why: the parser notices an unclosed [ where the next block line starts; the finding is at the bracket, alone
    expect(parse("hosts:\n  - name: a\n    nics: [{ name: eth0, address: 10.0.0.1/24 }\n  - name: b\n    nics: []\n")).toEqual([[3, 11, "a flow list is never closed: its [ opens here and no ] closes it", "Add the closing ] at the end of the list (on its own line it must be indented more than the key)."]]);
    expect(parse("hosts:\n  - nics: [{ name: eth0 }, { a: '[' }\n").map((d) => d.slice(0, 2))).toEqual([[2, 11]]);
    // a line indented one space too far joins the value above it: the finding is on that line
    expect(parse("hosts:\n  - name: a\n    nics:\n      - name: eth0\n        address: 10.0.0.1/24\n         mtu: 1500\n").map((d) => d.slice(0, 3))).toEqual([[6, 10, "this line is indented deeper than the key on line 5: YAML reads it as part of that value"]]);
  });
  it("YAML merge keys (<<: *anchor) fill in a mapping; findings inside point at the merged value or its mapping", () => {
    const res = validateText(
      "hosts:\n  - { name: a, nics: [&nic { name: eth0, address: 10.0.0.1/24, mtu: 1500 }] }\n  - { name: b, nics: [{ <<: *nic, address: 10.0.0.2/24, mtu: 99999 }] }\n  - { name: c, nics: [{ <<: [*nic] }] }\n",
      "p.yaml",
    );
    expect(res.diagnostics.map((d) => [d.code, d.location?.line, d.location?.column])).toEqual([
      ["invalid_value", 3, 57],
      // why: c's address comes from the anchor: the finding is placed at c's NIC mapping (the nearest node in c)
      ["duplicate_address", 4, 23],
    ]);
  });
  it("unknown_reference hint pluralises a compound kind: Known NICs of b", () => {
    const res = validateText(`${two()}\nsegments: [{ name: lan, members: [a/eth0, b/wlan] }]\n`, "p.yaml");
    expect(res.diagnostics.find((d) => d.code === "unknown_reference")!.hint).toBe("Known NICs of b: eth0.");
  });
  it("swarm quorum hint: one more manager up to 7, never more than Docker's recommended 7", () => {
    const hosts = (n: number) => `hosts:\n${Array.from({ length: n }, (_, i) => `  - { name: h${i}, nics: [{ name: eth0, address: 10.0.${i >> 8}.${(i & 255) + 1}/16 }] }`).join("\n")}\n`;
    const hint = (n: number) => validateText(`${hosts(n)}swarm: { managers: [${Array.from({ length: n }, (_, i) => `h${i}`).join(", ")}], default_addr_pool: [10.200.0.0/16], ingress: { subnet: 10.201.0.0/24 } }\n`, "p.yaml").diagnostics.find((d) => d.code === "swarm_quorum_fault_tolerance")!.hint;
    expect(hint(4)).toBe("Use an odd number of managers: 5 tolerates 2.");
    expect(hint(6)).toBe("Use an odd number of managers: 7 tolerates 3.");
    for (const n of [8, 100]) expect(hint(n)).toBe("Use 7 managers, Docker's recommended maximum (more managers slow every Raft write): they tolerate 3 failures; make the other hosts workers.");
  });
  it("a fixed ip or aliases on the default bridge are reported at the attachment's ip and aliases", () => {
    const res = validateText(`${two()}\ncontainers: [{ name: cx, host: a, networks: [{ network: bridge, ip: 172.17.0.9, aliases: [web] }] }]\nconsul: { agents: [{ name: cs, host: b, server: true, bootstrap_expect: 1, network: { network: bridge, ip: 172.17.0.10 } }] }\n`, "p.yaml");
    const found = res.diagnostics.filter((d) => d.code === "invalid_value");
    expect(found.map((d) => d.path)).toEqual([["containers", 0, "networks", 0, "ip"], ["containers", 0, "networks", 0, "aliases"], ["consul", "agents", 0, "network", "ip"]]);
    expect(found[0]!.message).toBe('a fixed ip on the default bridge network: docker run --ip refuses it ("user specified IP address is supported on user defined networks only")');
    expect(found[1]!.message).toBe('aliases on the default bridge network: docker run --network-alias refuses it ("network-scoped alias is supported only for containers in user defined networks")');
    expect(found[0]!.hint).toContain("user-defined bridge network");
  });
  it("reports 200k findings as findings (no argument-spread RangeError turning them into internal_error)", () => {
    const containers = Array.from({ length: 200_000 }, (_, i) => ({ name: `c${i}`, host: "nope" }));
    const res = validateValue({ hosts: [{ name: "a", nics: [{ name: "eth0", address: "10.0.0.1/24" }] }], containers });
    expect(res.diagnostics.filter((d) => d.code === "internal_error")).toEqual([]);
    expect(res.diagnostics.filter((d) => d.code === "unknown_reference")).toHaveLength(200_000);
  });
});

describe("findings that follow from another are left out", () => {
  it("a typo in a container's network: one unknown_reference, no name-resolution errors about the default bridge", () => {
    const text = `${two()}networks: [{ name: apps, driver: bridge, subnet: 10.30.0.0/24, hosts: [a] }]
containers:
  - { name: cx, host: a, image: busybox, networks: [apps] }
  - { name: cy, host: a, image: busybox, networks: [app] }
expect:
  - reach: { from: cx, to: cy, by: name }
`;
    expect(validateText(text, "p.yaml").diagnostics.filter((d) => d.severity === "error").map((d) => d.code)).toEqual(["unknown_reference"]);
  });
  it("an ip_range outside its subnet: one error, no pool findings for a network Docker will not create", () => {
    const text = macvlan("[{ host: a, ip_range: 192.168.1.128/27 }, { host: b, ip_range: 192.169.1.160/27 }]", "  - { name: cx, host: a, networks: [mv] }");
    const v = validateText(text, "p.yaml");
    const shown = v.diagnostics.filter((d) => d.severity !== "info");
    expect(shown.map((d) => d.code)).toEqual(["ip_range_outside_subnet"]);
    expect(shown[0]!.path).toEqual(["networks", 0, "hosts", 1, "ip_range"]);
  });
});

describe("container names follow Docker's rule", () => {
  it("a one-character container name is refused, as Docker does (measured in the lab)", () => {
    const v = validateText(`${two()}containers:\n  - { name: a, host: a, image: busybox }\n`, "p.yaml");
    const d = v.diagnostics.find((x) => x.code === "invalid_value")!;
    expect(d.hint).toMatch(/2 to 128 characters/);
    expect(validateText(`${two()}containers:\n  - { name: ab, host: a, image: busybox }\n`, "p.yaml").diagnostics.filter((x) => x.code === "invalid_value")).toEqual([]);
  });
});
