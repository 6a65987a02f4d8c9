#!/usr/bin/env bash
# The page at / in a real browser (issue 14): headless chromium against a
# real spoold while real runners work through real sweeps, driven over the
# DevTools protocol (tests/browser/cdp.py) with assertions on the rendered
# DOM, and the API checked behind each action. Screenshots of each view are
# left in $TESTDIR/screens/. Skips (77) only when chromium is not installed
# (make deps installs it): one that does not start is a failure.
. "$TOP/tests/lib.sh"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (make deps installs Debian's chromium)"; exit 77; }

SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts screens
# a fast training script: its loss depends on lr and opt, its log names them
# and it prints a point per epoch (the run's series) and keeps an artifact
cat >scripts/fit.py <<'S'
import json, os, sys
job = json.loads(sys.argv[1])
print("training lr=%s opt=%s epochs=%s" % (job["lr"], job.get("opt"), job.get("epochs")))
loss = job["lr"] * (2 if job.get("opt") == "sgd" else 1)
epochs = job.get("epochs", 3)
for e in range(1, epochs + 1):
    print(json.dumps({"epoch": e, "loss": round(loss * (1 + (epochs - e) / epochs), 6)}))
with open(os.path.join(os.environ["SPOOL_ARTIFACTS_DIR"], "model.txt"), "w") as f:
    f.write("lr=%s\n" % job["lr"])
out = {"status": 200, "loss": loss, "acc": round(1 - loss, 6)}
if job.get("prune"):   # what an early stop leaves (issue12-stop): "pruned"
    out["pruned"] = {"rule": "median", "step": 1}
print(json.dumps(out))
S
cat >scripts/broken.sh <<'S'
#!/bin/sh
echo "reading the data" 
echo "bad column 'x'" >&2
exit 3
S
chmod +x scripts/broken.sh
# a job that runs until the test lets it end (touches $TESTDIR/go)
cat >scripts/hold.sh <<S
#!/bin/sh
echo "holding until $TESTDIR/go"
echo "<b>bold?</b> is text"
while [ ! -e "$TESTDIR/go" ]; do sleep 0.1; done
echo '{"status": 200}'
S
chmod +x scripts/hold.sh

$SC init
# s1: two varying parameters (one a string holding markup), one constant
cat >s1.json <<'EOF'
{"name": "s1", "base": {"scriptName": "fit.py", "epochs": 2},
 "grid": {"lr": [0.1, 0.2, 0.3], "opt": ["adam", "sgd", "<script>alert(1)</script>"]}}
EOF
echo '{"name": "s2", "base": {"scriptName": "broken.sh", "spool": {"maxAttempts": 1}}, "grid": {"lr": [1, 2]}}' >s2.json
echo '{"name": "s4", "base": {"scriptName": "fit.py"}, "grid": {"lr": [0.5, 0.7]}}' >s4.json
# s3: needs a capability no runner here has, so it stays queued
echo '{"name": "s3", "base": {"scriptName": "fit.py", "lr": 9, "spool": {"tags": ["gpu"]}}}' >s3.json
echo '{"name": "s5", "base": {"scriptName": "hold.sh"}}' >s5.json
echo '{"name": "s6", "base": {"scriptName": "fit.py", "lr": 0.9}, "grid": {"prune": [false, true]}}' >s6.json
for s in s1 s2 s3 s4 s5 s6; do $SC sweep $s.json >$s.ids 2>/dev/null; done
assert_eq 9 "$(wc -l <s1.ids)" "s1 has nine jobs"

# a third spool with a sweep longer than the results table's page (50):
# 60 runs whose loss follows lr only, so ordering by seed (numbers whose
# text order differs) is a ranking across pages the loss order is not
$BIN/spoolctl --spool "$TESTDIR/spool3" init
echo '{"name": "big", "base": {"scriptName": "fit.py", "epochs": 1},
 "grid": {"lr": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "seed": [3, 10, 25, 100, 7, 1, 50, 12, 8, 0]}}' >big.json
$BIN/spoolctl --spool "$TESTDIR/spool3" sweep big.json >big.ids 2>/dev/null
assert_eq 60 "$(wc -l <big.ids)" "big has sixty jobs"
"$BIN/runner" --spool "$TESTDIR/spool3" --scripts scripts --name w3 --slots 2 --drain \
	--workdir wd-w3 --poll-ms 50 2>runner-w3.log || fail "the runner of big failed: $(cat runner-w3.log)"
