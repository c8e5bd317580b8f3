// Shell scripts that run inside a node (always as `sh -c SCRIPT NAME ARGS…`: the arguments are positional
// parameters, never spliced into the script text). They use only POSIX sh, awk and iproute2/busybox `ip`,
// so they work in the Debian node and in docker:dind (Alpine) alike.

/** Printed by a node's PID 1 once the node is ready for wiring (testcontainers waits for it). */
export const NODE_READY = "crosshost-node-ready";
/** Where files crosshost writes for a host live, inside the node. */
export const NODE_HOST_DIR = "/etc/crosshost";
export const INNER_DOCKERD_LOG = "/var/log/crosshost-dockerd.log";
export const INNER_PIDFILE = "/var/run/docker.pid";

/**
 * PID 1 of a node. $1 = 1: the pseudo-privileged recipe (lab-notes 4c): remount /sys and every cgroup
 * hierarchy read-write (`remount,bind` because a plain remount of a cgroup mount says "busy"). Then it only
 * waits, reaping orphans, so the inner dockerd can be stopped and started without ending the node.
 */
export const SUPERVISOR_SCRIPT = `
if [ "$1" = 1 ]; then
  mount -o remount,rw /sys || echo "crosshost: remount /sys rw failed" >&2
  for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$d" ] && mountpoint -q "$d" && { mount -o remount,bind,rw "$d" || echo "crosshost: remount $d rw failed" >&2; }
  done
fi
mkdir -p ${NODE_HOST_DIR}
echo ${NODE_READY}
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`;

/**
 * Wires the node's NICs. Arguments, repeated:
 *   nic ADDRESS NAME MTU           the interface holding ADDRESS is renamed NAME (e.g. eth0 -> ens34), MTU set, up
 *   dummy ADDRESS PREFIX NAME MTU  a NIC on no segment: a dummy link with the address
 *   route TO VIA DEV               VIA or DEV may be "-"
 */
export const WIRE_SCRIPT = `
set -eu
while [ $# -gt 0 ]; do
  case "$1" in
  nic)
    addr=$2; name=$3; mtu=$4; shift 4
    dev=$(ip -o -4 addr show | awk -v a="$addr" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }')
    [ -n "$dev" ] || { echo "no interface holds $addr" >&2; ip -o -4 addr show >&2; exit 3; }
    if [ "$dev" != "$name" ]; then
      ip link set dev "$dev" down
      ip link set dev "$dev" name "$name"
    fi
    ip link set dev "$name" mtu "$mtu" up
    ;;
  dummy)
    addr=$2; prefix=$3; name=$4; mtu=$5; shift 5
    ip link add "$name" mtu "$mtu" type dummy
    ip addr add "$addr/$prefix" dev "$name"
    ip link set dev "$name" up
    ;;
  route)
    to=$2; via=$3; dev=$4; shift 4
    if [ "$via" != - ] && [ "$dev" != - ]; then ip route replace "$to" via "$via" dev "$dev"
    elif [ "$via" != - ]; then ip route replace "$to" via "$via"
    else ip route replace "$to" dev "$dev"; fi
    ;;
  *) echo "wire: unknown word $1" >&2; exit 2 ;;
  esac
done
`;

/** True-ish helper shared by the engine scripts: is pid $1 a live (non-zombie) process? */
const ALIVE = `alive() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }`;

/**
 * Starts the inner dockerd (through docker:dind's `dind` wrapper when the image has it) in the background
 * and waits until `docker version` answers. $1 = seconds to wait. Exit 2: it already runs. On failure the
 * end of its log is on stderr.
 */
export const START_ENGINE_SCRIPT = `
${ALIVE}
pid=$(cat ${INNER_PIDFILE} 2>/dev/null || true)
if alive "$pid"; then echo "dockerd already runs (pid $pid)" >&2; exit 2; fi
# a killed engine leaves pidfiles naming dead processes; dockerd then waits for a containerd that never answers
rm -f ${INNER_PIDFILE} /var/run/docker/containerd/containerd.pid
if command -v dind >/dev/null 2>&1; then set -- "$1" dind dockerd; else set -- "$1" dockerd; fi
wait_s=$1; shift
echo "--- crosshost: starting dockerd $(date)" >> ${INNER_DOCKERD_LOG}
"$@" --host=unix:///var/run/docker.sock --pidfile=${INNER_PIDFILE} >> ${INNER_DOCKERD_LOG} 2>&1 < /dev/null &
n=0
until docker version > /dev/null 2>&1; do
  n=$((n + 1))
  if [ "$n" -gt $((wait_s * 10)) ]; then echo "dockerd did not answer within $wait_s s" >&2; tail -n 20 ${INNER_DOCKERD_LOG} >&2; exit 1; fi
  sleep 0.1
done
`;

/**
 * Stops the inner engine: signal $1 (TERM: a service stop, KILL: a crash) to dockerd, $2 seconds of grace,
 * then SIGKILL to what is left of the engine's process tree (containerd, shims and every container
 * process under them), so that its containers are gone as on a host whose engine died.
 */
export const STOP_ENGINE_SCRIPT = `
${ALIVE}
pid=$(cat ${INNER_PIDFILE} 2>/dev/null || true)
if alive "$pid"; then
  kill -s "$1" "$pid"
  n=0
  while alive "$pid" && [ "$n" -lt $(($2 * 10)) ]; do sleep 0.1; n=$((n + 1)); done
fi
tree() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk '
    { o = index($0, "("); c = 0
      for (i = length($0); i > o; i--) if (substr($0, i, 1) == ")") { c = i; break }
      pid = substr($0, 1, o - 2); comm = substr($0, o + 1, c - o - 1)
      split(substr($0, c + 2), f, " "); parent[pid] = f[2]
      if (comm ~ /^(dockerd|containerd|containerd-shim.*|docker-proxy|runc)$/) mark[pid] = 1 }
    END { do { changed = 0; for (p in parent) if (!(p in mark) && (parent[p] in mark)) { mark[p] = 1; changed = 1 } } while (changed)
          for (p in mark) print p }'
}
for round in 1 2 3 4 5 6 7 8 9 10; do
  victims=$(tree)
  [ -z "$victims" ] && exit 0
  kill -9 $victims 2>/dev/null
  sleep 0.2
done
echo "engine processes still alive: $(tree)" >&2
exit 1
`;

/**
 * Imports a workload image inside the node: $1 tag, $2 content hash, $3 baked tar path, then --change args.
 * Exit 3: the engine has it already (same hash); exit 4: not baked here, the caller streams it instead.
 */
export const LOAD_IMAGE_SCRIPT = `
tag=$1; hash=$2; baked=$3; label=$4; shift 4
have=$(docker image inspect "$tag" --format "{{index .Config.Labels \\"$label\\"}}" 2>/dev/null || true)
[ "$have" = "$hash" ] && exit 3
[ -f "$baked" ] || exit 4
exec docker import "$@" "$baked" "$tag"
`;
