#!/usr/bin/env bash
# multihost_agent.sh HOST COMMAND... -- "ssh HOST COMMAND" for the simulated
# hosts of multihost_lib.sh: Open MPI's launch agent (--mca plm_rsh_agent)
# and the tests' way to run a command on a host.
#
# Enters HOST's network namespace (/run/netns/HOST) and UTS namespace (the
# file HOST.uts bind-mounted by multihost_lib.sh), then a fresh mount
# namespace of its own where $EMBER_MH_DIR/hosts is /etc/hosts (every
# simulated host's name and address) and $EMBER_MH_DIR/HOST.local is
# mounted on $EMBER_MH_DIR/local, the host's private directory (its
# datanodes' unix sockets live there, so another host cannot see them).
# Everything else -- the run directory included -- is shared, as over NFS.
# The command words are joined and run by bash, as ssh runs them.  The
# agent writes its pid to $EMBER_MH_DIR/pids/ before it execs (every step
# execs, so the pid becomes the command's); multihost_lib.sh kills what is
# left by those pids at exit.
set -u
dir=${EMBER_MH_DIR:?EMBER_MH_DIR must name the simulated hosts\' directory}
host=${1:?usage: multihost_agent.sh HOST COMMAND...}
shift
if [ ! -f "$dir/$host.uts" ] || [ ! -e "/run/netns/$host" ]; then
    echo "multihost_agent: no simulated host '$host'" >&2
    exit 255
fi
echo $$ >"$dir/pids/$$"
exec nsenter --net="/run/netns/$host" --uts="$dir/$host.uts" \
    unshare --mount --propagation private \
    bash -c 'mount --bind "$1/hosts" /etc/hosts && mount --bind "$1/$2.local" "$1/local" &&
             shift 2 && exec bash -c "$*"' multihost_agent "$dir" "$host" "$@"
