#!/usr/bin/env bash
# One rule for a status in an outcome, on every path (issue 11, defect 6):
# a script that exits 0 but prints {"status": 404} fails its job at once, one
# that prints {"status": 500} is retried, as /callback reads the same
# outcome; neither is done nor on the leaderboard. Local and remote mode;
# and the same outcome posted to /callback by a seed worker, for comparison.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/st.sh <<'S'
#!/bin/sh
code=$(echo "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
echo "{\"status\": $code, \"loss\": 0.1}"
S
chmod +x scripts/st.sh
$SC init
sub() { echo "$1" | $SC submit -; }
f() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['order']['state'], d['order']['attempt'])"; }

check() {	# MODE: the 404 job failed after 1 attempt, the 500 one after 2 (retried)
	assert_eq "failed 1" "$(f "$a")" "$1: 404 fails at once"
	assert_eq "failed 2" "$(f "$b")" "$1: 500 is retried"
	assert_eq 3 "$(grep -c 'failed in .*the script reported a failure status' "$1.log")" "$1: failures logged"
}
a=$(sub '{"scriptName":"st.sh","code":404,"spool":{"maxAttempts":2}}')
b=$(sub '{"scriptName":"st.sh","code":500,"spool":{"maxAttempts":2}}')
set +e; "$BIN/runner" --spool spool --scripts scripts --drain --poll-ms 50 --workdir "$TESTDIR/w" 2>local.log; rc=$?; set -e
check local
assert_eq 1 "$rc" "local: the runner's exit status"

start_spoold "$TESTDIR/spool"
a=$(sub '{"scriptName":"st.sh","code":404,"spool":{"maxAttempts":2}}')
b=$(sub '{"scriptName":"st.sh","code":500,"spool":{"maxAttempts":2}}')
set +e; "$BIN/runner" --boss "$URL" --scripts scripts --drain --outbox "$TESTDIR/ob" --workdir "$TESTDIR/w" 2>remote.log; rc=$?; set -e
check remote
assert_eq 1 "$rc" "remote: the runner's exit status"
board=$(curl -sf "$URL/v1/leaderboard?key=loss")
assert_match '"rows": ?\[\]' "$board" "nothing ranked"
