#!/usr/bin/env bash
# Leases: a claim whose lease runs out is reaped back to new/ with its attempt
# counted; after the job's maximum it goes to failed/. A completion presenting
# a stale token is refused (exit 4) and its outcome kept in late/, never over
# the real one.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
state() { $SC show "$1" --json | pyget 'd["order"]["state"], d["order"]["attempt"]' | tr -d "(),'"; }
# reap_until N: run `reap --grace-ms 0` until it has reaped N claims in all
reap_until() {
	local want=$1 got=0 i
	for i in $(seq 1 100); do
		got=$((got + $($SC reap --grace-ms 0)))
		[ "$got" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "reaped $got claims in 10 s, expected $want"
}
late_of() { find "$SPOOL_DIR/late" -type f -name "$1*$2*"; }

$SC init
a=$(echo '{"scriptName":"nn.py","spool":{"maxAttempts":2}}' | $SC submit)

# --- attempt 1: lease of 1 s, renewed once, then left to expire --------------------
read -r id tok1 att < <($SC claim --worker w1 --lease 1)
assert_eq "$a 1" "$id $att" "first claim"
assert_eq 0 "$($SC reap --grace-ms 0)" "a live lease is not reaped"
d0=$($SC show "$a" --json | pyget 'd["order"]["leaseDeadline"]')
d1=$($SC renew "$a" "$tok1" --lease 1)
[[ "$d1" > "$d0" || "$d1" == "$d0" ]] || fail "renew moved the deadline back: $d0 -> $d1"
start=$(date +%s%N)
reap_until 1
echo "reaped after $(( ($(date +%s%N) - start) / 1000000 )) ms"
assert_eq "new 1" "$(state "$a")" "reaped: back in new/, the attempt counted"
assert_match "lease expired" "$(cat "$SPOOL_DIR"/outcomes/*/"$a".001."$tok1".json)" "the expired attempt's outcome says why"

# the worker of attempt 1 comes back late: refused, kept aside
echo '{"loss":111}' >late1.json
set +e; $SC complete "$a" "$tok1" late1.json 2>err; rc=$?; set -e
assert_eq 4 "$rc" "complete with a stale token"
assert_match "no longer held" "$(cat err)" "stale message"
grep -q "late/" err || fail "the message does not say where the outcome went: $(cat err)"
f=$(late_of "$a" "$tok1")
[ -n "$f" ] || fail "no late outcome for $a $tok1: $(ls -R "$SPOOL_DIR/late")"
assert_eq 111 "$(pyget 'd["loss"]' <"$f")" "late outcome kept as sent"
assert_exit 4 $SC renew "$a" "$tok1"
assert_exit 4 $SC release "$a" "$tok1"
assert_eq "new 1" "$(state "$a")" "a stale worker changed nothing"

# --- attempt 2: re-claimed; the stale worker cannot touch the new claim -------------
read -r id tok2 att < <($SC claim --worker w2 --lease 1)
assert_eq "$a 2" "$id $att" "second claim raises the attempt"
echo '{"loss":222}' >late2.json
assert_exit 4 $SC complete "$a" "$tok1" late2.json
assert_eq "assigned 2" "$(state "$a")" "the stale token did not complete the new claim"
[ -z "$(ls "$SPOOL_DIR"/outcomes/*/"$a".002.* 2>/dev/null)" ] || fail "a stale completion filed an outcome for attempt 2"

# ... and runs out too: attempts used up, failed/
reap_until 1
assert_eq "failed 2" "$(state "$a")" "after max attempts: failed/"
assert_exit 4 $SC complete "$a" "$tok2" late2.json
[ -n "$(late_of "$a" "$tok2")" ] || fail "no late outcome for attempt 2"
assert_eq 0 "$(grep -c . <(ls "$SPOOL_DIR/new"))" "nothing back in new/"

# --- the lease a job sets, used when the claimant sets none -----------------------
b=$(echo '{"scriptName":"nn.py","spool":{"lease":1,"maxAttempts":5}}' | $SC submit)
# the deadline is 1 s after the claim was made: measured from just before the
# claim, so that a slow machine cannot make it look expired
t0=$(python3 -c 'import time; print(time.time())')
c=$($SC claim --worker w3 --json)
left=$(echo "$c" | pyget '__import__("datetime").datetime.strptime(d["leaseDeadline"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=__import__("datetime").timezone.utc).timestamp() - '"$t0")
python3 -c "import sys; sys.exit(0 if 0.9 < $left < 60 else 1)" || fail "job lease 1 s: deadline $left s after the claim began (the default lease is 300 s)"
tokb=$(echo "$c" | pyget 'd["token"]')
# a claim completed in time is kept, the reaper leaves it alone
$SC complete "$b" "$tokb" late1.json
sleep 1.1
assert_eq 0 "$($SC reap --grace-ms 0)" "nothing to reap after completion"
assert_eq "done 1" "$(state "$b")" "completed in time"

# --- cancel fences a running claim ----------------------------------------------------
c=$(echo '{"scriptName":"nn.py"}' | $SC submit)
read -r id tokc _ < <($SC claim --worker w4 --lease 60)
$SC cancel "$c"
assert_exit 4 $SC complete "$c" "$tokc" late1.json
assert_eq "cancelled 1" "$(state "$c")" "cancelled stays cancelled"
[ -n "$(late_of "$c" "$tokc")" ] || fail "outcome of a cancelled claim not kept in late/"

# --- the default grace: a claim is not reaped until 2 s past its deadline --------------
e=$(echo '{"scriptName":"nn.py"}' | $SC submit)
read -r id toke _ < <($SC claim --worker w5 --lease 1)
start=$(date +%s%N)
n=0
while [ "$n" = 0 ]; do n=$($SC reap); sleep 0.1; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "with the default grace, reaped after $ms ms"
[ "$ms" -ge 2500 ] || fail "reaped $ms ms after a 1 s lease: the 2 s grace was not kept"
assert_eq "new 1" "$(state "$e")" "reaped with grace"

python3 "$TOP/tests/spoolcheck.py" "$SPOOL_DIR" --quiet
$SC fsck
echo ok
