# spoold: every /v1 route, its answer and its status codes, with real curl.
. "$TOP/tests/lib.sh"

grep -q -- '--spool DIR' <<<"$("$BIN/spoold" --help)" || fail "--help does not describe --spool"
assert_exit 1 "$BIN/spoold" --listen 127.0.0.1:0 2>/dev/null

start_spoold "$TESTDIR/sp" --lease 60
[ -d "$TESTDIR/sp/new" ] || fail "the spool was not created"

http GET /healthz;		assert_eq 200 "$CODE" healthz
assert_eq True "$(js 'd["ok"]')" "healthz body"

# ---- submit: one, many, bad ----
http POST /v1/jobs -d '{"scriptName":"nn.py","lr":0.1}'
assert_eq 201 "$CODE" "submit one"; J1=$(js 'd["ids"][0]')
http POST /v1/jobs -d '[{"scriptName":"a.py","loss":1},{"scriptName":"b.py","spool":{"priority":5}},{"scriptName":"c.py"}]'
assert_eq 201 "$CODE" "submit three"; assert_eq 3 "$(js 'len(d["ids"])')" "three ids"
JB=$(js 'd["ids"][1]'); JC=$(js 'd["ids"][2]')
http POST /v1/jobs -d '[{"scriptName":"ok.py"},{"noScript":1}]'
assert_eq 400 "$CODE" "bulk with a bad job"; assert_eq 1 "$(js 'd["index"]')" "index of the bad job"
http POST /v1/jobs -d '{"scriptName":"x.py",}';	assert_eq 400 "$CODE" "trailing comma"
assert_match 'JSON' "$(js 'd["error"]')" "bad JSON message"
http POST /v1/jobs -d '"just a string"';	assert_eq 400 "$CODE" "not an object"
http POST /v1/jobs -d '[]';			assert_eq 400 "$CODE" "empty array"
http POST /v1/jobs -d '{"scriptName":"x.py","spool":{"bogus":1}}'; assert_eq 400 "$CODE" "unknown option"
http GET "/v1/orders?state=new";		assert_eq 200 "$CODE" "list new"
assert_eq 4 "$(js 'len(d)')" "nothing of the bad submits was stored"
# a job naming its own id keeps it; submitting it again adds nothing
OWN=abcdef0123456789abcdef01
http POST /v1/jobs -d "[{\"_id\":\"$OWN\",\"scriptName\":\"own.py\"},{\"_id\":\"$OWN\",\"scriptName\":\"own.py\"}]"
assert_eq "201 $OWN $OWN" "$CODE $(js '" ".join(d["ids"])')" "own id kept"
http POST /job/create -d "{\"_id\":\"$OWN\",\"scriptName\":\"own.py\"}"
assert_eq "201 $OWN" "$CODE $(js 'd["_id"]')" "own id again, seed route"
http GET "/v1/orders?state=new";	assert_eq 5 "$(js 'len(d)')" "one order for the own-id job"
http POST "/v1/orders/$OWN/hold";	assert_eq 200 "$CODE" "hold the own-id job out of the way"

# ---- reads ----
http GET "/v1/jobs/$J1";	assert_eq 200 "$CODE" "get job"
assert_eq "$J1 nn.py" "$(js 'd["_id"]+" "+d["scriptName"]')" "job document"
http GET "/v1/orders/$J1";	assert_eq 200 "$CODE" "get order"
assert_eq "unassigned new" "$(js 'd["status"]+" "+d["state"]')" "order state"
http GET "/v1/jobs/000000000000000000000000";	assert_eq 404 "$CODE" "unknown job"
http GET "/v1/orders/nothex";			assert_eq 400 "$CODE" "bad id"
http GET "/v1/outcomes/$J1";			assert_eq 404 "$CODE" "no outcome yet"
http GET "/v1/orders?state=bogus";		assert_eq 400 "$CODE" "bad state"
http GET "/v1/orders?limit=2";			assert_eq 2 "$(js 'len(d)')" "limit"
http GET "/v1/orders?limit=0";			assert_eq 400 "$CODE" "limit 0"

