#!/usr/bin/env bash
# make demo: the first thing a new user runs. Starts spoold on a fresh spool
# under demo/, submits a sweep of the example training script over HTTP,
# starts two runners (one remote over HTTP, one local on the spool, two slots
# each), shows progress while they work, prints the leaderboard, and stops
# everything it started, by PID.
#
#   tools/demo.sh [SWEEP-SPEC]     (default examples/wine-sweep.json)
#   DEMO_DIR=...  where the demo's spool and logs go (default ./demo)
#   BIN=...       the programs to run (default ./bin)
#   KEEP=1        leave the boss running at the end, for a look at its page
# `make install` installs this script as spool-demo, with share and demo
# below pointing into the installed tree (PREFIX/share/spool, ./spool-demo).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
share=${SPOOL_SHARE:-$top}
bin=${BIN:-$top/bin}
spec=${1:-$share/examples/wine-sweep.json}
demo=${DEMO_DIR:-$top/demo}
keep=${KEEP:-0}
spool=$demo/spool
pids=()

if [ -t 1 ]; then
	say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
	say() { printf '==> %s\n' "$*"; }
fi
stop_all() {
	local p
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	pids=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

rm -rf "$demo"
mkdir -p "$demo"

say "starting spoold on a fresh spool in ${demo#$top/}/spool"
"$bin/spoold" --spool "$spool" --listen 127.0.0.1:0 >"$demo/spoold.out" 2>"$demo/spoold.log" &
spoold_pid=$!
pids+=("$spoold_pid")
for _ in $(seq 1 200); do
	grep -q '^listening on ' "$demo/spoold.out" 2>/dev/null && break
	kill -0 "$spoold_pid" 2>/dev/null || { cat "$demo/spoold.log" >&2; exit 1; }
	sleep 0.05
done
addr=$(sed -n 's/^listening on //p' "$demo/spoold.out" | head -1)
[ -n "$addr" ] || { echo "demo: spoold did not say where it listens" >&2; exit 1; }
url="http://$addr"
echo "    boss at $url (pid $spoold_pid)"
echo "    the page: $url/  (open it in a browser: counts, leaderboard, plot, workers)"

sweep=$(sed -n 's/.*"name" *: *"\([^"]*\)".*/\1/p' "$spec" | head -1)
say "submitting sweep '$sweep' ($(basename "$spec")) over HTTP"
n=$("$bin/spoolctl" sweep "$spec" --boss "$url" | wc -l)
echo "    $n jobs queued"

say "starting two runners: one over HTTP, one on the spool directly (2 slots each)"
"$bin/runner" --boss "$url" --scripts "$share/runner/scripts" --slots 2 --drain --wait 2 \
	--name demo-remote --outbox "$demo/outbox" --workdir "$demo/work" >"$demo/runner-remote.log" 2>&1 &
remote_pid=$!
"$bin/runner" --spool "$spool" --scripts "$share/runner/scripts" --slots 2 --drain \
	--name demo-local --workdir "$demo/work" >"$demo/runner-local.log" 2>&1 &
local_pid=$!
pids+=("$remote_pid" "$local_pid")

say "training (progress every second)"
"$bin/spoolctl" --spool "$spool" top --sweep "$sweep" --watch --every 1 --until-done --limit 5

rc=0
wait "$remote_pid" || rc=$?
wait "$local_pid" || rc=$?
[ "$rc" = 0 ] || echo "demo: a runner exited with $rc (logs in ${demo#$top/}/)" >&2

say "leaderboard (lower loss is better; loss = validation MSE of flavanoids, metric = its MAE; testLoss = MSE on the held-out test rows)"
"$bin/spoolctl" --spool "$spool" top --sweep "$sweep" --limit 10

if [ "$keep" = 1 ]; then
	pids=()	# the boss stays; nothing else is left running
	say "spoold is still running: the page is at $url/ (stop it with: kill $spoold_pid)"
else
	say "stopping spoold (pid $spoold_pid)"
	kill "$spoold_pid"
	wait "$spoold_pid" || true
	pids=()
fi

left=$("$bin/spoolctl" --spool "$spool" ls --json | python3 -c 'import json,sys; c=json.load(sys.stdin); print(sum(c[k] for k in ("new","assigned","held","failed","cancelled")))' 2>/dev/null || echo "?")
if [ "$left" != 0 ]; then
	echo "demo: $left jobs did not finish; see ${demo#$top/}/*.log" >&2
	exit 1
fi
say "all $n jobs done; the spool is in ${demo#$top/}/spool (try: bin/spoolctl --spool ${demo#$top/}/spool show ID)"
