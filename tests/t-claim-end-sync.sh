#!/usr/bin/env bash
# The end of a claim that was synced does not sync new/ again (issue 10):
# a complete, a fail that queues a retry, and a release by spoolctl, traced
# with strace (every fsync and the path of its fd): the complete syncs its
# outcome, outcomes/FF, done/FF and assigned/, never new/; the retry and the
# release rename into new/ and sync it (the order's new name there must be
# durable). Before, every end of a claim synced new/ too: one more fsync
# per complete, for claims that sync nothing, which only spoold used.
. "$TOP/tests/lib.sh"
command -v strace >/dev/null || { echo "SKIP: no strace (make deps installs it)" >&2; exit 77; }
SC="$BIN/spoolctl --spool $TESTDIR/s"
$SC init
echo '{"scriptName":"a.py"}' >job.json
# traced ACTION ARGS...: spoolctl ACTION under strace; the fsynced paths in "synced"
# (LeakSanitizer cannot run under ptrace: the ASan build is traced without it)
traced() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=fsync,fdatasync -y -o trace $SC "$@"; sed -n 's/^.*fsync(\([0-9]*\)<\([^>]*\)>.*/\2/p' trace | sed "s|^$TESTDIR/s/||" >synced; }

id=$($SC submit job.json)
read -r cid tok att < <($SC claim --worker w | head -1)
assert_eq "$id" "$cid" "the claim"
echo '{"loss": 1}' >out.json
traced complete "$id" "$tok" out.json
grep -q '^done/' synced || fail "the complete synced no done/ directory: $(tr '\n' ' ' <synced)"
grep -q '^assigned$' synced || fail "the complete did not sync assigned/: $(tr '\n' ' ' <synced)"
! grep -q '^new$' synced || fail "the complete of a synced claim synced new/: $(tr '\n' ' ' <synced)"
counts() { $SC ls --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s=%d" % (k, d[k]) for k in ("new", "assigned", "done")))'; }
assert_eq "new=0 assigned=0 done=1" "$(counts)" "after the complete"

# a fail with attempts left, and a release: their renames go into new/
id=$($SC submit job.json)
read -r cid tok att < <($SC claim --worker w | head -1)
echo '{"status": 500}' >bad.json
traced fail "$id" "$tok" bad.json
grep -q '^new$' synced || fail "a retry's fail did not sync new/: $(tr '\n' ' ' <synced)"
read -r cid tok att < <($SC claim --worker w | head -1)
assert_eq "$id" "$cid" "the retry claimed"
traced release "$id" "$tok"
grep -q '^new$' synced || fail "a release did not sync new/: $(tr '\n' ' ' <synced)"
assert_eq "new=1 assigned=0 done=1" "$(counts)" "after the release"
echo "ok"
