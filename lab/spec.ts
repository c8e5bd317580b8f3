/**
 * The plain data a lab is built from. The plan model maps a plan's hosts, NICs and L2 segments onto it;
 * a lab backend (lab/netns) turns it into namespaces, links and engines.
 */
export interface LabNicSpec {
  /** Interface name inside the host, exactly as the plan names it ("ens34"); at most 15 characters. */
  name: string;
  /** IPv4 address, "192.168.1.71". */
  address: string;
  prefix: number;
  mtu: number;
}

export interface LabRouteSpec {
  /** Destination CIDR; a default route ("default", "0.0.0.0/0") is refused: nothing routes out of a lab. */
  to: string;
  via?: string;
  dev?: string;
}

export interface LabHostSpec {
  /** Host name; also the hostname inside the host. */
  name: string;
  nics: LabNicSpec[];
  routes?: LabRouteSpec[];
}

export interface LabSegmentSpec {
  name: string;
  /** MTU of the switch (the bridge and its ports). */
  mtu: number;
  members: { host: string; nic: string }[];
}

export interface LabSpec {
  /** Lab id, [a-z0-9-]{1,20}. */
  name: string;
  hosts: LabHostSpec[];
  segments: LabSegmentSpec[];
}

const LAB_ID = /^[a-z0-9-]{1,20}$/;
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Every problem in the spec, as "path: message" lines; empty when the spec is usable. Pure. */
export function validateLabSpec(spec: LabSpec): string[] {
  const problems: string[] = [];
  const bad = (path: string, message: string): void => {
    problems.push(`${path}: ${message}`);
  };
  if (!LAB_ID.test(spec.name)) bad("name", `lab id ${JSON.stringify(spec.name)} must match [a-z0-9-]{1,20}`);
  if (spec.hosts.length === 0) bad("hosts", "a lab needs at least one host");

  const hostNics = new Map<string, Set<string>>();
  spec.hosts.forEach((host, hi) => {
    const hp = `hosts[${hi}]`;
    if (!HOST_NAME.test(host.name)) bad(`${hp}.name`, `${JSON.stringify(host.name)} is not a valid host name`);
    if (hostNics.has(host.name)) bad(`${hp}.name`, `duplicate host ${JSON.stringify(host.name)}`);
    const nics = new Set<string>();
    hostNics.set(host.name, nics);
    if (host.nics.length === 0) bad(`${hp}.nics`, "a host needs at least one NIC");
    host.nics.forEach((nic, ni) => {
      const np = `${hp}.nics[${ni}]`;
      if (!IFNAME.test(nic.name) || nic.name === "lo" || nic.name === "." || nic.name === "..") {
        bad(`${np}.name`, `${JSON.stringify(nic.name)} is not a usable interface name (1-15 of [A-Za-z0-9_.-], not "lo")`);
      }
      if (nics.has(nic.name)) bad(`${np}.name`, `duplicate NIC ${JSON.stringify(nic.name)} on host ${host.name}`);
      nics.add(nic.name);
      if (!IPV4.test(nic.address)) bad(`${np}.address`, `${JSON.stringify(nic.address)} is not an IPv4 address`);
      if (!Number.isInteger(nic.prefix) || nic.prefix < 1 || nic.prefix > 32) bad(`${np}.prefix`, `prefix ${nic.prefix} is not in 1..32`);
      if (!validMtu(nic.mtu)) bad(`${np}.mtu`, `MTU ${nic.mtu} is not in 576..65535`);
    });
    (host.routes ?? []).forEach((route, ri) => {
      const rp = `${hp}.routes[${ri}]`;
      if (route.to === "default" || /^0\.0\.0\.0\/0$/.test(route.to)) {
        bad(`${rp}.to`, "a default route is refused: nothing may route out of the lab");
      } else if (!/^[\d.]+\/\d{1,2}$/.test(route.to) && !IPV4.test(route.to)) {
        bad(`${rp}.to`, `${JSON.stringify(route.to)} is not an IPv4 CIDR`);
      }
      if (route.via !== undefined && !IPV4.test(route.via)) bad(`${rp}.via`, `${JSON.stringify(route.via)} is not an IPv4 address`);
      if (route.dev !== undefined && !host.nics.some((n) => n.name === route.dev)) {
        bad(`${rp}.dev`, `host ${host.name} has no NIC ${JSON.stringify(route.dev)}`);
      }
      if (route.via === undefined && route.dev === undefined) bad(rp, "a route needs via or dev");
    });
  });

  const segNames = new Set<string>();
  const attached = new Map<string, string>();
  spec.segments.forEach((seg, si) => {
    const sp = `segments[${si}]`;
    if (seg.name === "" || segNames.has(seg.name)) bad(`${sp}.name`, `segment name ${JSON.stringify(seg.name)} is empty or duplicate`);
    segNames.add(seg.name);
    if (!validMtu(seg.mtu)) bad(`${sp}.mtu`, `MTU ${seg.mtu} is not in 576..65535`);
    seg.members.forEach((m, mi) => {
      const mp = `${sp}.members[${mi}]`;
      const nics = hostNics.get(m.host);
      if (!nics) return bad(mp, `no host ${JSON.stringify(m.host)}`);
      if (!nics.has(m.nic)) return bad(mp, `host ${m.host} has no NIC ${JSON.stringify(m.nic)}`);
      const key = `${m.host}/${m.nic}`;
      const other = attached.get(key);
      if (other !== undefined) bad(mp, `${key} is already on segment ${other}`);
      attached.set(key, seg.name);
    });
  });
  return problems;
}

function validMtu(mtu: number): boolean {
  return Number.isInteger(mtu) && mtu >= 576 && mtu <= 65535;
}
