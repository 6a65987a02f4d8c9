# spoold --sync: the default acknowledges only what is on disk; interval=MS
# acknowledges at once and flushes (syncfs) within MS of the first change
# not yet flushed; none never flushes. Bad values are refused with a reason.
# And the start: a claim that would not wait, sent as soon as spoold
# listens, gets an order of a spool that is still being loaded.
. "$TOP/tests/lib.sh"

stat_of() { curl -sS "$URL/v1/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

"$BIN/spoold" --help | grep -q -- '--sync interval=MS' || fail "--help does not describe --sync interval=MS"
"$BIN/spoold" --help | grep -qi 'before' || fail "--help does not say interval acknowledges before the flush"
for bad in sometimes interval= interval=0 interval=10001 interval=5x; do
	set +e; "$BIN/spoold" --spool "$TESTDIR/x" --sync "$bad" 2>err; rc=$?; set -e
	[ "$rc" != 0 ] || fail "--sync $bad accepted"
	grep -q -- '--sync' err || fail "--sync $bad refused without a reason: $(cat err)"
done

# interval: answered, then flushed, with no further request
start_spoold "$TESTDIR/sp" --sync interval=50 --quiet
code=$(curl -s -o job -w '%{http_code}' -X POST "$URL/v1/jobs" -d '{"scriptName":"a.py"}')
assert_eq 201 "$code" "submit with --sync interval=50"
flushed() { [ "$(stat_of 'd["unflushed"]')" = False ] && [ "$(stat_of 'd["flushes"]')" -ge 1 ]; }
wait_for flushed
id=$(python3 -c 'import json; print(json.load(open("job"))["ids"][0])')
curl -sS -X POST "$URL/v1/claim?worker=w&wait=0" >claim
tok=$(python3 -c 'import json; print(json.load(open("claim"))["token"])')
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v1/orders/$id/complete?token=$tok" -d '{"loss":1}')" "complete"
wait_for flushed
[ -n "$(ls "$TESTDIR/sp/done/"*/*"$id"* 2>/dev/null || ls "$TESTDIR/sp/done/" | grep "$id")" ] || fail "order $id not in done/"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"

# always (the default) and none: no flush timer at all
for mode in always none; do
	start_spoold "$TESTDIR/sp-$mode" --sync "$mode" --quiet
	assert_eq 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v1/jobs" -d '{"scriptName":"a.py"}')" "submit with --sync $mode"
	assert_eq 0 "$(stat_of 'd["flushes"]')" "--sync $mode flushes nothing by timer"
	assert_eq False "$(stat_of 'd["unflushed"]')" "--sync $mode leaves nothing to flush"
	kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
done

# the start: 2,000 queued; claims that do not wait, sent at once, get orders
python3 -c 'import json; print(json.dumps([{"scriptName": "b.py", "i": i} for i in range(2000)]))' >many.json
"$BIN/spoolctl" --spool "$TESTDIR/big" init >/dev/null
"$BIN/spoolctl" --spool "$TESTDIR/big" --nosync submit many.json >many.ids
start_spoold "$TESTDIR/big" --quiet
assert_eq 200 "$(curl -s -o c1 -w '%{http_code}' -X POST "$URL/v1/claim?worker=w&wait=0")" "a claim sent as spoold starts"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/bored/seedw")" "a /bored sent as spoold starts"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" "healthz"
loaded() { [ "$(stat_of 'd["queued"]')" = 1998 ]; }
wait_for loaded
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
echo ok
