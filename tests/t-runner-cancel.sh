#!/usr/bin/env bash
# Cancelling a running job stops its script within about a second, not at
# the next heartbeat (a third of the lease: 100 s with the default 300 s
# lease), in local mode (spoolctl cancel) and remote mode (POST
# /v1/orders/ID/cancel). Issue 11, defect 5. The deadline below (10 s) is
# far under the heartbeat, far over a second.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/long.sh <<'S'
#!/bin/sh
echo $$ >"$SPOOL_WORKDIR/../../pid-$SPOOL_JOB_ID"
exec sleep 600
S
chmod +x scripts/long.sh
$SC init
sub() { echo "$1" | $SC submit -; }
gone() { ! kill -0 "$1" 2>/dev/null; }
state() { $SC show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])'; }

j=$(sub '{"scriptName":"long.sh"}')
"$BIN/runner" --spool spool --scripts scripts --name loc --workdir "$TESTDIR/work" --poll-ms 50 2>loc.log &
R=$!; PIDS+=($R)
wait_for test -s "pid-$j"
$SC cancel "$j" >/dev/null
WAIT_S=10 wait_for gone "$(cat "pid-$j")"
assert_eq cancelled "$(state "$j")" "local: cancelled"
assert_match "$j attempt 1: claim lost" "$(cat loc.log)" "local: the runner says why it stopped"
kill -TERM $R; wait $R || true

start_spoold "$TESTDIR/spool"
j=$(sub '{"scriptName":"long.sh"}')
"$BIN/runner" --boss "$URL" --scripts scripts --name rem --workdir "$TESTDIR/work" \
	--outbox "$TESTDIR/ob" 2>rem.log &
R=$!; PIDS+=($R)
wait_for test -s "pid-$j"
curl -sf -XPOST "$URL/v1/orders/$j/cancel" >/dev/null
WAIT_S=10 wait_for gone "$(cat "pid-$j")"
assert_eq cancelled "$(state "$j")" "remote: cancelled"
assert_match "$j attempt 1: claim lost \(the order is cancelled at the boss\)" "$(cat rem.log)" "remote: why"
