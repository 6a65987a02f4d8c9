#!/usr/bin/env bash
# tests/run: light 18
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

# both CTL_RC RUNNER_RC ERE CTL_ARGS... :: RUNNER_ARGS...: spoolctl exits CTL_RC and
# the runner RUNNER_RC, both saying ERE (with $ERR_ENV in the environment of both)
both() {
	local crc=$1 rrc=$2 text=$3 c=()
	shift 3
	while [ "$1" != :: ]; do c+=("$1"); shift; done
	shift
	env $ERR_ENV true	# (a bad ERR_ENV fails here, loudly)
	set +e; env $ERR_ENV "$BIN/spoolctl" "${c[@]}" >out 2>errf; rc=$?; set -e; err=$(cat errf)
	assert_eq "$crc" "$rc" "spoolctl ${c[*]} ($ERR_ENV): $err"
	assert_match "$text" "$err" "spoolctl ${c[*]} ($ERR_ENV)"
	set +e
	env $ERR_ENV timeout 120 "$BIN/runner" --scripts scripts --workdir "$TESTDIR/work" \
		--outbox "$TESTDIR/ob" --drain "$@" 2>logf
	rc=$?; set -e; log=$(cat logf)
	assert_eq "$rrc" "$rc" "runner $* ($ERR_ENV): $log"
	assert_match "$text" "$log" "runner $* ($ERR_ENV)"
}
ERR_ENV=
u=$(sed 's/[.]/[.]/g' <<<"$URL")

# --- a wrong token, or none: exit 2 for both, the same words ----------------------------
both 2 2 "the boss refused the token of --token-file bad \(HTTP 401\): fix the token \(the boss at $u\)" \
	submit --boss "$URL" --token-file bad -- ok.sh :: --boss "$URL" --token-file bad
ERR_ENV=SPOOL_TOKEN_FILE=bad both 2 2 "the boss refused the token of [$]SPOOL_TOKEN_FILE bad \(HTTP 401\)" \
	sweep sweep.json --boss "$URL" :: --boss "$URL"
both 2 2 "the boss wants a token \(HTTP 401\): give one with --token-file FILE or [$]SPOOL_TOKEN_FILE \(the boss at $u\)" \
	submit --boss "$URL" -- ok.sh :: --boss "$URL"

# --- a URL that is not http(s)://: refused alike, before anything is sent ---------------
hostport=${URL#http://}
both 2 2 "the boss URL must be http://HOST\[:PORT\] or https://[.][.][.], not '$hostport'" \
	submit --boss "$hostport" --token-file tok -- ok.sh :: --boss "$hostport" --token-file tok

# --- a boss whose disk fails: a 5xx whose JSON "error" both show ------------------------
# (spoolctl: exit 1; the runner counts a 5xx as a boss that does not answer: --give-up)
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
"$BIN/spoolctl" --spool spool submit -- ok.sh >/dev/null	# queued, for the runner's claim
export SPOOL_FAULT=fsync:1:ENOSPC
start_spoold "$TESTDIR/spool" --token-file "$TESTDIR/tok"
unset SPOOL_FAULT
u=$(sed 's/[.]/[.]/g' <<<"$URL")
both 1 2 "the boss at $u answered HTTP 50[07]: [^ ].*(No space left on device|Input/output)" \
	submit --boss "$URL" --token-file tok -- ok.sh :: --boss "$URL" --token-file tok --give-up 2
assert_match "cannot submit the jobs: the boss at $u answered HTTP 507: 1 of 1 jobs not stored: No space left on device" \
	"$err" "spoolctl gives the boss's message whole"
assert_match "cannot claim: the boss at $u answered HTTP 50[07]" "$log" "the runner says what failed"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true

# --- the boss is down ---------------------------------------------------------------------
u=$(sed 's/[.]/[.]/g' <<<"$spool_url")
both 1 2 "cannot reach the boss at $u: .*(connect|refused)" \
	submit --boss "$spool_url" --token-file tok -- ok.sh :: --boss "$spool_url" --token-file tok --give-up 1
assert_match "the boss at $u has not answered for 1 s" "$log" "the runner gives up"

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
