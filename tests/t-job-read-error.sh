#!/usr/bin/env bash
# A claim whose job file cannot be read for a reason other than its absence
# (EIO from the disk, EMFILE, a lost NFS server) must not fail the job: the
# job is not wrong, the disk is. spoold answers the claimer 500 with the
# reason and gives the order back; a local runner gives the claim back and
# backs off. Only a job that is not there (ENOENT) makes an orphan that is
# failed. (Before: spoold failed the order as an orphan on any error, and a
# local runner refused the job with status 400: failed for good.)
# The read error comes from the library's fault seam: SPOOL_FAULT=read:2:EIO
# fails every whole-file read from the second on; a claim reads its order
# file (the job's options) first, then the job.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
printf '#!/bin/sh\necho "{\\"loss\\": 0.5}"\n' >scripts/ok.sh
chmod +x scripts/ok.sh
$SC init
state() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['order']['state'], d['order']['attempt'])"; }

# --- spoold ------------------------------------------------------------------------------
a=$(echo '{"scriptName":"ok.sh"}' | $SC submit -)
# (a fresh spoold: the job is not in its memory, its file must be read)
SPOOL_FAULT=read:2:EIO start_spoold "$TESTDIR/spool"
http POST "/v1/claim?worker=w&wait=0"
assert_eq 500 "$CODE" "spoold: a claim whose job cannot be read"
assert_match "Input/output error" "$BODY" "spoold: the answer says why"
# (given back by spoold's writer; queued again once that is durable)
back() { [ "$(grep -c "claim $a given back: its claimer did not get it (ok)" "$TESTDIR/spoold.log")" = "$1" ]; }
wait_for back 1
http POST "/bored/w"
[ "$CODE" = 500 ] || fail "spoold: the seed's claim on a failing disk: expected 500, got $CODE: $BODY"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
grep -q "claim $a: cannot answer it, given back: Input/output error" "$TESTDIR/spoold.log" ||
	fail "spoold does not log the give-back: $(tail -5 "$TESTDIR/spoold.log")"
assert_eq "new 0" "$(state "$a")" "spoold: the order is back in line, no attempt spent"

# --- a local runner ----------------------------------------------------------------------
SPOOL_FAULT=read:2:EIO "$BIN/runner" --spool spool --scripts scripts --poll-ms 50 \
	--workdir "$TESTDIR/w" --name sick 2>sick.log &
rpid=$!; PIDS+=("$rpid")
wait_for grep -q "cannot claim: .*Input/output error.*given back" sick.log
kill "$rpid"; wait "$rpid" 2>/dev/null || true
assert_eq "new 0" "$(state "$a")" "local runner: the order is back in line, no attempt spent"
grep -q "failed for good\|status.*400" sick.log && fail "local runner refused the job: $(cat sick.log)"

# --- healthy again: the job runs once, as it was ----------------------------------------
"$BIN/runner" --spool spool --scripts scripts --drain --workdir "$TESTDIR/w" --name well 2>well.log ||
	fail "runner exited $?: $(cat well.log)"
assert_eq "done 1" "$(state "$a")" "the job ran once the disk was well"

# --- a job that is not there is still an orphan: its attempt fails, the queue goes on ----
b=$(echo '{"scriptName":"ok.sh"}' | $SC submit -)
c=$(echo '{"scriptName":"ok.sh"}' | $SC submit -)
rm "spool/jobs/${b: -2}/$b.json"
start_spoold "$TESTDIR/spool"
http POST "/v1/claim?worker=w&wait=0"
assert_eq 200 "$CODE" "spoold: the claim passes the orphan"
assert_eq "$c" "$(js 'd["order"]["_id"]')" "spoold: the next job is served"
wait_for grep -q "order $b has no job document: attempt failed" "$TESTDIR/spoold.log"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true

# --- fsck and recovery, when the job's existence cannot be checked ----------------------
d=$(echo '{"scriptName":"ok.sh"}' | $SC submit -)
SPOOL_FAULT=stat:1:EIO $SC fsck --repair >fsck.out 2>&1 || true
grep -q "cannot tell whether job $d exists: Input/output error; left alone" fsck.out ||
	fail "fsck does not say it could not check: $(cat fsck.out)"
assert_eq "new 0" "$(state "$d")" "fsck --repair: the order of a job it could not check is left alone"
# a submit cut after its job was stored: the order staged in tmp/
q=$(cd spool/new && ls | grep "$d")
mv "spool/new/$q" "spool/tmp/$q.order"
SPOOL_FAULT=stat:1:EIO $SC fsck --repair --tmp-age 0 >rec.out 2>&1 || true
[ -f "spool/tmp/$q.order" ] || fail "recovery removed a staged order it could not check: $(cat rec.out)"
grep -q "tmp/$q.order: cannot tell whether job $d is stored (Input/output error); left alone" rec.out ||
	fail "recovery does not say it could not check: $(cat rec.out)"
$SC fsck --repair --tmp-age 0 >rec2.out 2>&1 || true
assert_eq "new 0" "$(state "$d")" "recovery, healthy: the staged order is queued"
echo ok
