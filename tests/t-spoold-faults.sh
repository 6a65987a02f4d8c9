# spoold: the disk fails (the library's fault seam, SPOOL_FAULT). Requests
# that change the spool get 507/500 with the reason, never a 201/200 that is
# not on disk; the daemon stays up; restarted healthy, it serves what was
# acknowledged before.
. "$TOP/tests/lib.sh"

code_of() { curl -s -o body -w '%{http_code}' "$@"; }

# healthy first: one acknowledged job
start_spoold "$TESTDIR/sp" --quiet
assert_eq 201 "$(code_of -X POST "$URL/v1/jobs" -d '{"scriptName":"kept.py"}')" "healthy submit"
KEPT=$(python3 -c 'import json; print(json.load(open("body"))["ids"][0])')
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID"

# every fsync fails with ENOSPC
export SPOOL_FAULT=fsync:1:ENOSPC
start_spoold "$TESTDIR/sp" --quiet
unset SPOOL_FAULT
assert_eq 507 "$(code_of -X POST "$URL/v1/jobs" -d '{"scriptName":"lost.py"}')" "submit on a full disk"
grep -q 'No space\|durabl' body || fail "507 without the reason: $(cat body)"
assert_eq 507 "$(code_of -X POST "$URL/job/create" -d '{"scriptName":"lost.py"}')" "seed submit on a full disk"
c=$(code_of -X POST "$URL/v1/claim?worker=w&wait=0")
[ "$c" = 507 ] || [ "$c" = 500 ] || fail "claim on a failing disk: expected 507 or 500, got $c"
assert_eq 200 "$(code_of "$URL/healthz")" "healthz on a full disk"
assert_eq 200 "$(code_of "$URL/v1/jobs/$KEPT")" "reads still work"
kill -0 "$SPOOLD_PID" || fail "spoold died"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"

# renames fail with EIO: claims and person changes say so
export SPOOL_FAULT=rename:1:EIO
start_spoold "$TESTDIR/sp" --quiet
unset SPOOL_FAULT
c=$(code_of -X POST "$URL/v1/claim?worker=w&wait=0")
[ "$c" = 500 ] || [ "$c" = 204 ] || fail "claim with failing renames: got $c"
assert_eq 500 "$(code_of -X POST "$URL/v1/orders/$KEPT/hold")" "hold with failing renames"
grep -q 'Input/output error\|EIO\|cannot' body || fail "500 without the reason: $(cat body)"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"

# healthy again: the acknowledged job is served
start_spoold "$TESTDIR/sp" --quiet --rescan 0.2
got() {
	[ "$(code_of -X POST "$URL/v1/claim?worker=w&wait=1")" = 200 ] &&
	[ "$(python3 -c 'import json; print(json.load(open("body"))["order"]["_id"])')" = "$KEPT" ]
}
wait_for got
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
echo ok