start_spoold "$TESTDIR/spool3" --no-sync --quiet
URL3=$URL

# a second boss guarded by a token, for the page's token prompt
echo "spool-page-test-token" >token
start_spoold "$TESTDIR/spool2" --no-sync --quiet --token-file token
URL2=$URL
start_spoold "$TESTDIR/spool" --no-sync --quiet

# the page and its files come from spoold, under a strict CSP; with a token
# set they need none (they hold no data) while the API does
hdr=$(curl -sS -D - -o page.html "$URL/" | tr -d '\r')
assert_match "^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';" "$hdr" "the page's CSP"
if grep -qiE '<script>|<script [^>]*>[^<]|<style|[[:space:]]style=|[[:space:]]on[a-z]+=' page.html; then fail "inline script or style in the page"; fi
cmp -s <(curl -sS "$URL/static/chart.js") /usr/share/javascript/chart.js/chart.min.js || fail "spoold serves Debian's Chart.js"
for f in / /static/app.js /static/app.css /static/chart.js; do
	assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL2$f")" "$f without the token"
done
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL2/v1/sweeps")" "the API without the token"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer spool-page-test-token' "$URL2/static/nothing.js")" "no such file"

# paging: s1's nine queued orders in pages of four, by the cursor each
# page gives; together exactly the sweep's jobs, none twice
after=""; : >paged
for page in 1 2 3 4; do
	curl -sS -D hdr -o body "$URL/v1/orders?state=new&sweep=s1&limit=4${after:+&after=$after}"
	python3 -c 'import json,sys; [print(o["_id"]) for o in json.load(open("body"))]' >>paged
	after=$(tr -d '\r' <hdr | sed -n 's/^X-Spool-Next: //p')
	[ -n "$after" ] || break
done
assert_eq 3 "$page" "nine orders in pages of four: three pages"
assert_eq "$(sort s1.ids)" "$(sort paged)" "the pages hold s1's jobs, each once"
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/orders?after=0.x")" "a bad cursor"
# the list the runner reads (state=new&limit=10000) is the unpaged one, as
# before the page: every queued order in claim order, no cursor
curl -sS -D hdr -o body "$URL/v1/orders?state=new&limit=10000"
! grep -qi '^X-Spool-Next' hdr || fail "the runner's list got a cursor"
assert_eq 17 "$(python3 -c 'import json; print(len(json.load(open("body"))))')" "the runner's list: all 17 queued"
curl -sS -o paged.json "$URL/v1/orders?state=new&limit=10000&after="
cmp -s body paged.json || fail "the paged list of new/ (one page) differs from the runner's list"

# the browser test starts the page before any runner: it writes "ready",
# then the runners work while the page watches, without reloading
python3 "$TOP/tests/browser/page_test.py" --chromium "$CHROMIUM" --url "$URL" \
	--token-url "$URL2" --big-url "$URL3" --token "spool-page-test-token" --screens screens \
	--ready ready --s3 "$(cat s3.ids)" --hold "$(cat s5.ids)" --go "$TESTDIR/go" --profile "$TESTDIR/profile" --runners runners &
PY=$!
PIDS+=("$PY")
WAIT_S=60 wait_for test -e ready
: >runners.tmp
for w in w1 w2; do
	"$BIN/runner" --boss "$URL" --scripts scripts --name $w --slots 2 --drain \
		--outbox "ob-$w" --workdir "wd-$w" --wait 1 2>"runner-$w.log" &
	PIDS+=("$!")
	echo $! >>runners.tmp
done
mv runners.tmp runners
set +e
wait $PY
rc=$?
set -e
[ "$rc" = 0 ] || fail "the browser test failed (exit $rc); screenshots in $TESTDIR/screens"
for f in 1-board-queued 2-board-done 2-workers-running 2-job-live 3-results-s1 4-plot-categorical 4-curves 4-sorted-seed 5-failed-s2 5-job-attempts 6-job 7-job-cancelled 8-token; do
	[ -s "screens/$f.png" ] || fail "no screenshot $f.png"
done
# kept when asked (tests/run removes a passing test's directory)
[ -z "${PAGE_SCREENS:-}" ] || { mkdir -p "$PAGE_SCREENS" && cp screens/*.png "$PAGE_SCREENS/"; }
