# multihost_lib.sh -- simulated hosts for multi-host integration tests.
# Source after lib.sh, then call mh_setup N.
#
# Host i (1..N) is a network namespace named "emh<pid>-h<i>" (unique to
# this run) with its own UTS namespace whose host name is the same string,
# and one interface, mh0, at 10.213.0.<10+i>/24.  Every mh0 is one end of
# a veth pair whose other end is a port of the bridge br0, which lives in a
# namespace of its own ("emh<pid>-net"): no address of the test appears in
# the root namespace, and no packet of it can reach a real host.  The
# mount namespace stays shared (the run directory is shared, as over NFS),
# except what multihost_agent.sh mounts per command: /etc/hosts naming the
# simulated hosts, and $MH_DIR/local, the host's private directory.
#
# mpirun runs on host 1 (the launch host) through multihost_agent.sh, with
# a hostfile and that same script as its rsh agent; Open MPI's TCP (btl
# and oob) is told to use mh0.  ember commands run on host 1 too
# (MH_CLIENT_HOST), or on any host through mh_run.
#
# Teardown, at exit and after lib.sh stopped mpirun and the ranks: every
# process an agent started and still alive (mh_owned) is killed by pid
# with its descendants, the UTS namespace files unmounted, the network
# namespaces deleted.
set -u
MH_PREFIX=emh$$
MH_DIR=$TEST_TMP/hosts
MH_AGENT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/multihost_agent.sh
MH_IF=mh0
MH_NET=10.213.0
MH_HOSTS=()
MH_CLIENT_HOST=
MH_MADE_NS=()
MH_MADE_UTS=()
export EMBER_MH_DIR=$MH_DIR
# No leak check in the ranks: at exit, LeakSanitizer walks every allocation
# Open MPI's TCP path made, and on a loaded 2-core machine that kept five
# ranks exiting for minutes (4 s without it).  The single-host suite checks
# for leaks; ASan and UBSan errors are still caught here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# A hang-up or a closed pipe ends the test through its EXIT trap too, so
# the namespaces go with it.
trap 'exit 1' HUP PIPE

mh_host() { echo "$MH_PREFIX-h$1"; }     # mh_host I: host I's name
mh_addr() { echo "$MH_NET.$((10 + $1))"; } # mh_addr I: host I's address

# mh_run HOST COMMAND...: runs COMMAND on HOST (words kept as they are).
mh_run() {
    local host=$1; shift
    "$MH_AGENT" "$host" "$(printf '%q ' "$@")"
}

# The CLI, on the client host.
ember() { mh_run "$MH_CLIENT_HOST" "$EMBER" --run-dir "$RUN_DIR" "$@"; }

# Kills PID and every process below it, children first, by pid.
mh_kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do mh_kill_tree "$child"; done
    kill -KILL "$1" 2>/dev/null
}

# mh_owned PID: PID is a process of this run (it inherited EMBER_MH_DIR
# from an agent), not a later process that got the pid of a finished one.
mh_owned() { tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "EMBER_MH_DIR=$MH_DIR"; }

