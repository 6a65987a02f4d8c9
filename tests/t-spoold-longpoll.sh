# spoold: long-poll claims. A waiting claimer gets a later submit and a file
# cp'd into new/ within milliseconds; waiters are served in arrival order;
# wait expiry is 204; a claimer that hangs up loses nothing; tags and due
# times are honoured; SIGTERM answers held claims 204 and exits 0.
. "$TOP/tests/lib.sh"

# waiting N: spoold holds N long-polls
waiting() { http GET /v1/stats; [ "$(js 'd["waiting"]')" = "$1" ]; }
# claim_bg NAME ARGS: a long-poll in the background; NAME.code gets "status seconds"
claim_bg() {
	local n=$1; shift
	curl -sS -X POST -o "$n.body" -w '%{http_code} %{time_total}\n' "$URL/v1/claim?$*" > "$n.code" &
	PIDS+=($!); eval "${n}_PID=$!"
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

start_spoold "$TESTDIR/sp"

# ---- a waiting claimer gets a later submit at once ----
claim_bg A "worker=a&wait=30"
wait_for waiting 1
t0=$(date +%s%N)
http POST /v1/jobs -d '{"scriptName":"first.py"}'; J1=$(js 'd["ids"][0]')
wait "$A_PID"; ms=$(ms_since "$t0")
read -r code secs < A.code; assert_eq 200 "$code" "waiter answered"
BODY=$(cat A.body); assert_eq "$J1" "$(js 'd["order"]["_id"]')" "waiter got the submitted job"
[ "$ms" -lt 3000 ] || fail "submit to claim took $ms ms"
echo "submit -> waiting claim: $ms ms"

# ---- a file cp'd into new/ wakes a waiting claimer ----
claim_bg B "worker=b&wait=30"
wait_for waiting 1
printf '{"scriptName":"dropped.py","epochs":3}\n' > job.json
t0=$(date +%s%N)
cp job.json "$TESTDIR/sp/new/my-job.json"
wait "$B_PID"; ms=$(ms_since "$t0")
read -r code secs < B.code; assert_eq 200 "$code" "drop wakes waiter"
BODY=$(cat B.body); assert_eq dropped.py "$(js 'd["job"]["scriptName"]')" "waiter got the dropped job"
[ "$ms" -lt 3000 ] || fail "drop to claim took $ms ms"
echo "cp into new/ -> waiting claim: $ms ms"

# ---- wait expiry: 204 after about the wait ----
t0=$(date +%s%N)
http POST "/v1/claim?worker=c&wait=1"; ms=$(ms_since "$t0")
assert_eq 204 "$CODE" "wait expiry"; [ -z "$BODY" ] || fail "204 with a body: $BODY"
[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] || fail "wait=1 answered after $ms ms"
http POST "/v1/claim?worker=c&wait=0";	assert_eq 204 "$CODE" "wait=0 with nothing queued"

# ---- arrival order: the first waiter gets the first job ----
claim_bg F1 "worker=f1&wait=30"; wait_for waiting 1
claim_bg F2 "worker=f2&wait=30"; wait_for waiting 2
claim_bg F3 "worker=f3&wait=30"; wait_for waiting 3
for i in 1 2 3; do
	http POST /v1/jobs -d "{\"scriptName\":\"fifo$i.py\"}"
	wait_for waiting $((3 - i))
done
wait "$F1_PID" "$F2_PID" "$F3_PID"
for i in 1 2 3; do
	BODY=$(cat F$i.body); assert_eq "fifo$i.py" "$(js 'd["job"]["scriptName"]')" "waiter $i in arrival order"
done

# ---- a claimer that hangs up is forgotten; its order stays queued ----
claim_bg G "worker=g&wait=30"; wait_for waiting 1
kill "$G_PID"; wait "$G_PID" 2>/dev/null || true
wait_for waiting 0
http POST /v1/jobs -d '{"scriptName":"orphan.py"}'; JO=$(js 'd["ids"][0]')
http GET "/v1/orders/$JO"; assert_eq new "$(js 'd["state"]')" "nobody claimed for the gone claimer"
http POST "/v1/claim?worker=h&wait=0"; assert_eq "$JO" "$(js 'd["order"]["_id"]')" "claimable afterwards"

# ---- tags: an untagged claimer never gets a tagged job ----
claim_bg N "worker=plain&wait=30"; wait_for waiting 1
http POST /v1/jobs -d '{"scriptName":"gpu.py","spool":{"tags":["gpu"]}}'; JG=$(js 'd["ids"][0]')
http POST "/v1/claim?worker=g1&tags=cpu,gpu&wait=5"
assert_eq 200 "$CODE" "tagged claimer"; assert_eq "$JG" "$(js 'd["order"]["_id"]')" "tagged job to the tagged claimer"
waiting 1 || fail "the untagged waiter was answered"
http POST /v1/jobs -d '{"scriptName":"plain.py"}'
wait "$N_PID"; BODY=$(cat N.body); assert_eq plain.py "$(js 'd["job"]["scriptName"]')" "untagged waiter"

# ---- due times: a job not due yet does not block a due one behind it ----
http POST /v1/jobs -d '{"scriptName":"later.py","spool":{"priority":10,"delay":2}}'; JL=$(js 'd["ids"][0]')
http POST /v1/jobs -d '{"scriptName":"now.py","spool":{"priority":-5}}'
http POST "/v1/claim?worker=d&wait=0"; assert_eq now.py "$(js 'd["job"]["scriptName"]')" "due job first"
t0=$(date +%s%N)
http POST "/v1/claim?worker=d&wait=10"; ms=$(ms_since "$t0")
assert_eq "$JL" "$(js 'd["order"]["_id"]')" "delayed job once due"
[ "$ms" -lt 6000 ] || fail "delayed job handed out after $ms ms"

# ---- SIGTERM: held long-polls get 204, spoold exits 0 ----
claim_bg S1 "worker=s1&wait=60"; claim_bg S2 "worker=s2&wait=60"; wait_for waiting 2
kill -TERM "$SPOOLD_PID"
wait "$SPOOLD_PID" || fail "spoold did not exit 0 on SIGTERM"
wait "$S1_PID" "$S2_PID" || true
read -r code secs < S1.code; assert_eq 204 "$code" "held claim at shutdown"
read -r code secs < S2.code; assert_eq 204 "$code" "second held claim at shutdown"
grep -q 'stopping' "$TESTDIR/spoold.log" || fail "no shutdown line in the log"
echo ok
