#!/usr/bin/env bash
# Faults: SPOOL_FAULT=op:nth:ERR makes the nth write/fsync/rename/link (and
# every later one) fail. For each op, error and nth until the command gets
# through, submit, claim and complete must exit non-zero with a message that
# names the error, leave no partial file in a state directory, and leave a
# spool that works: a retried complete succeeds, fsck is clean after repair.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool
CHECK="python3 $TOP/tests/spoolcheck.py $SPOOL_DIR --quiet"

$SC init
printf '{"scriptName":"nn.py","lr":0.05}' >job.json
printf '{"status":200,"loss":1.25}' >outcome.json

declare -A msg=([ENOSPC]="No space left on device" [EIO]="Input/output error")
counts() { $SC ls --json; }
# faulty EXPECTED-EXIT... : run with the fault armed, stdout to out, stderr to err
faulty() { set +e; SPOOL_FAULT=$fault "$@" >out 2>err; rc=$?; set -e; }
# after a failed command: a clear message, the error's name, nothing partial
check_failure() {
	local what=$1 err=$2
	[ "$rc" != 0 ] || fail "$what with $fault: exit 0"
	[ "$rc" != 2 ] || fail "$what with $fault: usage error: $(cat err)"
	grep -q '^spoolctl: ' err || fail "$what with $fault: no message (stderr: '$(cat err)')"
	grep -q "${msg[$err]}" err || fail "$what with $fault: message does not say '${msg[$err]}': $(cat err)"
	$CHECK || fail "$what with $fault left a partial file"
	# and cleaned up after itself
	[ -z "$(ls "$SPOOL_DIR/tmp")" ] || fail "$what with $fault left in tmp/: $(ls "$SPOOL_DIR/tmp")"
}

ran=0 failures=0 prio=0
for op in write fsync rename link; do
	for err in ENOSPC EIO; do
		# --- submit --------------------------------------------------------------
		for nth in 1 2 3 4 5 6 7 8 9 10 11 12; do
			fault=$op:$nth:$err
			before=$(counts)
			faulty $SC submit job.json
			ran=$((ran + 1))
			if [ $rc = 0 ]; then
				[ -s out ] || fail "submit with $fault: exit 0 but no id"
				break
			fi
			failures=$((failures + 1))
			[ ! -s out ] || fail "submit with $fault failed (exit $rc) yet printed an id"
			check_failure submit "$err"
			# a submit that failed may be durable or not, but it is never half there
			after=$(counts)
			[ "$after" = "$before" ] || echo "note: submit with $fault failed but its job is stored: $after"
		done

		# claim, complete and fail under one error per call: enough to see
		# each path fail, and the suite stays short
		case $op:$err in write:ENOSPC|fsync:EIO|rename:EIO|link:ENOSPC) ;; *) continue;; esac

		# --- claim ---------------------------------------------------------------
		$SC submit job.json >/dev/null
		for nth in 1 2 3 4 5 6; do
			fault=$op:$nth:$err
			faulty $SC claim --worker w
			ran=$((ran + 1))
			if [ $rc = 0 ]; then
				read -r id tok _ <out
				$SC release "$id" "$tok"
				break
			fi
			[ $rc != 3 ] || fail "claim with $fault: nothing to claim?"
			failures=$((failures + 1))
			check_failure claim "$err"
		done
		# (a failed claim may leave its order assigned: its lease will run out)

		# --- complete and fail ------------------------------------------------------
		for verb in complete fail; do
			for nth in 1 2 3 4 5 6; do
				# each round's job comes first in line, before retried ones
				prio=$((prio + 1))
				printf '{"scriptName":"nn.py","spool":{"priority":%d}}' $prio |
					$SC submit >/dev/null
				read -r id tok _ < <($SC claim --worker w)
				fault=$op:$nth:$err
				faulty $SC $verb "$id" "$tok" outcome.json
				ran=$((ran + 1))
				[ $rc = 0 ] && break
				failures=$((failures + 1))
				check_failure "$verb" "$err"
				# the worker retries without the fault: the claim is still
				# its own (or the first try went through): exit 0
				$SC $verb "$id" "$tok" outcome.json >/dev/null ||
					fail "$verb retried after $fault: exit $?"
				s=$($SC show "$id" --json)
				st=$(echo "$s" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["order"]["state"], (d["outcome"] or {}).get("loss"))')
				case "$verb:$st" in
				"complete:done 1.25"|"fail:new "*) ;;
				*) fail "$verb retried after $fault: order is '$st'";;
				esac
			done
		done
	done
