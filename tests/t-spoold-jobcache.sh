# spoold: a claim of a job just submitted answers from the job's text kept
# in memory (spoold/jobcache.c) instead of its file; the answer is still
# the file's: the stored job exactly ("_id" first, the members as written),
# the job stored first for a duplicate "_id", and an order whose job file
# is gone is failed as an orphan, not run.
. "$TOP/tests/lib.sh"

SP=$TESTDIR/sp
jobfile() { echo "$SP/jobs/${1: -2}/$1.json"; }
# the raw text of the claim answer's "job" (what follows "job": up to the token)
rawjob() { python3 -c 'import sys; b=sys.argv[1]; i=b.index("\n\"job\": ")+8; j=b.index(",\n\"token\"", i); print(b[i:j])' "$BODY"; }

start_spoold "$SP"

# ---- the answer's job is the stored file, byte for byte ----
http POST /v1/jobs -d '  {"zeta": [1, 2,{"b":null}], "scriptName":"cache.py", "é": "\u00e9 ok", "spool": {"priority": 3}}  '
assert_eq 201 "$CODE" "submit"; J1=$(js 'd["ids"][0]')
http POST "/v1/claim?worker=w1&wait=5"
assert_eq 200 "$CODE" "claim"; assert_eq "$J1" "$(js 'd["order"]["_id"]')" "claimed the job"
f=$(jobfile "$J1"); [ -f "$f" ] || fail "no job file $f"
assert_eq "$(cat "$f")" "$(rawjob)" "the answer's job is the stored file's text"
assert_match '^\{"_id":"'"$J1"'","zeta"' "$(rawjob)" "\"_id\" first, then the members as written"

# ---- a duplicate "_id" keeps the job stored first ----
ID=0123456789abcdef01234567
http POST /v1/jobs -d '{"_id":"'$ID'","scriptName":"dup.py","v":1}'; assert_eq 201 "$CODE" "named submit"
http POST /v1/jobs -d '{"_id":"'$ID'","scriptName":"dup.py","v":2}'
assert_eq "$ID" "$(js 'd["ids"][0]')" "the duplicate names the same job"
http POST "/v1/claim?worker=w2&wait=5"
assert_eq 200 "$CODE" "claim the named job"; assert_eq "$ID" "$(js 'd["order"]["_id"]')" "the named job"
assert_eq 1 "$(js 'd["job"]["v"]')" "the job stored first, not the duplicate's text"
http POST "/v1/claim?worker=w2&wait=0"; assert_eq 204 "$CODE" "one order for the two submits"

# ---- an order whose job file is gone is not run, even with the text in memory ----
http POST /v1/jobs -d '{"scriptName":"orphan.py","spool":{"maxAttempts":1}}'; J3=$(js 'd["ids"][0]')
rm -f "$(jobfile "$J3")"
http POST "/v1/claim?worker=w3&wait=0"
assert_eq 204 "$CODE" "no work: the order without its job is not handed out"
state_is() { http GET "/v1/orders/$J3"; [ "$(js 'd["state"]')" = "$1" ]; }
wait_for state_is failed
