#!/usr/bin/env bash
# The runner's exit status is its contract (runner --help): 0 every job it
# finished was done, 1 one failed, 2 it could not work (a refused token at
# once; a boss that does not answer, after --give-up seconds of logged
# retries; no spool), 128+N stopped by signal N (t-runner-preempt).
# Issue 11, defects 2 and 3.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
printf '#!/bin/sh\necho "{\\"loss\\": 1}"\n' >scripts/ok.sh
printf '#!/bin/sh\necho "something broke" >&2\nexit 3\n' >scripts/bad.sh
chmod +x scripts/*.sh
$SC init
sub() { echo "$1" | $SC submit -; }
run() { local rc; set +e; timeout 120 "$BIN/runner" --scripts scripts --workdir "$TESTDIR/work" "$@"; rc=$?; set -e; echo $rc; }

# --- local: all done 0, a failure 1 -------------------------------------------------
sub '{"scriptName":"ok.sh"}' >/dev/null
assert_eq 0 "$(run --spool spool --drain --poll-ms 50 2>l1.log)" "all done"
sub '{"scriptName":"ok.sh"}' >/dev/null
b=$(sub '{"scriptName":"bad.sh","spool":{"maxAttempts":1}}')
assert_eq 1 "$(run --spool spool --drain --poll-ms 50 2>l2.log)" "a job failed"
assert_eq failed "$($SC show "$b" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])')" "the bad job"
# the log line of a failure shows the script's own stderr and where the rest is
assert_match "$b attempt 1: failed .*something broke" "$(cat l2.log)" "failure line"
assert_match "spoolctl .*log $b" "$(cat l2.log)" "where to read the log"
assert_eq 2 "$(run --spool "$TESTDIR/nospool" --drain 2>l3.log)" "no spool"
assert_eq 2 "$(run --spool spool --slots 0 2>/dev/null)" "bad usage"

# --- remote: a wrong token is fatal at once -------------------------------------------
echo "0f1e2d3c4b5a69788796a5b4c3d2e1f0" >good.token
echo "0f1e2d3c4b5a69788796a5b4c3d2eBAD" >bad.token
start_spoold "$TESTDIR/spool" --token-file "$TESTDIR/good.token"
assert_eq 2 "$(run --boss "$URL" --token-file bad.token --drain --outbox "$TESTDIR/ob" 2>r1.log)" "refused token"
assert_match "refused the token of --token-file bad.token \(HTTP 401\)" "$(cat r1.log)" "message names the token file"
assert_eq 2 "$(run --boss "$URL" --outbox "$TESTDIR/ob" 2>r2.log)" "no token, without --drain too"
assert_match "wants a token \(HTTP 401\).*--token-file" "$(cat r2.log)" "message says to give one"
sub '{"scriptName":"ok.sh"}' >/dev/null
assert_eq 0 "$(run --boss "$URL" --token-file good.token --drain --outbox "$TESTDIR/ob" 2>r3.log)" "remote all done"
assert_eq 1 "$(grep -c 'delivered complete' r3.log)" "one job done remotely"

# --- remote: a boss that does not answer is given up on, each retry logged -----------
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
assert_eq 2 "$(run --boss "$URL" --drain --give-up 3 --outbox "$TESTDIR/ob" 2>r4.log)" "unreachable boss"
assert_match "has not answered for 3 s \(--give-up\)" "$(cat r4.log)" "give-up message"
[ "$(grep -c 'cannot claim: .*try [0-9]*; again in' r4.log)" -ge 2 ] || fail "each retry is logged: $(cat r4.log)"
assert_match "giving up in [0-9]+ s" "$(cat r4.log)" "retries say when they give up"
# a drain's default bound is documented; without --drain it retries for ever
assert_match "default 300 with --drain" "$("$BIN/runner" --help)" "--give-up in --help"
assert_match "^runner [0-9]" "$("$BIN/runner" --version)" "--version"
