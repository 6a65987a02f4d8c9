#!/usr/bin/env bash
# One HTTP client (client/boss.c) for the runner and spoolctl (issue 13,
# item 4): against a real spoold on loopback, both programs read the boss
# and its token by one rule and fail alike, with the same words:
#   - a token file ending in CRLF and a blank line works for both, the URL
#     given with a trailing slash too, from the options and from
#     $SPOOL_BOSS / $SPOOL_TOKEN_FILE;
#   - a wrong token, or none: both exit 2, naming the token file and the boss;
#   - a 5xx with a JSON {"error"}: both show the boss's message;
#   - a boss that is down: "cannot reach the boss at URL: ..." in both;
#   - a URL without http://: both refuse it the same way (exit 2);
#   - a boss that accepts but does not answer: a timeout naming the boss.
. "$TOP/tests/lib.sh"
mkdir scripts
printf '#!/bin/sh\necho "{\\"loss\\": 1}"\n' >scripts/ok.sh
chmod +x scripts/ok.sh
printf 'tok-crlf-and-blank-1\r\n \n\n' >tok
printf 'tok-that-is-wrong-99\n' >bad
chmod 600 tok bad
printf '{"name": "cl", "base": {"scriptName": "ok.sh"}, "grid": {"lr": [1, 2]}}\n' >sweep.json

# ctl ARGS...: spoolctl, its exit status in $rc and its stderr in $err
ctl() { set +e; "$BIN/spoolctl" "$@" >out 2>errf; rc=$?; set -e; err=$(cat errf); }
# run ARGS...: a runner that drains, its exit status in $rc and its log in $log
run() {
	set +e
	timeout 120 "$BIN/runner" --scripts scripts --workdir "$TESTDIR/work" \
		--outbox "$TESTDIR/ob" --drain --give-up 20 "$@" 2>logf
	rc=$?; set -e; log=$(cat logf)
}
state() { curl -s -H 'Authorization: Bearer tok-crlf-and-blank-1' "$URL/v1/orders/$1" | pyget 'd["state"]'; }
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# assert_has TEXT IN WHAT: TEXT, as it is, in IN
assert_has() { grep -qF -- "$1" <<<"$2" || fail "$3: expected '$1' in '$2'"; }

start_spoold "$TESTDIR/spool" --init --token-file "$TESTDIR/tok"
spool_url=$URL

# --- the token file with CRLF and a blank line, the URL with a trailing slash ----
ctl submit --boss "$URL/" --token-file tok -- ok.sh
assert_eq 0 "$rc" "spoolctl submit to $URL/: $err"
id1=$(cat out)
ctl sweep sweep.json --boss "$URL/" --token-file tok
assert_eq 0 "$rc" "spoolctl sweep to $URL/: $err"
assert_eq 2 "$(wc -l <out)" "the sweep's two ids"
run --boss "$URL/" --token-file tok
assert_eq 0 "$rc" "runner --boss $URL/ with the same token file: $log"
assert_eq 3 "$(grep -c 'delivered complete' logf)" "the runner ran the three jobs"
assert_eq done "$(state "$id1")" "spoolctl's job, run by the runner"

# --- the same from the environment, for both --------------------------------------
set +e; id2=$(SPOOL_BOSS="$URL/" SPOOL_TOKEN_FILE=tok "$BIN/spoolctl" submit -- ok.sh 2>errf); rc=$?; set -e
assert_eq 0 "$rc" "spoolctl with \$SPOOL_BOSS and \$SPOOL_TOKEN_FILE: $(cat errf)"
export SPOOL_BOSS="$URL/" SPOOL_TOKEN_FILE=tok
run
unset SPOOL_BOSS SPOOL_TOKEN_FILE
assert_eq 0 "$rc" "runner with \$SPOOL_BOSS and \$SPOOL_TOKEN_FILE: $log"
assert_eq done "$(state "$id2")" "the job submitted from the environment"

