#!/usr/bin/env bash
# A whole host lost (multihost_lib.sh): SIGKILL of host 3's Open MPI
# daemon (orted), the parent of host 3's only rank.  What Open MPI 4.1
# does under --enable-recovery, as docs/ARCHITECTURE.md records it: the
# rank dies with its daemon, mpirun prints an error and keeps running,
# the other hosts' daemons and ranks keep running.  ember then declares
# the rank dead after ember.node.expiry, copies its blocks back to 3 live
# replicas, and a stop reports the lost rank (exit status 3); every rank
# exits, while mpirun lingers for minutes (see mh_ranks_exit).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/multihost_lib.sh"

mh_start_221
head -c 3670016 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin || fail "put"
wait_until 60 dfs_healthy || fail "not healthy after the put: $(ember fsck / 2>&1 | tail -20)"
grep -q "rank 4\]" <<<"$(ember fsck / -files -blocks -locations)" || fail "rank 4 holds no replica"

rank4=$(rank_pid 4)
orted=$(ps -o ppid= -p "$rank4" | tr -d ' ')
expect_eq "$(cat "/proc/$orted/comm")" orted "rank 4's parent"
others=()
for r in 0 1 2 3; do others+=("$(rank_pid "$r")"); done
log "SIGKILL of host 3's orted (pid $orted)"
kill -KILL "$orted"
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
wait_until 30 gone "$rank4" || fail "rank 4 outlived its host's daemon"
dead_seen() { [ "$(section_count 'Dead datanodes')" = 1 ]; }
wait_until 30 dead_seen || fail "rank 4 not declared dead"
grep -q "node 4 (core, $(mh_host 3)) is dead" "$RUN_DIR/logs/rank-0.log" || fail "no dead-node line for rank 4"
kill -0 "$MPIRUN_PID" || fail "mpirun exited when host 3's daemon died"
for p in "${others[@]}"; do kill -0 "$p" || fail "rank pid $p on another host died too"; done
ember status | grep -q "Core nodes:  3 live, 1 dead" || fail "status after the host's loss: $(ember status)"
log "rank 4's last log line: $(tail -n1 "$RUN_DIR/logs/rank-4.log")"
log "mpirun said: $(grep -v '^==' "$TEST_TMP/mpirun.out" | grep -m1 -E '[A-Za-z]')"

wait_until 90 dfs_healthy || fail "blocks not re-replicated after host 3 died: $(ember fsck / 2>&1 | tail -20)"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after host 3's loss"
ember cluster stop >/dev/null
expect_eq "$(head -n1 "$RUN_DIR/status")" 3 "exit status after losing a host"
grep -q "1 node(s) lost: rank 4" "$RUN_DIR/status" || fail "status file: $(cat "$RUN_DIR/status")"
mh_ranks_exit 60
log PASS
