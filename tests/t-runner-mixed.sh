#!/usr/bin/env bash
# 3 runners x 4 slots on one spool, two remote (through spoold) and one
# local (straight on the spool directory), all with --drain, on 500 short
# jobs: every job runs once and is completed exactly once, and every
# runner exits 0 when the queue is empty.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
N=${MIXED_JOBS:-500}
mkdir scripts
cat >scripts/short.sh <<'S'
#!/bin/sh
echo "$SPOOL_JOB_ID $SPOOL_ATTEMPT $SPOOL_WORKER" >>"$SPOOL_WORKDIR/../../ran"
echo "{\"loss\":$SPOOL_SLOT}"
S
chmod +x scripts/short.sh
$SC init
python3 -c "
import json
print(json.dumps([{'scriptName': 'short.sh', 'n': i} for i in range($N)]))" >jobs.json
$SC submit jobs.json >submitted
assert_eq "$N" "$(sort -u submitted | wc -l)" "submitted"

start_spoold "$TESTDIR/spool"
start=$(date +%s%N)
pids=()
for r in r1 r2; do
	"$BIN/runner" --boss "$URL" --scripts scripts --name $r --slots 4 --drain \
		--outbox "$TESTDIR/ob-$r" --workdir "$TESTDIR/work-$r" 2>$r.log &
	pids+=($!); PIDS+=($!)
done
"$BIN/runner" --spool spool --scripts scripts --name r3 --slots 4 --drain --poll-ms 20 \
	--workdir "$TESTDIR/work-r3" 2>r3.log &
pids+=($!); PIDS+=($!)
for i in 0 1 2; do
	wait "${pids[$i]}" || fail "runner r$((i + 1)) exited $?: $(tail -5 r$((i + 1)).log)"
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))

assert_eq "$N" "$(wc -l <ran)" "runs"
assert_eq "$N" "$(cut -d' ' -f1 ran | sort -u | wc -l)" "distinct jobs run"
assert_eq "$N" "$(awk '$2 == 1' ran | wc -l)" "runs that were a first attempt"
assert_eq "$(sort submitted)" "$(cut -d' ' -f1 ran | sort)" "the jobs run are the jobs submitted"
assert_eq "$N" "$(find spool/done -type f | wc -l)" "orders done"
assert_eq "$N" "$(find spool/outcomes -type f -name '*.json' | wc -l)" "outcomes filed"
assert_eq 0 "$(find spool/late -type f 2>/dev/null | wc -l)" "late outcomes"
for r in r1 r2 r3; do
	n=$(awk -v r=$r '$3 == r' ran | wc -l)
	echo "$r ran $n"
	[ "$n" -gt 0 ] || fail "runner $r ran nothing"
done
echo "$N jobs through 3 runners x 4 slots in $ms ms"