# --- a wrong token: exit 2 for both, the same words -----------------------------------
want="the boss refused the token of --token-file bad (HTTP 401): fix the token (the boss at $URL)"
ctl submit --boss "$URL" --token-file bad -- ok.sh
assert_eq 2 "$rc" "spoolctl with a wrong token: $err"
assert_has "$want" "$err" "spoolctl's message"
run --boss "$URL" --token-file bad
assert_eq 2 "$rc" "runner with a wrong token"
assert_has "$want; exiting" "$log" "the runner's message"
# ... from $SPOOL_TOKEN_FILE, it says so
set +e; SPOOL_TOKEN_FILE=bad "$BIN/spoolctl" sweep sweep.json --boss "$URL" 2>errf; rc=$?; set -e
assert_eq 2 "$rc" "spoolctl sweep, wrong token from the environment"
assert_match 'refused the token of \$SPOOL_TOKEN_FILE bad \(HTTP 401\)' "$(cat errf)" "spoolctl names the variable"
export SPOOL_TOKEN_FILE=bad
run --boss "$URL"
unset SPOOL_TOKEN_FILE
assert_eq 2 "$rc" "runner, wrong token from the environment"
assert_match 'refused the token of \$SPOOL_TOKEN_FILE bad \(HTTP 401\)' "$log" "the runner names the variable"

# --- no token at all -------------------------------------------------------------------
ctl submit --boss "$URL" -- ok.sh
assert_eq 2 "$rc" "spoolctl without a token"
assert_match 'the boss wants a token \(HTTP 401\): give one with --token-file FILE or \$SPOOL_TOKEN_FILE' "$err" "spoolctl says how"
run --boss "$URL"
assert_eq 2 "$rc" "runner without a token"
assert_match 'the boss wants a token \(HTTP 401\): give one with --token-file FILE or \$SPOOL_TOKEN_FILE' "$log" "the runner says how"

# --- a URL that is not http(s)://: refused alike, before anything is sent --------------
hostport=${URL#http://}
ctl submit --boss "$hostport" --token-file tok -- ok.sh
assert_eq 2 "$rc" "spoolctl --boss $hostport"
assert_match "the boss URL must be http://HOST\[:PORT\] or https://..., not '$hostport'" "$err" "spoolctl's message"
run --boss "$hostport" --token-file tok
assert_eq 2 "$rc" "runner --boss $hostport"
assert_match "the boss URL must be http://HOST\[:PORT\] or https://..., not '$hostport'" "$log" "the runner's message"

# --- a boss whose disk fails: a 5xx whose JSON "error" both show ------------------------
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
"$BIN/spoolctl" --spool spool submit -- ok.sh >/dev/null	# queued, for the runner's claim
export SPOOL_FAULT=fsync:1:ENOSPC
start_spoold "$TESTDIR/spool" --token-file "$TESTDIR/tok"
unset SPOOL_FAULT
ctl submit --boss "$URL" --token-file tok -- ok.sh
assert_eq 1 "$rc" "spoolctl against a full disk"
assert_match "cannot submit the jobs: the boss at $URL answered HTTP 507: 1 of 1 jobs not stored: No space left on device" "$err" "spoolctl shows the boss's error"
run --boss "$URL" --token-file tok --give-up 2
assert_eq 2 "$rc" "runner against a failing boss (5xx counts as down)"
assert_match "cannot claim: the boss at $URL answered HTTP 5[0-9][0-9]: [a-z]" "$log" "the runner shows the boss's error"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true

# --- the boss is down --------------------------------------------------------------------
ctl submit --boss "$spool_url" --token-file tok -- ok.sh
assert_eq 1 "$rc" "spoolctl, boss down"
assert_match "cannot submit the jobs: cannot reach the boss at $spool_url: .*(connect|refused)" "$err" "spoolctl's message"
run --boss "$spool_url" --token-file tok --give-up 1
assert_eq 2 "$rc" "runner, boss down"
assert_match "cannot claim: cannot reach the boss at $spool_url: .*(connect|refused)" "$log" "the runner's message"
assert_match "the boss at $spool_url has not answered for 1 s" "$log" "the runner gives up"

# --- a boss that takes the connection but never answers: a timeout naming it -------------
start_spoold "$TESTDIR/spool" --token-file "$TESTDIR/tok"
kill -STOP "$SPOOLD_PID"
"$BIN/runner" --boss "$URL" --token-file tok --scripts scripts --workdir "$TESTDIR/work" \
	--outbox "$TESTDIR/ob" --wait 1 2>stuck.log &
rpid=$!; PIDS+=("$rpid")
WAIT_S=90 wait_for grep -q "the boss at $URL did not answer within [0-9]* s" stuck.log
kill "$rpid"; wait "$rpid" 2>/dev/null || true
kill -CONT "$SPOOLD_PID"
echo ok
