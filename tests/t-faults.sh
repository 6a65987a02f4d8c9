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
