// Plan generators for benchmarks: N hosts on one LAN, 3 swarm managers and 3 Consul servers, the rest
// workers and clients, and `per` containers per host on one attachable overlay.
// The result goes through JSON so that its strings are flat, as they are when a plan file is parsed.
export function generatePlan(hosts: number, per = 10, opts: { consul?: boolean } = {}): Record<string, unknown> {
  return JSON.parse(JSON.stringify(buildPlan(hosts, per, opts.consul ?? true))) as Record<string, unknown>;
}

function buildPlan(hosts: number, per: number, withConsul: boolean): Record<string, unknown> {
  const ip = (i: number) => `172.16.${Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`;
  const names = Array.from({ length: hosts }, (_, i) => `node-${i + 1}`);
  const servers = names.slice(0, Math.min(3, hosts)).map((_, i) => ip(i));
  return {
    crosshost: 1,
    name: `generated-${hosts}`,
    hosts: names.map((name, i) => ({ name, nics: [{ name: "eth0", address: `${ip(i)}/16`, gateway: "172.16.0.1" }] })),
    swarm: { nodes: names.map((host, i) => ({ host, role: i < 3 ? "manager" : "worker", advertise_addr: ip(i) })) },
    networks: [{ name: "app", driver: "overlay", attachable: true, subnet: "10.128.0.0/14" }],
    ...(withConsul ? { consul: {
      agents: names.map((host, i) => ({
        name: `agent-${i + 1}`, host, server: i < 3, ...(i < 3 ? { bootstrap_expect: Math.min(3, hosts) } : {}),
        bind_addr: ip(i), advertise_addr: ip(i), retry_join: servers.filter((s) => s !== ip(i)),
      })),
    } } : {}),
    containers: names.flatMap((host, i) => Array.from({ length: per }, (_, k) => ({ name: `c-${i + 1}-${k + 1}`, host, networks: ["app"] }))),
  };
}
