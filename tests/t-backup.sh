#!/usr/bin/env bash
# Backup: `tar` of a live spool while a submit/claim/complete loop runs,
# restored into a new directory, `fsck --repair`: every job whose submit
# returned before tar started is there, in exactly one state, with its job;
# the restored spool is sound (tests/spoolcheck.py) and works. Three rounds,
# at different moments of the churn.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool

$SC init
python3 -c "
import json
print(json.dumps([{'scriptName': 'nn.py', 'n': i, 'pad': 'x' * 200} for i in range(1500)]))" >seed.json
$SC submit seed.json >ids.live
printf '{"scriptName":"nn.py","pad":"%0300d"}' 0 >job.json

submitter() {
	while [ ! -e stop ]; do $SC submit job.json >>ids.live 2>>err.s || true; done
}
drainer() {	# claim and complete, a few at a time; stop when told
	while [ ! -e stop ]; do
		$SC drain --worker "$1" --max 20 >>"log.$1" 2>>"err.$1" || true
	done
}
submitter & PIDS+=($!); loops=($!)
drainer d1 & PIDS+=($!); loops+=($!)
drainer d2 & PIDS+=($!); loops+=($!)
# the loops are running once both kinds of change are seen
wait_for grep -q '^done ' log.d1
wait_for sh -c 'test "$(wc -l <ids.live)" -gt 1505'

for round in 1 2 3; do
	# what had returned before tar starts: whole lines only
	grep -E '^[0-9a-f]{24}$' ids.live >"before.$round"
	set +e; tar -C "$TESTDIR" -cf "backup.$round.tar" spool 2>"tar.$round.err"; rc=$?; set -e
	# 1: "file changed as we read it" and the like, expected of a live spool
	[ $rc -le 1 ] || fail "tar exited $rc: $(cat "tar.$round.err")"
	echo "round $round: $(wc -l <"before.$round") ids before tar; tar said $(wc -l <"tar.$round.err") lines"
	sleep 0.$((RANDOM % 3 + 1))
done
touch stop
for p in "${loops[@]}"; do wait "$p" || true; done
if grep -h -v 'nothing to claim' err.* 2>/dev/null | grep -q .; then
	fail "the loops reported errors: $(grep -h -v 'nothing to claim' err.* | head)"
fi

for round in 1 2 3; do
	r=$TESTDIR/restore.$round
	mkdir "$r"
	tar -C "$r" -xf "backup.$round.tar"
	set +e; $SC --spool "$r/spool" fsck --repair --tmp-age 0 >"fsck.$round"; rc=$?; set -e
	[ $rc = 0 ] || [ $rc = 5 ] || fail "round $round: fsck --repair exited $rc"
	echo "round $round: fsck --repair found $(wc -l <"fsck.$round") things"
	{ grep -v 'stale temporary file' "fsck.$round" || true; } | sed -n '1,5s/^/  /p'
	python3 "$TOP/tests/spoolcheck.py" "$r/spool" --ids "before.$round" --restored --quiet ||
		fail "round $round: a job submitted before tar is missing from the restore"
	$SC --spool "$r/spool" fsck --tmp-age 0 >/dev/null ||
		fail "round $round: fsck after repair not clean: $($SC --spool "$r/spool" fsck --tmp-age 0)"
	# the restored spool works
	$SC --spool "$r/spool" reap --grace-ms 0 >/dev/null
	# (exit 3: nothing left to claim, when the drainers had caught up at tar time)
	set +e; $SC --spool "$r/spool" drain --worker after >/dev/null; rc=$?; set -e
	[ $rc = 0 ] || [ $rc = 3 ] || fail "round $round: drain of the restored spool exited $rc"
done
echo ok