# ---- claim (priority first), heartbeat, complete, duplicate, stale ----
http POST "/v1/claim?worker=w1&wait=0"
assert_eq 200 "$CODE" claim; assert_eq "$JB" "$(js 'd["order"]["_id"]')" "priority 5 is claimed first"
T=$(js 'd["token"]'); assert_eq 1 "$(js 'd["attempt"]')" attempt
assert_eq b.py "$(js 'd["job"]["scriptName"]')" "claim carries the job"
assert_eq "$T" "$(js 'd["order"]["token"]')" "order carries the token"
[ "$(js 'd["leaseDeadlineMs"]')" -gt "$(date +%s)000" ] || fail "lease deadline in the past"
http POST "/v1/claim?wait=0";			assert_eq 400 "$CODE" "claim without worker"
http POST "/v1/claim?worker=../x&wait=0";	assert_eq 400 "$CODE" "bad worker"
http POST "/v1/claim?worker=w1&tags=a,,b,%2F&wait=0"; assert_eq 400 "$CODE" "bad tags"
http POST "/v1/orders/$JB/heartbeat?token=$T&lease=120"; assert_eq 200 "$CODE" heartbeat
D1=$(js 'd["leaseDeadlineMs"]')
http POST "/v1/orders/$JB/heartbeat" -H "X-Spool-Token: $T"; assert_eq 200 "$CODE" "heartbeat by header"
http POST "/v1/orders/$JB/heartbeat?token=0123456789abcdef"; assert_eq 409 "$CODE" "heartbeat stale token"
http POST "/v1/orders/$JB/heartbeat";		assert_eq 400 "$CODE" "heartbeat without token"
http POST "/v1/orders/$JB/heartbeat?token=xyz";	assert_eq 400 "$CODE" "malformed token"
http POST "/v1/orders/$JB/log?token=$T&attempt=1" --data-binary $'line one\nline two\n'
assert_eq 200 "$CODE" "log put"
http POST "/v1/orders/$JB/complete?token=$T" -d 'not json';	assert_eq 400 "$CODE" "complete bad JSON"
http POST "/v1/orders/$JB/complete?token=$T" -d '{"status":200,"loss":0.25}'
assert_eq 200 "$CODE" complete; assert_eq done "$(js 'd["state"]')" "completed state"
http POST "/v1/orders/$JB/complete?token=$T" -d '{"status":200,"loss":0.25}'
assert_eq 200 "$CODE" "repeat complete"; assert_eq True "$(js 'd["duplicate"]')" "duplicate flag"
http POST "/v1/orders/$JB/complete?token=0123456789abcdef" -d '{"status":200,"loss":9}'
assert_eq 409 "$CODE" "complete with a wrong token"
grep -q "^$JB\..*\.0123456789abcdef\.json$" <<<"$(ls "$TESTDIR/sp/late/")" || fail "stale outcome not kept in late/"
http GET "/v1/outcomes/$JB";	assert_eq 200 "$CODE" outcome; assert_eq 0.25 "$(js 'd["loss"]')" "the real outcome stands"
http GET "/v1/orders/$JB/log";	assert_eq 200 "$CODE" "log get"
grep -q 'line two' <<<"$BODY" || fail "log content: $BODY"

# ---- fail: retried, then failed for good ----
http POST "/v1/jobs" -d '{"scriptName":"f.py","spool":{"maxAttempts":2,"priority":9}}'; JF=$(js 'd["ids"][0]')
for want in "new True" "failed False"; do
	http POST "/v1/claim?worker=w2&wait=0";	assert_eq "$JF" "$(js 'd["order"]["_id"]')" "claim the failing job"
	T=$(js 'd["token"]'); A=$(js 'd["attempt"]')
	http POST "/v1/orders/$JF/fail?token=$T" -d '{"status":500,"error":"exit 3"}'
	assert_eq 200 "$CODE" fail; assert_eq "$want" "$(js 'd["state"]+" "+str(d["retried"])')" "fail answer"
	http POST "/v1/orders/$JF/log?token=$T&attempt=$A" --data-binary "log of attempt $A"
	assert_eq 200 "$CODE" "log after the attempt failed"
done
http POST "/v1/orders/$JF/log?token=fedcba9876543210&attempt=1" -d 'forged'
assert_eq 409 "$CODE" "log under a token that never held the order"
http GET "/v1/orders/$JF/log"
grep -q 'log of attempt 2' <<<"$BODY" || fail "logs of both attempts: $BODY"
http POST "/v1/orders/$JF/fail?token=$T" -d '{"status":500,"error":"exit 3"}'
assert_eq 200 "$CODE" "repeat fail"; assert_eq True "$(js 'd["duplicate"]')" "repeat fail is a duplicate"
http GET "/v1/orders/$JF"; assert_eq failed "$(js 'd["state"]')" "failed order"

