#!/usr/bin/env bash
# What an NFS client does to a spool, one fault at a time (tests/nfsfs), and
# what the spool's programs must make of it:
#  1. a link answered EEXIST although it was made (a retransmitted request):
#     a submitted job is queued, not taken for a duplicate and left without
#     its order;
#  2. a rename answered ENOENT although it was made: renewing, cancelling,
#     claiming and completing all see that it was made;
#  3. a read answered ESTALE (a stale file handle): a claim reads the order
#     again rather than fail;
#  4. a listing cut short by ESTALE: completing a claim still finds it, and
#     does not take it for lost (its outcome moved to late/);
#  5. a runner's reads answered ESTALE: the job is read again, never failed
#     for good;
#  6. a claim made on one host and completed from another whose listing of
#     assigned/ is older than the claim: completed, not taken for lost;
#  7. a job resubmitted (same "_id") on a host whose listing of new/ is older
#     than the job's order: nothing added, no second order.
# Each case has a spool of its own; NFS_CASES="2 3" runs only those.
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"
CASES=${NFS_CASES:-1 2 3 4 5 6 7}

mkdir back
nfs_mount back m --ctl "$TESTDIR/ctl" --stats "$TESTDIR/stats"
# fresh N: case N is on (else return 1), on a new spool of its own
fresh() {
	case " $CASES " in *" $1 "*) ;; *) return 1;; esac
	echo "case $1"
	nfs_arm
	SP=m/s$1 BACK=back/s$1
	SC="$BIN/spoolctl --spool $SP"
	$SC init
}
counts() { $SC ls --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s=%d" % (k, d[k]) for k in ("new", "assigned", "done", "failed")))'; }

# 1. link made, answered EEXIST: the job (published by link on NFS) is queued
if fresh 1; then
echo '{"scriptName":"s.sh","case":1}' >job1.json
nfs_arm 'link eexist-after #1'
id1=$($SC submit job1.json)
assert_eq 1 "$(nfs_fired 'link eexist-after #1')" "link fault fired"
assert_eq "new=1 assigned=0 done=0 failed=0" "$(counts)" "the job submitted through a link answered EEXIST"

fi

# 2. renames made, answered ENOENT
if fresh 2; then
echo '{"scriptName":"s.sh","case":1}' >job1.json
id1=$($SC submit job1.json)
read -r cid tok att < <($SC claim --worker w1 | head -1)
assert_eq "$id1" "$cid" "claimed"
before=$(ls $BACK/assigned)
nfs_arm 'rename enoent-after #1'
$SC renew "$cid" "$tok" --lease 900 >renew.out 2>&1 || fail "renew of a held claim: $(cat renew.out)"
assert_eq 1 "$(nfs_fired 'rename enoent-after #1')" "rename fault fired (renew)"
after=$(ls $BACK/assigned)
[ "$before" != "$after" ] || fail "the lease was not renewed: $after"
nfs_arm 'rename enoent-after #1'
printf '{"status":200}' | $SC complete "$cid" "$tok" - >complete.out 2>&1 || fail "complete: $(cat complete.out)"
assert_eq "new=0 assigned=0 done=1 failed=0" "$(counts)" "completed through a rename answered ENOENT"
assert_eq 0 "$(find $BACK/late -type f | wc -l)" "late outcomes"

echo '{"scriptName":"s.sh","case":2}' >job2.json
id2=$($SC submit job2.json)
nfs_arm 'rename enoent-after #1'
$SC cancel "$id2" >cancel.out 2>&1 || fail "cancel: $(cat cancel.out)"
assert_eq 1 "$(ls $BACK/cancelled/*/ | grep -c "$id2")" "cancelled"

echo '{"scriptName":"s.sh","case":3}' >job3.json
id3=$($SC submit job3.json)
nfs_arm 'rename enoent-after #1'
out=$($SC claim --worker w2 | head -1) || fail "claim through a rename answered ENOENT"
assert_eq "$id3" "${out%% *}" "claimed through a rename answered ENOENT"
read -r _ tok3 _ <<<"$out"
printf '{"status":200}' | $SC complete "$id3" "$tok3" - >/dev/null
fi

# 3. a read answered ESTALE: the claim reads the order again
if fresh 3; then
echo '{"scriptName":"s.sh","case":3}' >job4.json
id4=$($SC submit job4.json)
nfs_arm 'read estale #1'
out=$($SC claim --worker w3 2>&1 | head -1) || fail "claim with a stale read: $out"
assert_eq 1 "$(nfs_fired 'read estale #1')" "read fault fired (claim)"
assert_eq "$id4" "${out%% *}" "claimed with a stale read"
fi

# 5. every fourth read of a runner answered ESTALE (one slot: nothing else
# reads): it runs every job once and files it done
if fresh 5; then
mkdir scripts
printf '#!/bin/sh\necho "$SPOOL_JOB_ID $SPOOL_ATTEMPT" >>"%s/ran"\necho "{\\"loss\\":1}"\n' "$TESTDIR" >scripts/s.sh
chmod +x scripts/s.sh
python3 -c "
import json
print(json.dumps([{'scriptName': 's.sh', 'n': i} for i in range(10)]))" >jobs.json
$SC submit jobs.json >ids
rules=()
for k in $(seq 2 4 126); do rules+=("read estale #$k"); done
nfs_arm "${rules[@]}"
"$BIN/runner" --spool $SP --scripts scripts --name r1 --slots 1 --drain --poll-ms 20 \
	--workdir "$TESTDIR/work" 2>runner.log || fail "runner: $(tail -5 runner.log)"
n=$(awk '/^read estale/ { n += $NF } END { print n + 0 }' stats)
[ "$n" -ge 10 ] || fail "only $n stale reads: $(cat stats)"
assert_eq "new=0 assigned=0 done=10 failed=0" "$(counts)" "every job done despite $n stale reads"
assert_eq 10 "$(sort -u ran | wc -l)" "runs"
assert_eq 10 "$(awk '$2 == 1' ran | wc -l)" "runs that were a first attempt"
fi

# 4. a listing of assigned/ cut short by ESTALE while completing
if fresh 4; then
echo '{"scriptName":"s.sh","case":4}' >job5.json
id5=$($SC submit job5.json)
read -r cid5 tok5 _ < <($SC claim --worker w4 | head -1)
nfs_arm 'readdir estale #1'
printf '{"status":200}' | $SC complete "$cid5" "$tok5" - >complete5.out 2>&1 ||
	fail "complete after a stale listing: $(cat complete5.out)"
assert_eq 1 "$(nfs_fired 'readdir estale #1')" "readdir fault fired"
assert_eq "new=0 assigned=0 done=1 failed=0" "$(counts)" "completed after a stale listing"
assert_eq 0 "$(find $BACK/late -type f | wc -l)" "late outcomes"
nfs_arm
$SC fsck >fsck.out || fail "fsck: $(cat fsck.out)"
fi

# 6, 7: two hosts whose listings are cached for 10 minutes
case " $CASES " in *" 6 "*|*" 7 "*)
	nfs_mount back ha --dir-ms 600000
	nfs_mount back hb --dir-ms 600000
	SA="$BIN/spoolctl --spool ha/s67" SB="$BIN/spoolctl --spool hb/s67"
	$SA init
	ls hb/s67/new hb/s67/assigned >/dev/null	# hb's listings, from before
	;;
esac
if fresh 6; then
	echo '{"scriptName":"s.sh","case":6}' >job6.json
	id6=$($SA submit job6.json)
	read -r cid6 tok6 _ < <($SA claim --worker on-a | head -1)
	assert_eq "$id6" "$cid6" "claimed on host a"
	printf '{"status":200}' | $SB complete "$cid6" "$tok6" - >complete6.out 2>&1 ||
		fail "complete on host b: $(cat complete6.out)"
	assert_eq 1 "$(ls back/s67/done/*/ | grep -c "$id6")" "done"
	assert_eq 0 "$(find back/s67/late -type f | wc -l)" "late outcomes"
fi
if fresh 7; then
	printf '{"_id":"%s","scriptName":"s.sh","case":7}\n' 0123456789abcdef01234567 >job7.json
	ls hb/s67/new >/dev/null
	$SA submit job7.json >/dev/null
	$SB submit job7.json >/dev/null
	assert_eq 1 "$(ls back/s67/new | grep -c 0123456789abcdef01234567)" "orders of the job resubmitted on host b"
fi
echo ok
