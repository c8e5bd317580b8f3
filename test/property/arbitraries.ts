// Generators of plans for property tests. `soundPlan` builds plans that must validate without errors
// or warnings: disjoint subnets, unique addresses, odd quorums, every required flow allowed.
import fc from "fast-check";

export const SEED = Number(process.env.FC_SEED ?? 20261203);
export const RUNS = Number(process.env.FC_RUNS ?? 60);
fc.configureGlobal({ seed: SEED, numRuns: RUNS });

export interface SoundShape {
  hosts: number;
  managers: number;
  servers: number;
  firewall: boolean;
  macvlan: boolean;
  perHost: number[];
}

export const soundShape: fc.Arbitrary<SoundShape> = fc
  .integer({ min: 1, max: 7 })
  .chain((hosts) =>
    fc.record({
      hosts: fc.constant(hosts),
      managers: fc.integer({ min: 0, max: Math.floor((hosts - 1) / 2) }).map((k) => 2 * k + 1),
      servers: fc.integer({ min: 0, max: Math.floor((hosts - 1) / 2) }).map((k) => 2 * k + 1),
      firewall: fc.boolean(),
      macvlan: fc.boolean(),
      perHost: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: hosts, maxLength: hosts }),
    }),
  );

const hostIp = (i: number) => `192.168.10.${11 + i}`;

/** A plan as plain data (what a YAML file parses to). */
export function buildSoundPlan(s: SoundShape): Record<string, any> {
  const names = Array.from({ length: s.hosts }, (_, i) => `h${i + 1}`);
  const required = [
    { proto: "tcp", port: 2377 }, { proto: "tcp", port: 7946 }, { proto: "udp", port: 7946 }, { proto: "udp", port: 4789 },
    { proto: "tcp", port: 8300 }, { proto: "tcp", port: 8301 }, { proto: "udp", port: 8301 }, { proto: "tcp", port: 8302 }, { proto: "udp", port: 8302 },
  ];
  const hosts = names.map((name, i) => ({
    name,
    nics: [{ name: "ens3", address: `${hostIp(i)}/24`, gateway: "192.168.10.1" }],
    ...(s.firewall ? { firewall: { inbound: "deny", allow: required.map((r) => ({ ...r, from: [...names] })) } } : {}),
  }));
  const containers: Record<string, any>[] = [];
  names.forEach((host, i) => {
    for (let k = 0; k < s.perHost[i]!; k++) {
      const networks: any[] = ["app"];
      if (s.macvlan && s.hosts >= 2) networks.push({ network: "lan", ip: `192.168.10.${64 + 8 * i + 1 + k}` });
      containers.push({ name: `c${i + 1}-${k + 1}`, host, image: "busybox", networks });
    }
  });
  const plan: Record<string, any> = {
    crosshost: 1,
    name: "generated",
    hosts,
    swarm: {
      nodes: names.map((host, i) => ({ host, role: i < s.managers ? "manager" : "worker", advertise_addr: hostIp(i) })),
    },
    networks: [
      { name: "app", driver: "overlay", attachable: true, subnet: "10.50.0.0/16" },
      ...(s.macvlan && s.hosts >= 2
        ? [{ name: "lan", driver: "macvlan", subnet: "192.168.10.0/24", gateway: "192.168.10.1", parent: "ens3", hosts: names.map((host, i) => ({ host, ip_range: `192.168.10.${64 + 8 * i}/29` })) }]
        : []),
    ],
    containers,
    consul: {
      datacenter: "dc1",
      agents: names.map((host, i) => ({
        name: `agent-${host}`, host, server: i < s.servers,
        ...(i < s.servers ? { bootstrap_expect: s.servers } : {}),
        bind_addr: hostIp(i), advertise_addr: hostIp(i), client_addr: "0.0.0.0",
        retry_join: Array.from({ length: s.servers }, (_, j) => j).filter((j) => j !== i).map(hostIp),
      })),
    },
  };
  return plan;
}

export const soundPlan = soundShape.map((s) => ({ shape: s, plan: buildSoundPlan(s) }));

/** A JSON-ish value that looks like a plan: plan keys with arbitrary contents, for "never throws". */
export const planLike: fc.Arbitrary<unknown> = fc.record(
  {
    crosshost: fc.anything(),
    name: fc.oneof(fc.string(), fc.anything()),
    hosts: fc.oneof(
      fc.array(fc.record({ name: fc.oneof(fc.string(), fc.anything()), nics: fc.oneof(fc.array(fc.record({ name: fc.string(), address: fc.oneof(fc.ipV4().map((ip) => `${ip}/24`), fc.string()), mtu: fc.anything() }, { requiredKeys: [] })), fc.anything()) }, { requiredKeys: [] }), { maxLength: 4 }),
      fc.anything(),
    ),
    networks: fc.oneof(fc.array(fc.dictionary(fc.constantFrom("name", "driver", "subnet", "gateway", "parent", "hosts", "ip_range", "mtu", "bogus"), fc.oneof(fc.string(), fc.ipV4(), fc.anything())), { maxLength: 4 }), fc.anything()),
    swarm: fc.anything(),
    consul: fc.oneof(fc.record({ agents: fc.array(fc.dictionary(fc.constantFrom("name", "host", "server", "bootstrap_expect", "retry_join", "flags"), fc.anything()), { maxLength: 4 }) }, { requiredKeys: [] }), fc.anything()),
    containers: fc.anything(),
    services: fc.anything(),
    expect: fc.anything(),
    faults: fc.oneof(fc.array(fc.string()), fc.anything()),
  },
  { requiredKeys: [] },
);