# ---- release (give back), hold, un-hold, requeue, cancel ----
http POST "/v1/claim?worker=w3&wait=0"; JR=$(js 'd["order"]["_id"]'); T=$(js 'd["token"]')
http POST "/v1/orders/$JR/release?token=$T";	assert_eq 200 "$CODE" release; assert_eq new "$(js 'd["state"]')" "released"
http GET "/v1/orders/$JR"; assert_eq 0 "$(js 'd["attempt"]')" "release counts no attempt"
http POST "/v1/orders/$JR/hold";	assert_eq 200 "$CODE" hold; assert_eq held "$(js 'd["state"]')" held
http POST "/v1/orders/$JR/hold";	assert_eq 409 "$CODE" "hold twice"
http POST "/v1/orders/$JR/release";	assert_eq 200 "$CODE" "un-hold"; assert_eq new "$(js 'd["state"]')" "un-held"
http POST "/v1/orders/$JR/release";	assert_eq 409 "$CODE" "un-hold of a queued order"
http POST "/v1/orders/$JF/requeue";	assert_eq 200 "$CODE" requeue; assert_eq new "$(js 'd["state"]')" requeued
http POST "/v1/orders/$JC/cancel";	assert_eq 200 "$CODE" cancel; assert_eq cancelled "$(js 'd["state"]')" cancelled
http POST "/v1/orders/000000000000000000000000/cancel"; assert_eq 404 "$CODE" "cancel unknown"

# a released order is claimable again at once, a cancelled one never
http POST "/v1/claim?worker=w4&wait=0"; assert_eq 200 "$CODE" "claim after release"
seen=$(js 'd["order"]["_id"]')
for i in 1 2 3 4; do
	http POST "/v1/claim?worker=w4&wait=0"; [ "$CODE" = 204 ] && break
	seen="$seen $(js 'd["order"]["_id"]')"
done
assert_eq 204 "$CODE" "queue drained"
case " $seen " in *" $JC "*) fail "cancelled order was claimed";; esac
case " $seen " in *" $JR "*) ;; *) fail "released order $JR not claimed again: $seen";; esac

# ---- workers, stats, leaderboard, metrics ----
http POST /v1/workers -d '{"name":"gpu1","slots":2,"tags":["gpu"]}'; assert_eq 200 "$CODE" "worker put"
http POST /v1/workers -d '{"slots":2}';		assert_eq 400 "$CODE" "worker without name"
http POST /v1/workers -d '{"name":"../etc"}';	assert_eq 400 "$CODE" "worker bad name"
http GET /v1/workers; assert_eq 200 "$CODE" workers
assert_eq "gpu1 2" "$(js '" ".join(str(x) for x in [d[0]["name"], d[0]["slots"]])')" "worker record"
http GET /v1/stats; assert_eq 200 "$CODE" stats
assert_eq 1 "$(js 'd["orders"]["done"]')" "stats done"
assert_eq 1 "$(js 'd["orders"]["cancelled"]')" "stats cancelled"
http GET "/v1/leaderboard?key=loss&order=asc&limit=5"; assert_eq 200 "$CODE" leaderboard
assert_eq "$JB 0.25 b.py" "$(js 'd["rows"][0]["id"]+" "+str(d["rows"][0]["value"])+" "+d["rows"][0]["job"]["scriptName"]')" "leaderboard row"
http GET "/v1/leaderboard?order=sideways";	assert_eq 400 "$CODE" "leaderboard bad order"
http GET /metrics; assert_eq 200 "$CODE" metrics
for m in 'spool_orders{state="done"} 1' 'spool_claims_total' 'spool_completions_total 1' \
	 'spool_failures_total 2' 'spool_expired_leases_total' ',code="409"} ' \
	 'spool_http_request_duration_seconds_bucket{route="/v1/claim",method="POST",le="+Inf"}'; do
	grep -qF -- "$m" <<<"$BODY" || fail "metrics lack '$m'"
done

# ---- the web page ----
ct=$(curl -sS -o page.html -w '%{content_type}' "$URL/")
assert_eq "text/html; charset=utf-8" "$ct" "page content type"
grep -q 'src="/static/app.js"' page.html || fail "the page does not load its script from spoold"
curl -sS -o app.js "$URL/static/app.js"
grep -q '/v1/results' app.js || fail "the page's script does not read the results"

# ---- methods and paths ----
http GET /v1/jobs;		assert_eq 405 "$CODE" "GET /v1/jobs"
http DELETE "/v1/orders/$J1";	assert_eq 405 "$CODE" "DELETE order"
http GET /nowhere;		assert_eq 404 "$CODE" "unknown path"
allow=$(curl -s -D - -o /dev/null -X PUT "$URL/v1/claim" | tr -d '\r' | sed -n 's/^Allow: //p')
assert_eq POST "$allow" "Allow header of 405"

# ---- the reaper: an expired lease goes back to new/ ----
http POST /v1/jobs -d '{"scriptName":"r.py","spool":{"priority":100}}'; JX=$(js 'd["ids"][0]')
http POST "/v1/claim?worker=w5&wait=0&lease=1"; assert_eq "$JX" "$(js 'd["order"]["_id"]')" "claim to expire"
reaped() { http GET "/v1/orders/$JX"; [ "$(js 'd["state"]')" = new ]; }
wait_for reaped
http GET /v1/stats; [ "$(js 'd["expiredLeases"]')" -ge 1 ] || fail "expired leases not counted"

kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0 on SIGTERM"
echo ok