mh_teardown() {
    local p n pid
    for p in "$MH_DIR"/pids/*; do
        pid=$(cat "$p" 2>/dev/null) || continue
        mh_owned "$pid" && mh_kill_tree "$pid"
    done
    for n in "${MH_MADE_UTS[@]}"; do umount "$n" 2>/dev/null; done
    for n in "${MH_MADE_NS[@]}"; do ip netns delete "$n" 2>/dev/null; done
}

# Fails, saying why, unless this is root with the tools the hosts need;
# mh_setup then fails with ip's own words if a namespace, bridge or veth
# pair cannot be made.
mh_check() {
    local t
    [ "$(id -u)" = 0 ] || fail "simulated hosts need root (network namespaces); running as uid $(id -u)"
    for t in ip nsenter unshare mount umount ps; do
        command -v "$t" >/dev/null || fail "simulated hosts need '$t', which is not installed"
    done
}

# mh_setup N: makes hosts 1..N and the bridge; writes the hostfile
# ($MH_DIR/hostfile, one slot per host until mh_slots says otherwise) and
# points lib.sh's cluster_start and the ember CLI at host 1.
mh_setup() {
    local n=$1 i host err
    mh_check
    mkdir -p "$MH_DIR/pids" "$MH_DIR/local"
    on_cleanup mh_teardown
    local bridge_ns=$MH_PREFIX-net
    err=$(ip netns add "$bridge_ns" 2>&1) || fail "cannot make a network namespace ('ip netns add' said: $err)"
    MH_MADE_NS+=("$bridge_ns")
    ip -n "$bridge_ns" link add br0 type bridge && ip -n "$bridge_ns" link set br0 up ||
        fail "cannot make a bridge in namespace $bridge_ns"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$MH_DIR/hosts"
    for i in $(seq 1 "$n"); do
        host=$(mh_host "$i")
        err=$(ip netns add "$host" 2>&1) || fail "cannot make network namespace $host: $err"
        MH_MADE_NS+=("$host")
        ip -n "$bridge_ns" link add "h$i" type veth peer name "$MH_IF" netns "$host" &&
            ip -n "$bridge_ns" link set "h$i" master br0 up &&
            ip -n "$host" addr add "$(mh_addr "$i")/24" dev "$MH_IF" &&
            ip -n "$host" link set "$MH_IF" up && ip -n "$host" link set lo up ||
            fail "cannot wire host $host to the bridge"
        : >"$MH_DIR/$host.uts"
        err=$(unshare --uts="$MH_DIR/$host.uts" hostname "$host" 2>&1) ||
            fail "cannot make a UTS namespace for $host: $err"
        MH_MADE_UTS+=("$MH_DIR/$host.uts")
        mkdir -p "$MH_DIR/$host.local"
        printf '%s %s\n' "$(mh_addr "$i")" "$host" >>"$MH_DIR/hosts"
        MH_HOSTS+=("$host")
    done
    mh_slots "$(printf '1 %.0s' $(seq 1 "$n"))"
    MH_CLIENT_HOST=${MH_HOSTS[0]}
    expect_eq "$(mh_run "${MH_HOSTS[1]:-${MH_HOSTS[0]}}" hostname)" "${MH_HOSTS[1]:-${MH_HOSTS[0]}}" "a host's name"
    MPIRUN_LAUNCH=("$MH_AGENT" "${MH_HOSTS[0]}" mpirun)
    MPI_LOOPBACK="--mca btl_tcp_if_include $MH_IF --mca oob_tcp_if_include $MH_IF"
    MPI_PLACEMENT=(--hostfile "$MH_DIR/hostfile" --mca plm_rsh_agent "$MH_AGENT")
}

# mh_slots "S1 S2 ...": host i gets Si slots; mpirun fills them in order,
# so ranks 0..S1-1 run on host 1, the next S2 on host 2, and so on.
mh_slots() {
    local i=0 s
    : >"$MH_DIR/hostfile"
    for s in $1; do
        printf '%s slots=%s\n' "${MH_HOSTS[$i]}" "$s" >>"$MH_DIR/hostfile"
        i=$((i + 1))
    done
}

# mh_rank_host RANK: the host name rank RANK registered with.
mh_rank_host() {
    ember dfsadmin -report | sed -n "/^Name: node-$1 (rank $1)\$/,/^\$/s/^Hostname: //p"
}

# The options that give core datanodes a data port reachable from other
# hosts and their short-circuit sockets in the host's private directory.
MH_CLUSTER_OPTS=(--bind 0.0.0.0 -D "dfs.domain.socket.path=$MH_DIR/local/dn_socket._PORT")

# mh_start_221 [ember cluster options...]: three hosts, ranks 0-1 on host
# 1, 2-3 on host 2, 4 on host 3; ranks 1-4 core nodes, 1 MiB blocks, and a
# quick redundancy monitor for the tests that kill one.
mh_start_221() {
    mh_setup 3
    mh_slots "2 2 1"
    cluster_start 5 --core-nodes 4 "${MH_CLUSTER_OPTS[@]}" -D dfs.blocksize=1m \
        -D dfs.namenode.redundancy.interval=200ms \
        -D dfs.namenode.reconstruction.pending.timeout=5s "$@"
    for placement in "0 1" "1 1" "2 2" "3 2" "4 3"; do mh_check_placement $placement; done
}

# mh_ranks_exit SECONDS: waits until no rank of the run is alive (a zombie
# counts as gone), then checks mpirun's output for sanitizer reports.
# For a stop after a rank died: across hosts, mpirun and its daemons then
# stay for minutes after the last rank exits (docs/ARCHITECTURE.md), so
# the test does not wait for mpirun; the EXIT trap stops it by pid.
mh_ranks_exit() {
    ranks_gone() {
        local p pid
        for p in "$RUN_DIR"/pids/rank-*.pid; do
            pid=$(cat "$p")
            kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ] && return 1
        done
        return 0
    }
    wait_until "$1" ranks_gone || fail "ranks still running after the stop"
    check_sanitizers
    kill -0 "$MPIRUN_PID" 2>/dev/null && log "mpirun still running once every rank has exited"
}

# mh_check_placement RANK HOST_INDEX: rank RANK runs in host HOST_INDEX's
# network and UTS namespaces and registered with that host's name.
mh_check_placement() {
    local pid host
    pid=$(rank_pid "$1") host=$(mh_host "$2")
    [ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "/run/netns/$host")" ] ||
        fail "rank $1 is not in $host's network namespace"
    [ "$(stat -L -c %i "/proc/$pid/ns/uts")" = "$(stat -L -c %i "$MH_DIR/$host.uts")" ] ||
        fail "rank $1 is not in $host's UTS namespace"
    if [ "$1" != 0 ]; then
        # Waited for: on a loaded machine a -report can come back empty (the
        # CLI timed out, or the rank was briefly declared dead and is back).
        rank_host_is() { [ "$(mh_rank_host "$1")" = "$2" ]; }
        wait_until 10 rank_host_is "$1" "$host" ||
            expect_eq "$(mh_rank_host "$1")" "$host" "host name of rank $1 in dfsadmin -report"
    fi
}

# mh_block_ranks FSCK_OUTPUT: one line per block, the ranks holding it.
mh_block_ranks() {
    grep '^[0-9]*\. blk_' <<<"$1" | while read -r line; do
        grep -o 'rank [0-9]*' <<<"$line" | cut -d' ' -f2 | tr '\n' ' '
        echo
    done
}
