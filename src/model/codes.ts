// The catalogue of diagnostic codes: one entry a code, the single source for `crosshost explain CODE`
// and docs/diagnostics.md. A code, once published, never changes meaning.

export type Severity = "error" | "warning" | "info";

export interface CodeInfo {
  /** Severity the rule uses unless it says otherwise for a specific finding. */
  readonly severity: Severity;
  readonly family: "input" | "addressing" | "macvlan" | "swarm" | "network" | "consul" | "services" | "lab" | "remote" | "internal";
  /** One line: what the finding means. */
  readonly title: string;
  /** Why it matters, in a few sentences. */
  readonly why: string;
  /** How to fix it. */
  readonly fix: string;
  /** The public report or documentation the rule comes from. */
  readonly source: string;
}

const c = (info: CodeInfo): CodeInfo => info;

export const CODES = {
  // ---- input -------------------------------------------------------------------------------
  parse_error: c({
    severity: "error", family: "input",
    title: "The plan file is not valid YAML or JSON.",
    why: "Nothing can be checked until the file parses.",
    fix: "Fix the syntax at the position shown; YAML indentation and unquoted colons are the usual causes.",
    source: "YAML 1.2 spec; JSON is accepted as YAML.",
  }),
  unknown_key: c({
    severity: "error", family: "input",
    title: "A key the plan format does not know.",
    why: "A misspelt key is silently ignored by most tools, so a setting you believe is applied is not.",
    fix: "Use the suggested key, or remove it. The keys of each section are listed in docs/plan-format.md.",
    source: "crosshost plan format (docs/plan-format.md).",
  }),
  missing_field: c({
    severity: "error", family: "input",
    title: "A required field is missing.",
    why: "Without it the element cannot be built or checked.",
    fix: "Add the field named in the message.",
    source: "crosshost plan format (docs/plan-format.md).",
  }),
  invalid_value: c({
    severity: "error", family: "input",
    title: "A value has the wrong type or form.",
    why: "Docker, Swarm and Consul reject such values, or worse, read them differently than you meant.",
    fix: "Write the value in the form the hint gives (e.g. an IPv4 address 192.168.1.71, a subnet 10.20.0.0/16).",
    source: "docker network create / consul agent configuration reference.",
  }),
  unknown_reference: c({
    severity: "error", family: "input",
    title: "A name refers to a host, network, container, agent or service the plan does not define.",
    why: "The step that uses it cannot run.",
    fix: "Define the element, or correct the name (a close match is suggested when there is one).",
    source: "crosshost plan format.",
  }),
  duplicate_name: c({
    severity: "error", family: "input",
    title: "Two elements of the same kind share a name.",
    why: "Docker refuses a second container or network of the same name on one engine; for hosts and agents the plan would be ambiguous.",
    fix: "Rename one of them.",
    source: "docker run --name / docker network create: 'already exists' errors.",
  }),

  // ---- addressing --------------------------------------------------------------------------
  address_outside_subnet: c({
    severity: "error", family: "addressing",
    title: "An address lies outside the subnet it is meant to be in.",
    why: "Docker rejects a --ip, --gateway or --aux-address outside --subnet; a route via a gateway outside every NIC subnet cannot be installed.",
    fix: "Choose an address inside the subnet, or widen the subnet.",
    source: "docker network create reference (--gateway, --aux-address, --ip-range must be inside --subnet).",
  }),
  duplicate_address: c({
    severity: "error", family: "addressing",
    title: "The same IP address is used twice on one L2 segment or Docker network.",
    why: "On one engine Docker refuses it ('Address already in use'); across hosts on a macvlan segment nothing refuses it and Docker even derives the same MAC from the same IP, so traffic flips between the two holders.",
    fix: "Give each container, gateway, aux address and host NIC on a segment its own address.",
    source: "moby/moby#49921 (macvlan IPAM is per host: each hands out the same first addresses); moby/moby#47146 (the generated MAC is 02:42 followed by the IPv4 address).",
  }),
  reserved_address: c({
    severity: "error", family: "addressing",
    title: "A container is given the network address, the broadcast address or the gateway of its subnet.",
    why: "Docker reserves these; the container fails to start or breaks the gateway.",
    fix: "Pick an address that is neither the first (network), the last (broadcast) nor the gateway.",
    source: "libnetwork IPAM: network and broadcast addresses are never handed out; the gateway is allocated first.",
  }),
  subnet_overlap: c({
    severity: "error", family: "addressing",
    title: "Two subnets overlap on one host: Docker networks, implicit networks, NIC subnets or routes.",
    why: "Docker refuses overlapping pools on one engine ('Pool overlaps with other one on this address space'); where it accepts them (swarm networks, docker_gwbridge against a route), the overlapping range becomes unreachable from the host or the containers.",
    fix: "Give every Docker network on a host its own range, disjoint from the LAN, routes and external networks; pin docker_gwbridge and ingress subnets before swarm init.",
    source: "moby/moby#46438 (pool overlap), #24220 (ingress vs corporate LAN), #27890 and docker/for-linux#1422 (docker_gwbridge vs routes), #21357 (overlay = LAN subnet).",
  }),
  ip_range_outside_subnet: c({
    severity: "error", family: "addressing",
    title: "An --ip-range is not inside the network's --subnet.",
    why: "Docker refuses the network.",
    fix: "Choose an ip-range that is a sub-block of the subnet.",
    source: "docker network create reference (--ip-range).",
  }),
  pool_exhausted: c({
    severity: "error", family: "addressing",
    title: "A subnet, ip-range or address pool has fewer free addresses than the plan needs.",
    why: "The container that comes after the last free address fails with 'no available IPv4 addresses'.",
    fix: "Widen the subnet or ip-range, or move containers to another network.",
    source: "libnetwork IPAM 'no available addresses on this pool'; swarm default-addr-pool docs.",
  }),

  // ---- macvlan / ipvlan --------------------------------------------------------------------
  macvlan_parent_missing: c({
    severity: "error", family: "macvlan",
    title: "The macvlan/ipvlan parent interface does not exist on the host.",
    why: "docker network create fails: the parent must be a NIC of that host (or a VLAN sub-interface of one).",
    fix: "Use the host's real NIC name (the seed uses ens34; many hosts say eth0), or add the NIC to the plan.",
    source: "docker docs, macvlan driver (-o parent).",
  }),
  macvlan_parent_shared: c({
    severity: "error", family: "macvlan",
    title: "Two macvlan/ipvlan networks (or a network and a shim) on one host use the same parent interface in a way it cannot carry.",
    why: "Docker before 26.0 allows one macvlan network per parent ('network … is already using parent interface'); and the kernel lets one NIC carry macvlan or ipvlan children, never both ('Device or resource busy').",
    fix: "Use 802.1q sub-interfaces (parent=eth0.10, eth0.20) for additional networks; give a shim the driver of the networks on its parent.",
    source: "moby/libnetwork#2384; moby/moby#46438; containernetworking/cni#7; moby/libnetwork#964.",
  }),
  macvlan_ip_range_overlap: c({
    severity: "error", family: "macvlan",
    title: "Hosts on one L2 segment allocate macvlan addresses from overlapping ranges.",
    why: "macvlan IPAM is per host: each engine starts at the first address of its range, so two hosts hand out the same IP (and, since the MAC derives from the IP, the same MAC).",
    fix: "Give each host a disjoint --ip-range (e.g. .128/27, .160/27, .192/27), or give every container a unique fixed --ip.",
    source: "moby/moby#49921, moby/moby#33793 (macvlan IPAM is per host, not coordinated across the swarm).",
  }),
  macvlan_gateway_absent: c({
    severity: "warning", family: "macvlan",
    title: "The macvlan gateway does not exist on the segment.",
    why: "Containers reach each other on L2, but nothing beyond the segment: their default route points to an address nobody answers.",
    fix: "Use the LAN's subnet and its real router as --subnet/--gateway (reserving host addresses with --aux-address), or declare the router on the segment.",
    source: "built-in scenario seed-macvlan (172.29.0.0/16 with gateway .254 on a 192.168.1.0/24 LAN); measured in crosshost's lab (test/lab/compare.test.ts, seed-macvlan: nothing beyond the segment answers).",
  }),
  macvlan_promiscuous_required: c({
    severity: "error", family: "macvlan",
    title: "The hypervisor port group drops frames from macvlan MAC addresses.",
    why: "A vSwitch only forwards frames for MACs it assigned unless promiscuous mode and forged transmits are accepted (Hyper-V: MAC address spoofing).",
    fix: "Set the port group's security policy: promiscuous mode Accept and forged transmits Accept.",
    source: "docker/docs#15855; moby/moby#21735 (comment 2017-01-26).",
  }),
  macvlan_cloud_mac_filter: c({
    severity: "error", family: "macvlan",
    title: "macvlan on a public-cloud NIC: the provider drops frames from unknown MAC addresses.",
    why: "AWS, GCP and Azure accept only the MAC they assigned to the instance; containers reach nothing beyond their host.",
    fix: "Use an overlay, or ipvlan L3 with the container subnet routed to the VM in the cloud's route table and the provider's source/destination check off (platform source_check: false).",
    source: "moby/moby#30772; jpetazzo/pipework#169; k8snetworkplumbingwg/multus-cni#599.",
  }),
  macvlan_host_isolation: c({
    severity: "info", family: "macvlan",
    title: "A host cannot reach its own macvlan containers (and they cannot reach it).",
    why: "The kernel does not pass traffic between a macvlan parent and its children. It is an error when an expectation needs it and the host has no macvlan shim.",
    fix: "Add a host-side macvlan shim interface with its own address and a route to the containers (hosts[].shims).",
    source: "moby/libnetwork#1915; measured in crosshost's lab (test/lab/compare.test.ts: without a shim a host cannot reach its own macvlan container, with one it can).",
  }),
  kernel_feature_missing: c({
    severity: "error", family: "macvlan",
    title: "The host kernel lacks a feature the plan needs (macvlan, ipvlan, vxlan, 8021q, esp).",
    why: "Docker cannot create the network: the driver needs the kernel module.",
    fix: "Load the module (modprobe macvlan; add it to /etc/modules), or choose another driver.",
    source: "Joshua-Riek/ubuntu-rockchip#297 ('failed to create the macvlan port: operation not supported', fixed by modprobe macvlan); moby/moby#21122 (kernel versions macvlan and ipvlan need).",
  }),

  // ---- swarm -------------------------------------------------------------------------------
  swarm_quorum_fault_tolerance: c({
    severity: "warning", family: "swarm",
    title: "The number of Swarm managers gives no (or no extra) fault tolerance.",
    why: "Raft needs floor(N/2)+1 managers; 2 managers tolerate no failure and double the chance of losing control.",
    fix: "Use an odd number of managers: 3 tolerates 1 failure, 5 tolerates 2.",
    source: "moby/moby#24407, #33251; Docker docs 'Administer and maintain a swarm'.",
  }),
  swarm_not_manager: c({
    severity: "error", family: "swarm",
    title: "A cluster operation targets a host that is not a Swarm manager (or not in a swarm).",
    why: "Only managers hold the Raft store: 'This node is not a swarm manager'.",
    fix: "Run it on a manager, or make the host a manager (swarm.nodes[].role: manager); overlays need a swarm first.",
    source: "moby/moby#23845; shazChaudhry/docker-elastic#27.",
  }),
  swarm_advertise_ambiguous: c({
    severity: "error", family: "swarm",
    title: "Swarm cannot choose an advertise address by itself on this host.",
    why: "With several addresses on different interfaces Docker refuses: 'could not choose an IP address to advertise'.",
    fix: "Set swarm.nodes[].advertise_addr to the host's address on the LAN the other nodes use.",
    source: "moby daemon/cluster/listen_addr.go (resolveAdvertiseAddr).",
  }),
  swarm_advertise_not_local: c({
    severity: "error", family: "swarm",
    title: "The Swarm advertise address is not an address of the host: no listen address is given, or nothing on the host's LAN holds it.",
    why: "Docker cannot infer which interface to listen on: 'must specify a listening address because the address to advertise is not recognized as a system address'. A joining manager whose advertised address the leader cannot reach is refused: 'could not connect to prospective new cluster member using its advertised address'.",
    fix: "Add listen_addr (a local address), and make sure peers can route to the advertised address; on the host's own LAN advertise its own address.",
    source: "moby/moby#27647; moby/swarmkit manager/state/raft (checkHealth before adding a member).",
  }),
  swarm_no_manager_reachable: c({
    severity: "error", family: "swarm",
    title: "A node joins a swarm through an address where no manager listens.",
    why: "docker swarm join only works against a manager's advertise address on port 2377.",
    fix: "Point join at the advertise address of an existing manager.",
    source: "docker swarm join reference.",
  }),
  overlay_not_attachable: c({
    severity: "error", family: "swarm",
    title: "A standalone container attaches to an overlay that is not --attachable.",
    why: "Non-attachable overlays accept only swarm service tasks: 'network … not manually attachable'.",
    fix: "Create the overlay with attachable: true, or run the workload as a service.",
    source: "moby/moby#28446.",
  }),
  overlay_lazy_on_worker: c({
    severity: "info", family: "swarm",
    title: "A worker lists an overlay only while something attached to it runs there.",
    why: "Swarm creates overlays on workers lazily, when a task or container lands; managers list every network. A check for the network on a worker before any attachment fails.",
    fix: "Check the network on a worker only after a container there has attached, or check it on a manager.",
    source: "moby/moby#25004, #36197; docker/compose#11894; measured in crosshost's lab (test/lab/compare.test.ts: the worker lists the overlay while a container there is attached, and no longer once it stops).",
  }),
  port_blocked: c({
    severity: "error", family: "network",
    title: "A flow the cluster needs is blocked between two hosts.",
    why: "Swarm needs 2377/tcp to managers, 7946/tcp+udp and the data-path UDP port between all nodes, and IP protocol 50 (ESP) for encrypted overlays; Consul needs 8301 tcp+udp between all agents, 8300/tcp to servers and 8302 tcp+udp between servers.",
    fix: "Allow the flow in the destination host's firewall (or publish the port with both protocols).",
    source: "caprover/caprover#2017, docker/machine#3578 (2377); moby/moby#26523, docker/for-linux#91 (ESP); hashicorp/consul#953 (8301 udp).",
  }),
  host_unreachable: c({
    severity: "error", family: "network",
    title: "Two hosts that must talk have no network path between them.",
    why: "They share no L2 segment and no route joins their subnets.",
    fix: "Put them on a common segment or add routes via a router both can reach.",
    source: "crosshost topology model.",
  }),
  vxlan_port_conflict: c({
    severity: "error", family: "swarm",
    title: "The Swarm data-path port is already used for VXLAN by the underlay.",
    why: "An SDN such as NSX claims or drops udp/4789; overlay traffic then vanishes while the control plane looks healthy. The port is fixed for the life of the swarm.",
    fix: "Choose another swarm.data_path_port (e.g. 7789) at swarm init.",
    source: "moby/moby#33416; docker-archive/classicswarm#2687; moby/libnetwork#2282 (--data-path-port).",
  }),
  mtu_exceeds_path: c({
    severity: "error", family: "network",
    title: "A packet size the network allows does not fit the path it takes.",
    why: "VXLAN adds 50 bytes (ESP more); an overlay MTU + overhead above the smallest underlay MTU black-holes full-size packets: small pings pass, real transfers hang. A NIC MTU above its link's MTU drops large frames; a bridge MTU above the egress NIC MTU breaks TCP to the outside.",
    fix: "Set the overlay's mtu (com.docker.network.driver.mtu) to the smallest underlay MTU: Docker itself takes off the 50-byte VXLAN header (and ESP when encrypted); match NIC MTUs to the link; set bridge MTUs to the egress NIC MTU.",
    source: "moby/libnetwork#1021 (OpenStack 1450); moby/moby#49398; serverascode.com Neutron MTU post.",
  }),

  // ---- consul ------------------------------------------------------------------------------
  consul_no_bootstrap: c({
    severity: "error", family: "consul",
    title: "No Consul server will ever bootstrap: no leader can be elected.",
    why: "Only servers with bootstrap_expect (or bootstrap mode) start a Raft cluster; without one, the servers wait forever ('No cluster leader').",
    fix: "Set bootstrap_expect to the number of servers on every server.",
    source: "Consul agent configuration docs (bootstrap_expect); agent/consul maybeBootstrap.",
  }),
  consul_expect_conflict: c({
    severity: "error", family: "consul",
    title: "Consul servers in one datacenter disagree on bootstrap_expect.",
    why: "A server that sees a member with a different non-zero expect value aborts bootstrapping; servers without the value depend on the others to bootstrap.",
    fix: "Set the same bootstrap_expect, equal to the number of servers, on every server.",
    source: "hashicorp/consul#1509 (maintainer: same value on all servers); agent/consul maybeBootstrap.",
  }),
  consul_expect_on_client: c({
    severity: "error", family: "consul",
    title: "bootstrap_expect is set on a client agent.",
    why: "Consul refuses to start: \"'bootstrap_expect > 0' requires 'server = true'\" (before 1.0: 'Expect mode cannot be enabled when server mode is not enabled').",
    fix: "Remove bootstrap_expect from client agents, or make the agent a server.",
    source: "hashicorp/consul#3510.",
  }),
  consul_expect_unreached: c({
    severity: "error", family: "consul",
    title: "bootstrap_expect is larger than the number of servers the plan has.",
    why: "The bootstrapping server waits for more servers than will ever exist: no leader.",
    fix: "Set bootstrap_expect to the number of servers.",
    source: "Consul agent configuration, bootstrap_expect (https://developer.hashicorp.com/consul/docs/reference/agent/configuration-file/bootstrap); hashicorp/consul#2550 (servers wait for N to come online before bootstrapping).",
  }),
  consul_expect_below_servers: c({
    severity: "warning", family: "consul",
    title: "bootstrap_expect is smaller than the number of servers.",
    why: "The first servers bootstrap without the rest; with a partition at start two clusters can form.",
    fix: "Set bootstrap_expect to the number of servers.",
    source: "hashicorp/consul#1509 (WARN if bootstrap_expect differs from the server count).",
  }),
  consul_multiple_bootstrap: c({
    severity: "error", family: "consul",
    title: "More than one server is in bootstrap mode, or bootstrap is combined with bootstrap_expect.",
    why: "Each bootstrap-mode server elects itself: split brain. Consul refuses bootstrap together with bootstrap_expect.",
    fix: "Use bootstrap_expect on all servers instead of bootstrap: true.",
    source: "Consul agent configuration docs (bootstrap, bootstrap_expect are mutually exclusive).",
  }),
  consul_quorum_fault_tolerance: c({
    severity: "warning", family: "consul",
    title: "The number of Consul servers gives no (or no extra) fault tolerance.",
    why: "Quorum is floor(N/2)+1: 2 servers tolerate no failure ('A cluster with 2 servers will provide no failure tolerance').",
    fix: "Run 3 or 5 servers.",
    source: "hashicorp/consul#1282, PR #3158.",
  }),
  consul_advertise_ambiguous: c({
    severity: "error", family: "consul",
    title: "A Consul agent on a host with several private IPv4 addresses sets neither bind nor advertise.",
    why: "Consul refuses to start: 'Multiple private IPv4 addresses found. Please configure one with bind and/or advertise'. On a host-network agent every Docker bridge (docker0, docker_gwbridge) counts.",
    fix: "Set bind_addr and advertise_addr to the host's LAN address.",
    source: "hashicorp/consul#11453; gliderlabs/docker-consul#130.",
  }),
  consul_advertise_unreachable: c({
    severity: "error", family: "consul",
    title: "A Consul agent advertises an address on its own LAN that no host or router holds.",
    why: "Other agents send gossip and (to servers) Raft RPCs to the advertised address, not the bind address: aimed at nobody, the agent is marked failed and a server never counts towards quorum. On the host's own subnet this is a typo, not NAT.",
    fix: "Advertise the host's own LAN address; advertise may differ from bind only behind NAT.",
    source: "Consul agent configuration docs (advertise_addr); hashicorp/consul#2120.",
  }),
  consul_bind_not_local: c({
    severity: "error", family: "consul",
    title: "A Consul agent binds (bind_addr or client_addr) an address its own network namespace does not have.",
    why: "The agent cannot open its sockets ('bind: cannot assign requested address') and exits. On a Docker network its namespace holds only its container addresses, never the host's.",
    fix: "Bind one of the host's own addresses; advertise may differ (NAT), bind may not.",
    source: "Consul agent configuration docs (bind_addr).",
  }),
  consul_retry_join_unknown: c({
    severity: "error", family: "consul",
    title: "An agent joins an address where no Consul agent of the plan listens.",
    why: "The join never succeeds; the agent stays alone.",
    fix: "Join a server's advertise address.",
    source: "Consul docs (retry_join).",
  }),
  consul_agent_isolated: c({
    severity: "warning", family: "consul",
    title: "An agent is not connected to the others by any join.",
    why: "Neither it joins another agent, nor another agent joins it: it forms a cluster of its own.",
    fix: "Give it retry_join with the servers' addresses.",
    source: "Consul docs (retry_join).",
  }),
  consul_leave_on_terminate: c({
    severity: "warning", family: "consul",
    title: "A Consul server leaves the cluster gracefully when stopped (leave_on_terminate).",
    why: "A graceful leave removes the server from the Raft peers; stopping servers this way shrinks the quorum set, and when all leave the cluster forgets its state.",
    fix: "Leave leave_on_terminate at its server default (false).",
    source: "Consul agent configuration docs (leave_on_terminate).",
  }),
  consul_stale_raft_peer: c({
    severity: "warning", family: "consul",
    title: "A Consul server's address changes while it keeps its Raft data.",
    why: "The Raft configuration still holds the old address: old and new count as voters, quorum may be lost.",
    fix: "Have the server leave before re-addressing, or recover with peers.json.",
    source: "hashicorp/consul#613, #3418.",
  }),

  // ---- services ----------------------------------------------------------------------------
  service_check_unreachable: c({
    severity: "error", family: "services",
    title: "A health check targets an address and port its agent cannot reach: it can never pass.",
    why: "Consul runs the check from the agent's own network namespace. A host-network agent has no route into overlays; a host address answers only on published ports.",
    fix: "Register the host address with the published port, or run the agent where it can reach the target.",
    source: "hashicorp/docker-consul#42; measured in crosshost's lab (test/lab/compare.test.ts: the checks of built-in scenario seed-swarm-consul, as registered, are all critical).",
  }),
  service_check_path_not_found: c({
    severity: "error", family: "services",
    title: "An HTTP health check asks a stock web server image for a path it does not serve: it can never pass.",
    why: "Consul counts only 2xx (and 429) as passing. nginx, httpd and busybox httpd run as they come serve their default page (/ and /index.html) and answer 404 for anything else, such as /health.",
    fix: "Check / (or a tcp check on the port), or run an image or command that serves the path.",
    source: "Consul agent/checks/check.go (CheckHTTP: status from the response code); measured in crosshost's lab (test/lab/compare.test.ts: a check path other than the default page is critical).",
  }),
  service_address_unreachable: c({
    severity: "error", family: "services",
    title: "A registered service address is not reachable from a declared consumer.",
    why: "Discovery returns an address the consumer cannot use: a bridge IP for a remote host, a host IP without a published port, an overlay IP outside the overlay.",
    fix: "Register an address the consumers can reach.",
    source: "hashicorp/docker-consul#42; gliderlabs/registrator#291.",
  }),
  port_conflict: c({
    severity: "error", family: "network",
    title: "Two things bind the same port on one host.",
    why: "The second one fails to start ('address already in use', 'port is already allocated').",
    fix: "Move one of them to another port or host.",
    source: "docker run -p: 'Bind for 0.0.0.0:8080 failed: port is already allocated'.",
  }),
  name_resolution_unavailable: c({
    severity: "error", family: "network",
    title: "A name is used where Docker's embedded DNS cannot resolve it.",
    why: "Containers resolve each other by name only on user-defined networks they share, never on the default bridge.",
    fix: "Attach both containers to a user-defined network, or use the address.",
    source: "Docker docs, 'bridge network driver: differences between user-defined bridges and the default bridge'.",
  }),
  expectation_unsatisfiable: c({
    severity: "error", family: "network",
    title: "An expectation of the plan can never hold, whatever runs.",
    why: "It asks for something the topology rules out.",
    fix: "Change the plan or the expectation.",
    source: "crosshost topology model.",
  }),
  host_fact_mismatch: c({
    severity: "error", family: "remote",
    title: "A host is not what the plan says it is (a NIC, its address or MTU, Docker).",
    why: "Found by inspecting the host over SSH before changing anything: a plan that names ens34 where the host has eth0 would fail halfway through.",
    fix: "Correct the plan to match the host (the message says what was found), or fix the host.",
    source: "crosshost apply preflight.",
  }),
  ssh_unreachable: c({
    severity: "error", family: "remote",
    title: "crosshost cannot open an SSH connection to a host.",
    why: "Nothing can be checked or changed on it: the address is wrong, sshd is down, the key is refused, or its host key is unknown or changed.",
    fix: "Check the host's ssh settings in the plan (address, port, user, key_file); for a new host use --accept-new once; a changed key means: find out why before trusting it.",
    source: "crosshost SSH transport (OpenSSH known_hosts semantics).",
  }),
  lab_requirement_missing: c({
    severity: "error", family: "lab",
    title: "This machine cannot build the lab: something it needs is missing.",
    why: "The namespace lab needs root, network namespaces, dockerd and friends; the dind lab needs a Docker engine.",
    fix: "Install what the message names (Debian: apt-get install docker.io busybox-static iproute2 iptables), run as root, or choose the other backend.",
    source: "crosshost lab: what lab/detect.ts checks before building (REQUIRED_CAPS for the namespace lab; an engine for dind); test/lab/dind/detect.test.ts.",
  }),
  lab_subnet_collision: c({
    severity: "warning", family: "lab",
    title: "A subnet of the plan is one this machine already uses.",
    why: "The namespace lab keeps its hosts isolated, so it still works, but addresses you see in the lab also exist on the machine; a docker-in-docker lab's networks would collide outright.",
    fix: "Use other subnets in the plan, or run the lab on a machine that does not use them.",
    source: "crosshost lab preflight (lab/preflight.ts).",
  }),
  lab_failed: c({
    severity: "error", family: "lab",
    title: "Building or driving the lab failed.",
    why: "A command on a lab host failed; the message says which host, which command, and what it printed.",
    fix: "Read the message and the log it names; `crosshost lab down` removes what was built.",
    source: "crosshost lab.",
  }),
  internal_error: c({
    severity: "error", family: "internal",
    title: "crosshost failed while checking the plan (a bug).",
    why: "A rule threw an exception; the other rules still ran.",
    fix: "Please report it with the plan file.",
    source: "crosshost.",
  }),
} as const satisfies Record<string, CodeInfo>;

export type DiagnosticCode = keyof typeof CODES;

export const ALL_CODES = Object.keys(CODES) as DiagnosticCode[];

export function isDiagnosticCode(s: string): s is DiagnosticCode {
  return Object.prototype.hasOwnProperty.call(CODES, s);
}
