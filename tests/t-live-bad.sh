#!/usr/bin/env bash
# Live logs, bad and edge input against a real spoold: appends by offset
# are idempotent for a retry, a gap or an overlap is 409 with the current
# size, an offset past the end of a read is 416, a series chunk that is not
# whole lines is 400, live output from a token that holds no claim is 409;
# a log over the 8 MiB cap is cut with the marker once; a runner's log over
# its --log-max: the head arrives live and the final log starts with it
# byte for byte; a series over 10,000 lines ends with {"truncated": true}.
. "$TOP/tests/lib.sh"
mkdir scripts
cat >scripts/big.py <<'S'
import json, os, sys, time
job = json.loads(sys.argv[1])
sys.stdout.write(("x" * 99 + "\n") * 1000)   # 100,000 bytes
sys.stdout.flush()
while not os.path.exists(job["go"]):
    time.sleep(0.05)
print("the end")
print(json.dumps({"loss": 1}))
S
cat >scripts/many.py <<'S'
import json
for i in range(10050):
    print(json.dumps({"step": i, "loss": 1.0}))
print(json.dumps({"loss": 1.0}))
S
start_spoold "$TESTDIR/spool"
submit() { curl -sf -XPOST "$URL/v1/jobs" -d "$1" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])"; }
code() { curl -s -o body -w '%{http_code}' "$@"; }
hdr() { curl -s -o /dev/null -D - "$1" | tr -d '\r' | sed -n "s/^$2: //Ip"; }
field() { python3 -c "import json,sys; print(json.load(open('body'))[sys.argv[1]])" "$1"; }

# --- the offset rule, by hand with a claim ---------------------------------------
id=$(submit '{"scriptName":"none.sh"}')
tok=$(curl -sf -XPOST "$URL/v1/claim?worker=hand" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
L="$URL/v1/orders/$id/log?token=$tok"
assert_eq 200 "$(code -XPOST "$L&offset=0" --data-binary 'abc')" "append at 0"
assert_eq 3 "$(field size)" "size after it"
assert_eq 200 "$(code -XPOST "$L&offset=0" --data-binary 'abc')" "the same append again (a retry)"
assert_eq 3 "$(field size)" "a retry adds nothing"
assert_eq 409 "$(code -XPOST "$L&offset=5" --data-binary 'zz')" "a gap"
assert_eq 3 "$(field size)" "a gap's answer says the size"
assert_eq 409 "$(code -XPOST "$L&offset=1" --data-binary 'xyz')" "an overlap"
assert_eq 3 "$(field size)" "an overlap's answer says the size"
assert_eq 200 "$(code -XPOST "$L&offset=3" --data-binary $'def\n')" "append at the end"
assert_eq $'abcdef' "$(curl -sf "$URL/v1/orders/$id/log?offset=0")" "what was appended"
assert_eq "def" "$(curl -sf "$URL/v1/orders/$id/log?offset=3")" "from an offset"
assert_eq 416 "$(code "$URL/v1/orders/$id/log?offset=100")" "a read past the end"
assert_match 'offset 100 is past the end .* \(7 bytes\)' "$(cat body)" "416 says the size"
assert_eq 400 "$(code "$URL/v1/orders/$id/log?offset=-1")" "a negative offset"
assert_eq 400 "$(code "$URL/v1/orders/$id/log?offset=zz")" "a non-numeric offset"
assert_eq 409 "$(code -XPOST "$URL/v1/orders/$id/log?token=0000000000000000&offset=7" --data-binary 'q')" \
	"a token that holds no claim"
S="$URL/v1/orders/$id/series?token=$tok"
assert_eq 400 "$(code -XPOST "$S&offset=0" --data-binary '{"step": 1}')" "a series chunk without its newline"
assert_eq 200 "$(code -XPOST "$S&offset=0" --data-binary $'{"step": 1, "loss": 2}\nnot json\n')" "series append"
assert_eq '[{"step": 1, "loss": 2}]' "$(curl -sf "$URL/v1/orders/$id/metrics" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["points"]))')" \
	"a line that is not JSON is not a point"
assert_eq 404 "$(code "$URL/v1/orders/000000000000000000000000/metrics")" "metrics of no order"

# --- over the 8 MiB cap: cut, the marker once --------------------------------------
MARK=$'\n[spool: log truncated at 8388608 bytes]\n'
head -c $((8 * 1024 * 1024)) /dev/zero | tr '\0' 'y' >big
assert_eq 200 "$(code -XPOST "$L&offset=7" --data-binary @big)" "an append past the cap"
assert_eq 200 "$(code -XPOST "$L&offset=$((7 + 8 * 1024 * 1024))" --data-binary 'more')" "after the cap: taken, dropped"
curl -sf "$URL/v1/orders/$id/log?attempt=1" >capped
assert_eq 1 "$(grep -c '^\[spool: log truncated at 8388608 bytes\]$' capped)" "the marker once"
assert_eq $((8388608 + ${#MARK})) "$(stat -c %s capped)" "8 MiB and the marker line"
assert_eq "$(stat -c %s capped)" "$(hdr "$URL/v1/orders/$id/log?offset=0" X-Spool-Log-Size)" "the size says so"

# --- a runner's --log-max: the head live, the final log starts with it -------------
id2=$(submit "{\"scriptName\":\"big.py\",\"go\":\"$TESTDIR/go\",\"spool\":{\"maxAttempts\":1}}")
"$BIN/runner" --boss "$URL" --scripts scripts --name r1 --outbox ob --workdir "$TESTDIR/w" \
	--log-max 65536 --drain >r1.log 2>&1 &
R=$!
PIDS+=("$R")
WAIT_S=60 wait_for sh -c "[ \"\$(curl -s -o /dev/null -D - '$URL/v1/orders/$id2/log?offset=0' | tr -d '\r' | sed -n 's/^X-Spool-Log-Size: //Ip')\" = 32768 ]"
curl -sf "$URL/v1/orders/$id2/log?offset=0" >live
assert_eq 32768 "$(stat -c %s live)" "the head of the log, live (half of --log-max)"
touch go
wait "$R" || fail "runner exited $?: $(cat r1.log)"
curl -sf "$URL/v1/orders/$id2/log?attempt=1" >final
cmp -n 32768 live final || fail "the final log does not start with the live bytes"
grep -Eq '^\[runner: output truncated: [0-9]+ of 100020 bytes dropped here\]$' final ||
	fail "the final log has no head/tail marker: $(grep -v '^x*$' final)"
grep -q '^the end$' final || fail "the final log has not the tail"

# --- a series over 10,000 lines ----------------------------------------------------
id3=$(submit '{"scriptName":"many.py","spool":{"maxAttempts":1}}')
"$BIN/runner" --boss "$URL" --scripts scripts --name r2 --outbox ob2 --workdir "$TESTDIR/w2" \
	--drain >r2.log 2>&1 || fail "runner: $(cat r2.log)"
assert_eq "10000 True 9999" "$(curl -sf "$URL/v1/orders/$id3/metrics" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d["points"]), d["truncated"], d["points"][-1]["step"])')" "capped at 10,000 points, marked"
assert_eq '{"truncated": true}' "$(tail -n 1 spool/logs/${id3: -2}/$id3.001.series)" "the mark is the last line"
echo ok
