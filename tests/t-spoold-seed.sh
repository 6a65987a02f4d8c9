# spoold: the seed article's routes and JSON shapes, and a worker that follows
# the seed's protocol exactly (bored -> retrieve job -> run script -> callback).
. "$TOP/tests/lib.sh"

start_spoold "$TESTDIR/sp" --seed-lease 7200

# ---- shapes ----
http POST /bored/idle-node
assert_eq 200 "$CODE" "bored with no work"; assert_match 'No work' "$(js 'd["message"]')" "no-work message"
http POST /job/create -H 'Content-Type: application/json' \
	-d '{"scriptName":"train.py","dataFileName":"wine_data.csv","learningRate":0.05,"epochs":3}'
assert_eq 201 "$CODE" "job create"
J1=$(js 'd["_id"]')
assert_eq "$J1 $J1 unassigned" "$(js 'd["order"]["_id"]+" "+d["order"]["jobId"]+" "+d["order"]["status"]')" "order shape"
assert_match '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$(js 'd["order"]["createdDate"]')" "createdDate"
http POST /job/create -d '[{"scriptName":"a.py"}]';	assert_eq 400 "$CODE" "seed create takes one job"
http POST /job/create -d '{"epochs":3}';		assert_eq 400 "$CODE" "job without scriptName"
http POST /worker-node/create -d '{"name":"node-1","cpus":4}'
assert_eq 200 "$CODE" "worker-node create"; assert_eq node-1 "$(js 'd["_id"]')" "worker _id"
http POST /worker-node/create -d '{"nodeName":"node-2"}';	assert_eq 200 "$CODE" "seed worker nodeName"
http GET /retrieve/job/$J1
assert_eq 200 "$CODE" "retrieve job"; assert_eq "$J1 0.05" "$(js 'd["_id"]+" "+str(d["learningRate"])')" "job shape"
http GET /retrieve/job/ffffffffffffffffffffffff;	assert_eq 404 "$CODE" "retrieve unknown job"
http GET /retrieve/job/x;			assert_eq 400 "$CODE" "retrieve bad id"
http GET /retrieve/order
assert_eq 200 "$CODE" "retrieve orders"; assert_eq "$J1 unassigned" "$(js 'd[0]["_id"]+" "+d[0]["status"]')" "orders shape"

# bored claims the oldest, with the seed lease, in the seed's shape
http POST /job/create -d '{"scriptName":"train.py","learningRate":0.1}'; J2=$(js 'd["_id"]')
http POST /bored/node-1
assert_eq 200 "$CODE" bored; assert_eq "$J1 assigned" "$(js 'd["jobId"]+" "+d["status"]')" "bored gives the oldest"
# its "_id" names this claim (the seed worker sends it back as assignmentId)
assert_match '^5eed[0-9a-f]{12}00000001$' "$(js 'd["_id"]')" "bored _id is the assignment id"
http GET "/v1/orders/$J1"; D=$(js 'd["leaseDeadlineMs"]')
[ "$D" -gt "$(( $(date +%s) + 7000 ))000" ] || fail "seed lease not applied: deadline $D"
http POST /bored/../x --path-as-is;				assert_eq 404 "$CODE" "bored path with .."
http POST "/bored/bad%20name";			assert_eq 400 "$CODE" "bored bad name"

# callback: by jobId; repeat files nothing new; unknown 404; no jobId 400
http POST /callback -d "{\"status\":200,\"jobId\":\"$J1\",\"loss\":15109.17,\"metric\":14281.45}"
assert_eq 200 "$CODE" callback; assert_eq done "$(js 'd["state"]')" "callback done"
http POST /callback -d "{\"status\":200,\"jobId\":\"$J1\",\"loss\":1,\"metric\":1}"
assert_eq 200 "$CODE" "repeat callback"; assert_eq True "$(js 'd["duplicate"]')" "repeat is a duplicate"
http GET "/v1/outcomes/$J1"; assert_eq 15109.17 "$(js 'd["loss"]')" "the first outcome stands"
n=$(find "$TESTDIR/sp/outcomes" -name "$J1.*" | wc -l); assert_eq 1 "$n" "one outcome file"
http POST /callback -d '{"status":200,"jobId":"aaaaaaaaaaaaaaaaaaaaaaaa","loss":1}'; assert_eq 404 "$CODE" "callback unknown job"
http POST /callback -d '{"status":200,"loss":1}';	assert_eq 400 "$CODE" "callback without jobId"
http POST /callback -d "{\"status\":200,\"jobId\":\"$J2\"}"; assert_eq 409 "$CODE" "callback for an unassigned order"
http GET /retrieve/job/$J2	# still queued, claimed by the worker below

# ---- a worker written from seed/README.md ----
mkdir scripts
cat > scripts/train.py <<'EOF'
import json, sys
job = json.loads(sys.argv[1])
print("training", job["scriptName"])
if job.get("explode"):
    print(json.dumps({"status": 500, "jobId": job["_id"], "error": "boom"}))
    sys.exit(1)
lr = job.get("learningRate", 0.01)
print(json.dumps({"status": 200, "jobId": job["_id"], "loss": round(1 / lr, 3), "metric": lr * 2}))
EOF
cat > seedworker.py <<'EOF'
# The article's worker, minus the one-minute cron: ask when bored, fetch the
# job, add callbackAddress and assignmentId, run the script with the job JSON
# as its argument, post the last stdout line to /callback.
import json, subprocess, sys, urllib.request
boss, name, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, body=None):
    data = None if body is None else body.encode()
    req = urllib.request.Request(boss + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
done = idle = 0
while done < want and idle < 200:
    order = call("POST", "/bored/" + name)
    if "_id" not in order:
        idle += 1
        continue
    job = call("GET", "/retrieve/job/" + order["jobId"])
    job["callbackAddress"] = boss
    job["assignmentId"] = order["_id"]
    out = subprocess.run([sys.executable, "scripts/" + job["scriptName"], json.dumps(job)],
                         capture_output=True, text=True).stdout
    result = out.strip().split("\n").pop()
    print(json.dumps(call("POST", "/callback", result)))
    done += 1
EOF
http POST /job/create -d '{"scriptName":"train.py","learningRate":0.5}'; J3=$(js 'd["_id"]')
http POST /job/create -d '{"scriptName":"train.py","explode":true,"spool":{"maxAttempts":1}}'; J4=$(js 'd["_id"]')
python3 seedworker.py "$URL" seed-node 3 > worker.out || fail "seed worker: $(cat worker.out)"
assert_eq 3 "$(grep -c '"message": "outcome filed"' worker.out)" "three callbacks filed"
for id in $J2 $J3; do
	http GET "/v1/orders/$id"; assert_eq "done seed-node" "$(js 'd["state"]+" "+d["worker"]')" "order $id"
done
http GET "/v1/orders/$J4"; assert_eq failed "$(js 'd["state"]')" "a failing outcome fails the order"
http GET "/v1/outcomes/$J4"; assert_eq boom "$(js 'd["error"]')" "the failure outcome is filed"
http GET "/v1/leaderboard?key=loss"
assert_eq "$J3 $J2 $J1" "$(js '" ".join(r["id"] for r in d["rows"])')" "leaderboard of the seed run"
http GET /retrieve/order
assert_eq "done,failed" "$(js '",".join(sorted(set(o["status"] for o in d)))')" "statuses of finished orders"

kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || fail "spoold did not exit 0"
echo ok
