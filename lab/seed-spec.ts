import type { LabSpec } from "./spec.js";

/** The seed's three hosts (consul-server-1/2, consul-client-1) on 192.168.1.0/24 via ens34, one 1500-MTU switch. */
export function seedLabSpec(name = "seed"): LabSpec {
  const hosts = [
    ["consul-server-1", "192.168.1.71"],
    ["consul-server-2", "192.168.1.72"],
    ["consul-client-1", "192.168.1.73"],
  ] as const;
  return {
    name,
    hosts: hosts.map(([host, address]) => ({ name: host, nics: [{ name: "ens34", address, prefix: 24, mtu: 1500 }] })),
    segments: [{ name: "lan", mtu: 1500, members: hosts.map(([host]) => ({ host, nic: "ens34" })) }],
  };
}
