# Issue 9, "Acknowledged means kept": one check per finding of the review, each
# against the real programs (spoolctl, spoold on a loopback port, curl), and
# crashes made exactly where they hurt: strace kills the process on entry to
# its Nth rename or link, so every instant between two steps of a commit is
# tried, not just the ones a random kill happens to hit.
source "$TOP/tests/lib.sh"

SPOOL_DIR=$TESTDIR/spool
SC="$BIN/spoolctl --spool $SPOOL_DIR"
$SC init >/dev/null
cat >job.json <<'EOF'
{"scriptName": "nn.py", "epochs": 1}
EOF
state() { $SC show "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])' 2>/dev/null || echo none; }
orders_of() { find "$SPOOL_DIR"/{new,assigned,held,done,failed,cancelled} -type f -name "*.$1.*" | wc -l; }
# kill_at POINT CMD...: run CMD, killed (SIGKILL) on entering the call POINT
# names, "SYSCALL@N" (its Nth call of that system call)
kill_at() { local call=${1%@*} n=${1#*@}; shift
	( strace -f -o /dev/null -e trace="$call" -e inject="$call":signal=SIGKILL:when="$n" "$@" >/dev/null 2>&1 ) 2>/dev/null || true; }
# done_have_outcomes: every done or failed order that ran has the outcome its name points at
done_have_outcomes() {
	python3 - "$SPOOL_DIR" <<'EOF'
import os, sys
sp = sys.argv[1]; bad = 0
for st in ("done", "failed"):
    for d, _, names in os.walk(os.path.join(sp, st)):
        for n in names:
            f = n.split(".")
            if len(f) < 9:
                continue
            oid, att, tok = f[3], f[4], f[7]
            p = os.path.join(sp, "outcomes", oid[-2:], "%s.%s.%s.json" % (oid, att, tok))
            if not os.path.exists(p):
                print("%s/%s: no outcome %s" % (st, n, p)); bad += 1
sys.exit(1 if bad else 0)
EOF
}
# ACKED_ONLY="1 3" runs some sections (to show each fails on older code)
want() { [[ " ${ACKED_ONLY:-1 2 3 5 8 9} " == *" $1 "* ]]; }

# every rename and link a commit makes, in the order the library makes them
# (publish-once is renameat2(RENAME_NOREPLACE), a state change renameat)
POINTS="renameat2@1 renameat@1 renameat2@2 renameat@2 unlinkat@1"

if want 1; then
# --- 1. a 201 for a job that never runs ---------------------------------------------
# (a) a submit killed at each rename/link of its commit, then retried as a client
# that got no answer does: whatever the crash left, the retry leaves one order.
n=0
for p in $POINTS; do
	n=$((n + 1)); id=$(printf 'a%023d' "$n")
	kill_at "$p" $SC submit --id "$id" job.json
	$SC submit --id "$id" job.json >/dev/null 2>&1 || true
	assert_eq 1 "$(orders_of "$id")" "orders of $id after a kill at $p and a retry"
done
# (b) the same crash, no retry: spoold mends it by itself at start (no fsck)
n=0
for p in $POINTS; do
	n=$((n + 1)); id=$(printf 'b%023d' "$n")
	kill_at "$p" $SC submit --id "$id" job.json
	if [ -e "$SPOOL_DIR/jobs/${id: -2}/$id.json" ]; then stored+=" $id"; fi
done
start_spoold "$SPOOL_DIR" --lease 2 --reap-interval 0.2
for id in ${stored:-}; do
	assert_eq 1 "$(orders_of "$id")" "orders of stored job $id after spoold started"
done
[ -n "${stored:-}" ] || fail "no kill left a stored job: the crash points moved"
# (c) a full disk while the order is written: no job without its order, and the
# retry once there is room is queued
id=c00000000000000000000001
set +e; SPOOL_FAULT=write:2:ENOSPC $SC submit --id "$id" job.json >/dev/null 2>&1; rc=$?; set -e
[ "$rc" != 0 ] || fail "submit with a full disk at the order: exit 0"
[ ! -e "$SPOOL_DIR/jobs/${id: -2}/$id.json" ] || fail "the job was stored without its order"
$SC submit --id "$id" job.json >/dev/null
assert_eq new "$(state "$id")" "retried submit after the disk filled"

fi
[ -n "${SPOOLD_PID:-}" ] || start_spoold "$SPOOL_DIR" --lease 2 --reap-interval 0.2
if want 2; then
# --- 2. a heartbeat renews for the claim's lease (spoold --lease 2), not 300 s ----------
http POST /v1/jobs --data-binary @job.json; hid=$(js 'd["ids"][0]')
http POST "/v1/claim?worker=hb&wait=0"; tok=$(js 'd["token"]'); cid=$(js 'd["order"]["_id"]')
http POST "/v1/orders/$cid/heartbeat?token=$tok"
assert_eq 200 "$CODE" "heartbeat: $BODY"
left=$(python3 -c "import json,sys,time; print(int(json.loads(sys.argv[1])['leaseDeadlineMs']/1000 - time.time()))" "$BODY")
[ "$left" -le 3 ] || fail "heartbeat without lease= renewed for ${left}s, spoold --lease is 2"

fi
if want 3; then
# --- 3. a finished run without its outcome --------------------------------------------
# a local worker killed at each rename/link of its complete: never a done order
# without its outcome; the reaper ends what was left as its outcome says
G=$TESTDIR/g; GSC="$BIN/spoolctl --spool $G"; $GSC init >/dev/null
n=0
for p in $POINTS; do
	n=$((n + 1)); id=$(printf 'd%023d' "$n")
	$GSC submit --id "$id" job.json >/dev/null
	read -r got tok _ < <($GSC claim --worker crash --lease 1)
	assert_eq "$id" "$got" "claimed the order under test"
	echo "{\"status\": 200, \"loss\": 0.$n}" >out.json
	kill_at "$p" $GSC complete "$got" "$tok" out.json
	SPOOL_DIR=$G done_have_outcomes || fail "a complete killed at $p left a done order without its outcome"
done
# the local reaper, once the leases are over, ends each claim as its filed outcome says
for i in $(seq 1 100); do
	$GSC reap --grace-ms 0 >/dev/null 2>&1 || true
	[ -z "$(ls "$G/assigned")" ] && break; sleep 0.1
done
[ -z "$(ls "$G/assigned")" ] || fail "claims stranded in assigned/: $(ls "$G/assigned")"
SPOOL_DIR=$G done_have_outcomes || fail "done orders without outcomes after the reaper"
# killed after filing its outcome (renameat@1 is the order's rename): done, not run again
assert_match '^state +done' "$($GSC show d00000000000000000000002)" "a claim whose outcome was filed, after the reaper"

fi
if want 5; then
# --- 5. /callback is fenced --------------------------------------------------------------
http POST /v1/jobs --data-binary @job.json; fid=$(js 'd["ids"][0]')
for i in $(seq 1 50); do
	http POST "/v1/claim?worker=runner1&wait=0&lease=120"	# not reaped however slow the machine
	[ "$(js 'd.get("order", {}).get("_id")')" = "$fid" ] && break
done
assert_eq "$fid" "$(js 'd.get("order", {}).get("_id")')" "claimed the job under test"
ftok=$(js 'd["token"]')
# a callback naming only the jobId may not end a claim held with a token
http POST /callback -H 'Content-Type: application/json' -d "{\"status\": 200, \"jobId\": \"$fid\", \"loss\": 9}"
assert_eq 409 "$CODE" "bare callback over a /v1 claim: $BODY"
assert_eq assigned "$(state "$fid")" "state after a refused callback"
ls "$SPOOL_DIR/late" | grep -q "^$fid\." || fail "the refused callback's outcome is not kept in late/"
# the runner's real completion then files
http POST "/v1/orders/$fid/complete?token=$ftok" -d '{"status": 200, "loss": 1}'
assert_eq 200 "$CODE" "the runner's complete after the callback: $BODY"
assert_match '"state": "done"' "$BODY" "complete state"
[ "$(js 'd.get("duplicate", False)')" = False ] || fail "the runner's complete was taken for a duplicate"
# a seed claim: a callback whose assignmentId is not this claim's goes to late/
http POST /job/create -d '{"scriptName":"nn.py"}'; sid=$(js 'd["_id"]')
for i in $(seq 1 50); do
	http POST /bored/seed-node
	[ "$(js 'd.get("jobId")')" = "$sid" ] && break
done
aid=$(js 'd["_id"]')
http POST /callback -d "{\"status\": 200, \"jobId\": \"$sid\", \"assignmentId\": \"0123456789abcdef00000001\"}"
assert_eq 409 "$CODE" "callback with another claim's assignmentId"
http POST /callback -d "{\"status\": 200, \"jobId\": \"$sid\", \"assignmentId\": \"$aid\"}"
assert_eq 200 "$CODE" "callback with its own assignmentId: $BODY"
assert_eq done "$(state "$sid")" "seed job after its callback"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true

fi
if want 9; then
# --- 9. one id rule on every path: a valid _id is kept --------------------------------
nid=e00000000000000000000009
echo "{\"_id\": \"$nid\", \"scriptName\": \"nn.py\"}" >named.json
assert_eq "$nid" "$($SC submit named.json)" "spoolctl submit keeps a valid _id"
assert_eq "$nid" "$($SC submit named.json)" "and a second submit names the same job"
did=e0000000000000000000000a
echo "{\"_id\": \"$did\", \"scriptName\": \"nn.py\"}" >"$SPOOL_DIR/new/drop1.json"
$SC ingest >/dev/null
echo "{\"_id\": \"$did\", \"scriptName\": \"nn.py\"}" >"$SPOOL_DIR/new/drop2.json"
$SC ingest >/dev/null
assert_eq 1 "$(orders_of "$did")" "orders of a job dropped twice"
assert_eq 1 "$(orders_of "$nid")" "orders of a job submitted twice"

fi
if want 8; then
# --- 8. fsck finds and mends what it missed ---------------------------------------------
F=$TESTDIR/f; BSC="$BIN/spoolctl --spool $F"; $BSC init >/dev/null
# (a) an outcome whose job does not exist
mkdir -p "$F/outcomes/99"
echo '{"status": 200}' >"$F/outcomes/99/f00000000000000000000099.001.0123456789abcdef.json"
# (b) a job that ran (its outcome is on disk) but whose order a backup missed
rid=$($BSC submit --id f000000000000000000000aa job.json)
read -r _ rtok _ < <($BSC claim --worker w)
echo '{"status": 200, "loss": 0.5}' >o.json; $BSC complete "$rid" "$rtok" o.json >/dev/null
find "$F/done" -name "*.$rid.*" -delete
# (c) a done order whose outcome is missing
mid=$($BSC submit --id f000000000000000000000bb job.json)
read -r _ mtok _ < <($BSC claim --worker w)
$BSC complete "$mid" "$mtok" o.json >/dev/null
find "$F/outcomes" -name "$mid.*" -delete
# (d) a drop being ingested right now (taken into tmp/, young)
echo '{"scriptName": "nn.py"}' >"$F/tmp/01a000000000000000000000.drop.young.json"
set +e; $BSC fsck >fsck.out 2>&1; rc=$?; set -e
assert_eq 5 "$rc" "fsck exit with problems"
grep -q "f00000000000000000000099.*does not exist" fsck.out || fail "fsck: outcome without a job not reported: $(cat fsck.out)"
grep -q "$rid.*ran.*done" fsck.out || fail "fsck: job that ran without its order not restored as done: $(cat fsck.out)"
grep -q "$mid.*outcome is missing.*run again" fsck.out || fail "fsck: done without outcome has no repair: $(cat fsck.out)"
grep -q "drop.young.json.*left alone" fsck.out || fail "fsck: a young taken drop is skipped without a word: $(cat fsck.out)"
! grep -q "not repairable" fsck.out || fail "fsck says 'not repairable': $(cat fsck.out)"
set +e; $BSC fsck --repair >/dev/null 2>&1; set -e
assert_eq done "$($BSC show "$rid" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])')" "restored order"
assert_eq new "$($BSC show "$mid" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])')" "done without outcome, requeued"
rm -f "$F"/tmp/*.drop.young.json
$BSC fsck >/dev/null || fail "fsck not clean after the repair: $($BSC fsck 2>&1)"
fi
echo ok
