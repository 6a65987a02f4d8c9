#!/usr/bin/env bash
# A dropped file taken for ingesting (renamed to tmp/STAMP.drop.NAME) is young
# from the moment it was taken, not from when its writer last changed it: a
# recovery (fsck --repair, spoold's rescan, a runner's reaper) leaves it to
# the ingest under way, and puts it back into new/ only once it is stale.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool sp"
$SC init
echo '{"scriptName":"s.sh","n":1}' >sp/new/drop-1.json
touch -d '3 hours ago' sp/new/drop-1.json	# written long ago, waiting
# an ingester takes it (the rename it makes), and is still at work
stamp=0123456789abcdef01234567
mv sp/new/drop-1.json "sp/tmp/$stamp.drop.drop-1.json"
$SC fsck --repair >fsck1.out 2>&1 || true
[ -e "sp/tmp/$stamp.drop.drop-1.json" ] || fail "a drop taken a moment ago was moved: $(cat fsck1.out)"
[ ! -e sp/new/drop-1.json ] || fail "a drop taken a moment ago went back to new/: $(cat fsck1.out)"
assert_match 'left alone' "$(cat fsck1.out)" "fsck's note"
# once stale (here: any age), the drop that was never ingested goes back
# (and fsck ingests it: one job, one order)
$SC fsck --repair --tmp-age 0 >fsck2.out 2>&1 || true
assert_match 'back to new/drop-1.json' "$(cat fsck2.out)" "fsck, with the drop stale"
assert_eq 1 "$(ls sp/new | wc -l)" "orders in new/"
assert_eq 0 "$(ls sp/tmp | wc -l)" "files left in tmp/"
echo ok
