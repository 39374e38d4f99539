#!/usr/bin/env bash
# Short-circuit reads across simulated hosts (multihost_lib.sh): ranks 0-1
# on host 1, rank 2 on host 2, rank 3 on host 3, each block at replication
# 3 on all three core ranks.  Each datanode's unix socket lives in its
# host's private directory, as on a real host.  A reader on host N reads
# every block through the files of host N's datanode only: the datanodes'
# "short-circuit read of blk_" log lines (one per block and stream) grow
# on that host's rank and on no other.  With short-circuit off on the
# client, no datanode logs one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/multihost_lib.sh"

mh_setup 3
mh_slots "2 1 1"
cluster_start 4 --core-nodes 3 "${MH_CLUSTER_OPTS[@]}" -D dfs.blocksize=1m \
    -D dfs.block.scanner.volume.bytes.per.second=0
for placement in "0 1" "1 1" "2 2" "3 3"; do mh_check_placement $placement; done
# Each host's private directory holds its own datanode's socket, and only it.
for h in 1 2 3; do
    sockets=$(find "$MH_DIR/$(mh_host "$h").local" -type s | wc -l)
    expect_eq "$sockets" 1 "datanode sockets in host $h's directory"
done

sc_reads() { grep -c 'short-circuit read of blk_' "$RUN_DIR/logs/rank-$1.log"; }
counts() { echo "$(sc_reads 1) $(sc_reads 2) $(sc_reads 3)"; }
head -c 3670016 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin || fail "put"
wait_until 60 dfs_healthy || fail "not healthy after the put: $(ember fsck / 2>&1 | tail -20)"
out=$(ember fsck / -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "blocks on all three core ranks"

# A reader on host H (rank H's host): 4 more reads on rank H, none elsewhere.
for h in 1 2 3; do
    read -r c1 c2 c3 <<<"$(counts)"
    mh_run "$(mh_host "$h")" "$EMBER" --run-dir "$RUN_DIR" dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" ||
        fail "cat on host $h differs"
    want=("" "$c1" "$c2" "$c3")
    want[$h]=$((want[h] + 4))
    expect_eq "$(counts)" "${want[1]} ${want[2]} ${want[3]}" \
        "short-circuit reads on ranks 1 2 3 after a reader on host $h"
done

# Short-circuit off in the client: every byte over TCP, no datanode's files.
before=$(counts)
mh_run "$(mh_host 2)" "$EMBER" --run-dir "$RUN_DIR" dfs -D dfs.client.read.shortcircuit=false \
    -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat over TCP differs"
expect_eq "$(counts)" "$before" "short-circuit reads with dfs.client.read.shortcircuit=false"
ember cluster stop >/dev/null
cluster_wait_exit 120
log PASS