done
# --- the other write paths: hold, release, cancel, requeue, renew, reap, ingest ---
# Each fails with a clear message, leaves the order in one state, and works
# once the fault is gone.
state() { $SC show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["state"])'; }
# person ID VERB WANT: VERB under the fault fails; the order stays put or moved
# whole; without the fault the change is made (or was made already)
person() {
	local id=$1 verb=$2 want=$3 st
	faulty $SC "$verb" "$id"
	ran=$((ran + 1))
	[ $rc != 0 ] || fail "$verb with $fault: exit 0"
	failures=$((failures + 1))
	check_failure "$verb" "$err"
	st=$(state "$id")
	[ "$st" = "$want" ] || $SC "$verb" "$id" || fail "$verb after $fault: exit $? (order was $st)"
	assert_eq "$want" "$(state "$id")" "$verb after $fault"
}
for fault in rename:1:EIO fsync:1:ENOSPC; do
	err=${fault##*:}
	id=$(printf '{"scriptName":"nn.py","spool":{"priority":999}}' | $SC submit)
	person "$id" hold held
	person "$id" release new
	person "$id" cancel cancelled
	person "$id" requeue new

	# renew and release of a claim
	read -r cid tok _ < <($SC claim --worker w --lease 60)
	assert_eq "$id" "$cid" "claimed the order under test"
	faulty $SC renew "$id" "$tok" --lease 120
	[ $rc != 0 ] || fail "renew with $fault: exit 0"
	check_failure renew "$err"
	# the claim is still held, under its old or its new deadline
	$SC renew "$id" "$tok" --lease 1 >/dev/null || fail "renew after $fault: exit $?"

	# reap of the expired claim
	for i in $(seq 1 50); do
		[ "$($SC ls assigned --json | python3 -c 'import json,sys,time,datetime as D; print(sum(1 for o in json.load(sys.stdin) if D.datetime.strptime(o["leaseDeadline"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=D.timezone.utc).timestamp() < time.time()))')" -ge 1 ] && break
		sleep 0.1
	done
	faulty $SC reap --grace-ms 0
	[ $rc != 0 ] || fail "reap with $fault: exit 0"
	check_failure reap "$err"
	$SC reap --grace-ms 0 >/dev/null || fail "reap after $fault: exit $?"
	assert_eq new "$(state "$id")" "reaped after $fault"
	$SC cancel "$id"

	# ingest of a dropped file: never lost, taken once the fault is gone
	printf '{"scriptName":"nn.py","drop":"%s"}' "$fault" >"$SPOOL_DIR/new/drop.json"
	faulty $SC ingest
	[ $rc != 0 ] || fail "ingest with $fault: exit 0 ($(cat out))"
	check_failure ingest "$err"
	# a drop taken into tmp/ goes back to new/; fsck --repair also ingests
	$SC fsck --repair --tmp-age 0 >/dev/null || true
	$SC ingest >/dev/null || fail "ingest after $fault: exit $?"
	[ ! -e "$SPOOL_DIR/new/drop.json" ] || fail "drop not ingested after $fault"
	n=$(grep -rl "\"drop\":\"$fault\"" "$SPOOL_DIR/jobs" | wc -l)
	assert_eq 1 "$n" "jobs made of the drop after $fault"
done

echo "$ran faulty commands, $failures failed as they should"
[ "$failures" -ge 40 ] || fail "only $failures injected failures: is the seam working?"

# Afterwards the spool is sound and works.
set +e; $SC fsck --repair --tmp-age 0 >fsck.out; rc=$?; set -e
[ $rc = 0 ] || [ $rc = 5 ] || fail "fsck --repair: exit $rc"
$SC fsck --tmp-age 0 || fail "fsck after repair is not clean"
$CHECK || fail "spool not sound"
id=$($SC submit job.json)
$SC reap --grace-ms 0 >/dev/null
$SC drain --worker final >/dev/null
assert_match "^state +done" "$($SC show "$id")" "the spool works after faults"
[ -z "$(ls "$SPOOL_DIR/tmp")" ] || fail "tmp/ not clean after repair: $(ls "$SPOOL_DIR/tmp")"
echo ok
