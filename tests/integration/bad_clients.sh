#!/usr/bin/env bash
# Bad input at the gateway: a wrong secret, requests before authenticating,
# garbage, oversized length prefixes, a disconnect mid-frame, a silent
# client, a non-request.  Each is refused and logged; the cluster keeps
# serving everyone else.
. "$(dirname "$0")/lib.sh"
: "${PROBE:?PROBE must point at ember_probe}"

cluster_start 3 -D ember.auth.timeout=1s
for mode in wrong-secret request-before-auth garbage-before-auth garbage \
    oversize-before-auth oversize mid-frame not-a-request silent; do
    out=$("$PROBE" "$RUN_DIR" "$mode") || fail "probe $mode: $out"
    log "$mode: $out"
    ember status >/dev/null || fail "cluster stopped serving after $mode"
done

# The CLI with a wrong secret: one clear line, exit 1.
mkdir -p "$TEST_TMP/wrong"
sed 's/"secret": "[0-9a-f]*"/"secret": "00112233"/' "$RUN_DIR/cluster.json" >"$TEST_TMP/wrong/cluster.json"
out=$("$EMBER" --run-dir "$TEST_TMP/wrong" status 2>&1) && fail "status with a wrong secret succeeded"
expect_eq "$(wc -l <<<"$out")" 1 "lines of the wrong-secret error"
grep -q 'authentication failed' <<<"$out" || fail "wrong-secret error unclear: $out"

primary_log=$RUN_DIR/logs/rank-0.log
for pattern in 'authentication failed: wrong secret' 'before authenticating' 'malformed frame' \
    'frame over the size cap' 'disconnected mid-frame' 'did not authenticate in time' \
    'which is not a request'; do
    grep -q "$pattern" "$primary_log" || fail "primary log lacks '$pattern'"
done
expect_eq "$(section_count 'Live datanodes')" 2 "datanodes after the bad clients"
ember cluster stop >/dev/null
cluster_wait_exit 30
expect_eq "$(head -n1 "$RUN_DIR/status")" 0 "status code"
log PASS
