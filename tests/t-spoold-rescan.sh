# spoold: what inotify does not tell. An invalid drop is rejected by the
# rescan's ingest pass once it has settled; when the inotify queue overflows
# (the daemon stopped while 17,000 orders arrive and 5 indexed ones are
# claimed behind its back) the rescan finds the new orders and sweeps the
# claimed ones out of the index.
. "$TOP/tests/lib.sh"

stat_of() { curl -sS "$URL/v1/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

start_spoold "$TESTDIR/sp" --rescan 1
SP="$TESTDIR/sp"

# the seed's sample job has trailing commas: not JSON, rejected with a reason
printf '{ "scriptName" : "nn.py", "epochs" : 3000, }\n' > "$SP/new/seed-sample.json"
rejected() { compgen -G "$SP/rejected/*.why" >/dev/null; }
wait_for rejected
grep -qi 'comma' "$SP"/rejected/*.why || fail "rejection note: $(cat "$SP"/rejected/*.why)"
grep -Eq "reject 'seed-sample.json'|rejected 1" "$TESTDIR/spoold.log" || fail "no reject line in the log"

# five orders indexed, then the daemon stops seeing anything
curl -sS -X POST "$URL/v1/jobs" -d '[{"scriptName":"a.py"},{"scriptName":"a.py"},{"scriptName":"a.py"},{"scriptName":"a.py"},{"scriptName":"a.py"}]' > five
assert_eq 5 "$(stat_of 'd["queued"]')" "five indexed"
kill -STOP "$SPOOLD_PID"
python3 -c 'import json; print(json.dumps([{"scriptName": "b.py", "i": i} for i in range(17000)]))' > many.json
"$BIN/spoolctl" --spool "$SP" --nosync submit many.json > many.ids
"$BIN/spoolctl" --spool "$SP" drain --worker behind-its-back --max 5 | grep '^claimed' | awk '{print $2}' | sort > taken
python3 -c 'import json,sys; print("\n".join(sorted(json.load(open("five"))["ids"])))' > five.ids
diff five.ids taken > /dev/null || fail "the local claimer did not take the five indexed orders"
kill -CONT "$SPOOLD_PID"

all_there() { [ "$(stat_of 'd["queued"]')" = 17000 ]; }
wait_for all_there
grep -q 'overflowed' "$TESTDIR/spoold.log" || fail "the overflow was not noticed"
assert_eq 17000 "$(stat_of 'd["orders"]["new"]')" "orders in new/"
out=$(curl -sS -X POST "$URL/v1/claim?worker=w&wait=0")
id=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["order"]["_id"])')
assert_eq "$(head -1 many.ids)" "$id" "the first of the 17,000 is claimed next"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
echo ok
