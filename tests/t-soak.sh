#!/usr/bin/env bash
# Soak (issue 9, "acknowledged means kept"): the real programs, killed.
#
# A sweep of SOAK_JOBS jobs (1000; 400 under ASan) is submitted over HTTP
# (single and bulk bodies, client-chosen ids), with `spoolctl submit --id` and
# by dropping files into new/, spread over SOAK_SUBMIT_S seconds, while two
# remote and two local runners (two slots each) drain it and spoold and the
# runners are killed with SIGKILL at random and restarted: spoold at least
# SOAK_SPOOLD_KILLS (10) times, runners at least SOAK_RUNNER_KILLS (20). The
# submitter retries whatever got no answer or a 5xx until it gets its 201.
# Every job runs scripts/soak.sh, which appends "start ..." and "end ..."
# lines to runs.log (O_APPEND, one write a line), so that we know how many
# times each job really ran.
#
# Then the killing stops, the queue drains (we ask the spool until it is
# quiet), and, WITHOUT fsck, tests/soakcheck.py judges the spool by its files:
# every acknowledged job has one order in done/ or failed/ with the outcome
# its name points at, nothing is stranded, no outcome was overwritten,
# nothing is half-written, every run that happened twice is explained by a
# kill. Only then `spoolctl fsck` must find nothing. Prints the figures.
#
# `make soak` runs a long one: SOAK_JOBS=5000, SOAK_SUBMIT_S=150.
. "$TOP/tests/lib.sh"
SPOOL=$TESTDIR/spool
SC="$BIN/spoolctl --spool $SPOOL"
if [ -n "${ASAN:-}" ]; then N=${SOAK_JOBS:-400}; else N=${SOAK_JOBS:-1000}; fi
SUBMIT_S=${SOAK_SUBMIT_S:-15}
MIN_SK=${SOAK_SPOOLD_KILLS:-10}
MIN_RK=${SOAK_RUNNER_KILLS:-20}
DRAIN_S=${SOAK_DRAIN_S:-30}	# after the last kill: leases (3 s), reaps, outbox backoff (<= 8 s)
LEASE=3
export SPOOL_REAP_GRACE_MS=500	# one host, one clock: a short grace, so killed claims come back soon
# What a killed process left in tmp/ (a drop it had taken, say) is mended once
# stale (spool-layout.md, "What a crash at any instant leaves"): 1 h by
# default, 2 s here, as the leases are short.
export SPOOL_TMP_STALE_MS=${SPOOL_TMP_STALE_MS:-2000}
t0=$(date +%s)
ms() { date +%s%3N; }

$SC init
mkdir scripts work
cat >scripts/soak.sh <<S
#!/bin/sh
# one job of the soak: note the run, take a few ms, print the outcome
echo "start \$SPOOL_JOB_ID \$SPOOL_ATTEMPT \$\$ \$SPOOL_WORKER \$(date +%s%3N)" >>$TESTDIR/runs.log
sleep \$(printf 0.%03d \$((20 + \$\$ % 100)))	# 20-119 ms: the slots are busy most of the time
echo "end \$SPOOL_JOB_ID \$SPOOL_ATTEMPT \$\$ \$SPOOL_WORKER \$(date +%s%3N)" >>$TESTDIR/runs.log
case "\$1" in
*soak-must-fail*)	# as nn.py does for a job that is wrong: a 4xx and exit 2
	echo "{\"status\":422,\"error\":\"soak: this job asks to fail\",\"attempt\":\$SPOOL_ATTEMPT,\"worker\":\"\$SPOOL_WORKER\"}"
	exit 2;;
*)
	echo "{\"status\":200,\"loss\":0.\$\$,\"attempt\":\$SPOOL_ATTEMPT,\"worker\":\"\$SPOOL_WORKER\",\"pid\":\$\$}";;
esac
S
chmod +x scripts/soak.sh
: >runs.log
: >kills.log
: >acked

# --- the boss, always on the same port (the remote runners keep their URL) -----------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
BOSS=
sgen=0
start_boss() {	# start spoold and wait until it listens (by asking its stdout)
	local out i try
	for try in 1 2 3 4 5; do
		sgen=$((sgen + 1))
		out=$TESTDIR/spoold.out.$sgen
		echo "=== spoold generation $sgen at $(ms)" >>spoold.log
		"$BIN/spoold" --spool "$SPOOL" --listen "127.0.0.1:$PORT" --lease "$LEASE" \
			--reap-interval 1 --rescan 1 >"$out" 2>>spoold.log &
		BOSS=$!
		for i in $(seq 1 400); do
			grep -q '^listening on ' "$out" && return 0
			kill -0 "$BOSS" 2>/dev/null || break
			sleep 0.025
		done
		wait "$BOSS" 2>/dev/null || true
		BOSS=
		echo "spoold generation $sgen did not come up (try $try): $(tail -3 spoold.log)"
	done
	fail "spoold does not start on port $PORT: $(tail -20 spoold.log)"
}

# --- the runners: remote1 remote2 local1 local2, each a generation per start ----------
declare -A RPID RGEN RNAME
RUNNERS=(remote1 remote2 local1 local2)
start_runner() {
	local r=$1 name
	RGEN[$r]=$(( ${RGEN[$r]:--1} + 1 ))
	name=$r-g${RGEN[$r]}
	RNAME[$r]=$name
	case $r in
	remote*) "$BIN/runner" --boss "$URL" --scripts scripts --name "$name" --slots 2 \
			--lease "$LEASE" --wait 2 --grace 1 --outbox "$TESTDIR/outbox-$r" \
			--workdir "$TESTDIR/work/$name" 2>>"runner-$r.log" & ;;
	local*) "$BIN/runner" --spool "$SPOOL" --scripts scripts --name "$name" --slots 2 \
			--lease "$LEASE" --poll-ms 50 --grace 1 \
			--workdir "$TESTDIR/work/$name" 2>>"runner-$r.log" & ;;
	esac
	RPID[$r]=$!
}

# Stop what is running now, by PID (the submitter is in PIDS).
cleanup() {
	local p
	for p in "$BOSS" "${RPID[@]:-}" "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "$BOSS" "${RPID[@]:-}" "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}

start_boss
for r in "${RUNNERS[@]}"; do start_runner "$r"; done

# --- the submitter ------------------------------------------------------------------------
cat >submit.py <<'EOF'
# Submits N jobs with client-chosen ids, spread over S seconds, by two threads:
# over HTTP (single bodies and arrays of 2-8), 1 in 25 with spoolctl submit
# --id, 2 in 25 dropped into new/ (2 in 3 atomically by rename, 1 in 3 by two
# plain writes). A request that gets no answer or a 5xx is sent again, the
# same body, until it gets its 201. An id is written to `acked` (a drop's tag
# to `drops`) only once its yes arrived.
import http.client, json, os, random, subprocess, sys, threading, time
port, n, secs, spool, spoolctl, out = sys.argv[1:7]
n, secs, port = int(n), float(secs), int(port)
GIVE_UP_S = max(120.0, 3 * secs)
acked, drops, err = open(out + "/acked", "a"), open(out + "/drops", "a"), open(out + "/submit.err", "a")
lock = threading.Lock()
stats = {"requests": 0, "retries": 0, "no answer": 0, "5xx": 0, "spoolctl": 0, "drops": 0}
rnd = random.Random(int(os.environ.get("SOAK_SEED", "0")) or None)

def jid(k):
    return "50a4%020x" % k

def job(k):
    j = {"_id": jid(k), "scriptName": "soak.sh", "k": k, "spool": {"maxAttempts": 10}}
    if k % 50 == 7:
        j["expect"] = "soak-must-fail"
    return j

def note(f, line):
    with lock:
        f.write(line + "\n"); f.flush()

# the plan: (first k, channel, [k...])
plan, k = [], 0
while k < n:
    if k % 25 == 3:
        plan.append((k, "spoolctl", [k])); k += 1
    elif k % 25 in (9, 19):
        plan.append((k, "drop", [k])); k += 1
    else:
        m = 1 if rnd.random() < 0.5 else rnd.randint(2, 8)
        ks = [k]
        while len(ks) < m and ks[-1] + 1 < n and (ks[-1] + 1) % 25 not in (3, 9, 19):
            ks.append(ks[-1] + 1)
        plan.append((k, "http", ks)); k = ks[-1] + 1
nextp = [0]
t0 = time.time()

def take():
    with lock:
        if nextp[0] >= len(plan):
            return None
        p = plan[nextp[0]]; nextp[0] += 1
        return p

def post(conn, body, ids):
    start = time.time()
    while True:
        with lock:
            stats["requests"] += 1
        try:
            if conn[0] is None:
                conn[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn[0].request("POST", "/v1/jobs", body, {"Content-Type": "application/json"})
            r = conn[0].getresponse(); b = r.read()
            if r.status in (200, 201):
                got = json.loads(b)["ids"]
                if got != ids:
                    note(err, "asked for ids %s, got %s" % (ids, got))
                return True
            if r.status < 500:
                note(err, "POST /v1/jobs: %d %s" % (r.status, b[:200]))
                return False
            with lock:
                stats["5xx"] += 1
            conn[0].close(); conn[0] = None
        except (OSError, http.client.HTTPException, ValueError):
            with lock:
                stats["no answer"] += 1
            if conn[0] is not None:
                conn[0].close()
            conn[0] = None
        if time.time() - start > GIVE_UP_S:
            note(err, "gave up on %s after %d s" % (ids[:3], GIVE_UP_S))
            return False
        with lock:
            stats["retries"] += 1
        time.sleep(0.02 + 0.1 * rnd.random())

def drop(k):
    j = job(k); del j["_id"]
    j["soakTag"] = "drop-%d" % k
    data = json.dumps(j, separators=(",", ":")) + "\n"
    new = os.path.join(spool, "new")
    if k % 3:
        tmp = os.path.join(new, ".drop-%d.tmp" % k)
        with open(tmp, "w") as f:
            f.write(data)
        os.rename(tmp, os.path.join(new, "drop-%d.json" % k))
    else:
        with open(os.path.join(new, "drop-%d.json" % k), "w") as f:
            f.write(data[:10]); f.flush(); time.sleep(0.005); f.write(data[10:])
    note(drops, j["soakTag"])

def spoolctl_submit(k):
    path = os.path.join(out, "sc-%d.json" % k)
    j = job(k); del j["_id"]
    with open(path, "w") as f:
        json.dump(j, f)
    for _ in range(5):
        r = subprocess.run([spoolctl, "--spool", spool, "submit", "--id", jid(k), path],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == jid(k):
            return True
        if r.returncode == 4:	# the id is taken: an earlier try got through
            return True
        note(err, "spoolctl submit --id %s: exit %d: %s" % (jid(k), r.returncode, r.stderr.strip()))
        time.sleep(0.1)
    return False

def worker():
    conn = [None]
    while True:
        p = take()
        if p is None:
            return
        k0, chan, ks = p
        delay = t0 + secs * k0 / n - time.time()
        if delay > 0:
            time.sleep(delay)
        if chan == "drop":
            drop(k0)
            with lock: stats["drops"] += 1
        elif chan == "spoolctl":
            if spoolctl_submit(k0):
                note(acked, "%s spoolctl" % jid(k0))
            with lock: stats["spoolctl"] += 1
        else:
            ids = [jid(x) for x in ks]
            js = [job(x) for x in ks]
            body = json.dumps(js[0] if len(js) == 1 and rnd.random() < 0.7 else js,
                              separators=(",", ":"))
            if post(conn, body, ids):
                note(acked, "\n".join("%s http" % i for i in ids))

ts = [threading.Thread(target=worker) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
print("submitter: %d jobs in %.1f s: %s" % (n, time.time() - t0,
      ", ".join("%s %d" % kv for kv in stats.items())))
EOF
: >drops
python3 submit.py "$PORT" "$N" "$SUBMIT_S" "$SPOOL" "$BIN/spoolctl" "$TESTDIR" >submit.out 2>submit.trace &
SUB=$!; PIDS+=("$SUB")

# --- the killer: SIGKILL spoold or a runner at random, restart it --------------------------
# Until the submitter is done and both kill counts are reached (at most
# 4 x SOAK_SUBMIT_S + 60 s). Each kill is stamped in kills.log just before it
# is sent, so the checker can tell which runs it explains.
sk=0 rk=0
chaos_end=$(( $(date +%s) + 4 * SUBMIT_S + 60 ))
rnd_sleep() { sleep "0.$(printf '%03d' $(( $1 + RANDOM % ($2 - $1) )))"; }
while kill -0 "$SUB" 2>/dev/null || [ "$sk" -lt "$MIN_SK" ] || [ "$rk" -lt "$MIN_RK" ]; do
	[ "$(date +%s)" -lt "$chaos_end" ] || break
	rnd_sleep 100 350
	if [ "$sk" -lt "$MIN_SK" ] && [ "$rk" -ge "$MIN_RK" ]; then pick=boss
	elif [ "$rk" -lt "$MIN_RK" ] && [ "$sk" -ge "$MIN_SK" ]; then pick=runner
	elif [ $((RANDOM % 3)) = 0 ]; then pick=boss
	else pick=runner; fi
	if [ $pick = boss ]; then
		echo "$(ms) spoold $BOSS" >>kills.log
		kill -9 "$BOSS"; wait "$BOSS" 2>/dev/null || true
		sk=$((sk + 1))
		rnd_sleep 0 250	# the boss stays away a moment: runners and submitter see it gone
		start_boss
	else
		r=${RUNNERS[RANDOM % 4]}
		echo "$(ms) runner ${RNAME[$r]} ${RPID[$r]}" >>kills.log
		kill -9 "${RPID[$r]}"; wait "${RPID[$r]}" 2>/dev/null || true
		rk=$((rk + 1))
		rnd_sleep 0 200
		start_runner "$r"
	fi
done
wait "$SUB" || fail "submitter exited $?: $(tail -5 submit.trace)"
t_chaos=$(( $(date +%s) - t0 ))
cat submit.out
echo "chaos over after ${t_chaos}s: spoold killed $sk times, runners $rk times"
[ ! -s submit.err ] && [ ! -s submit.trace ] || fail "the submitter met answers it should not have: $(head -5 submit.err submit.trace)"
[ "$sk" -ge "$MIN_SK" ] && [ "$rk" -ge "$MIN_RK" ] || fail "not enough kills in time: spoold $sk, runners $rk"

# --- drain, by asking the spool ----------------------------------------------------------
set +e
python3 "$TOP/tests/soakcheck.py" wait "$SPOOL" --acked acked --timeout "$DRAIN_S"
quiet=$?
set -e
t_drain=$(( $(date +%s) - t0 - t_chaos ))
echo "drain: $([ $quiet = 0 ] && echo quiet || echo NOT quiet) after ${t_drain}s more"

# stop everything gracefully; their exit codes are evidence too
stops=""
for r in "${RUNNERS[@]}"; do kill -TERM "${RPID[$r]}" 2>/dev/null || true; done
for r in "${RUNNERS[@]}"; do
	rc=0; wait "${RPID[$r]}" || rc=$?
	RPID[$r]=
	# a runner stopped by SIGTERM exits 128+15 (runner --help)
	[ $rc = 143 ] || stops="$stops ${RNAME[$r]}:exit-$rc"
done
rc=0; kill -TERM "$BOSS"; wait "$BOSS" || rc=$?
BOSS=
[ $rc = 0 ] || stops="$stops spoold:exit-$rc"
[ -z "$stops" ] || echo "stopped with a failure:$stops"
outbox_left=$(find "$TESTDIR"/outbox-* -maxdepth 1 -type f 2>/dev/null | wc -l)

# --- the judgement, from the files alone; fsck only afterwards ---------------------------
set +e
python3 "$TOP/tests/soakcheck.py" check "$SPOOL" --acked acked --drops drops --runs runs.log \
	--kills kills.log --jobs "$N" --figures figures
checked=$?
$SC fsck >fsck.out 2>&1	# tmp/ files of killed processes are not findings until --tmp-age
fsck_rc=$?
set -e
echo "fsck (after the checks): exit $fsck_rc, $(wc -l <fsck.out) findings"
sed -n '1,15s/^/  fsck: /p' fsck.out
echo "soak: $(cat figures 2>/dev/null), outbox left $outbox_left, in $(( $(date +%s) - t0 ))s"

[ $quiet = 0 ] || fail "the queue did not drain within ${DRAIN_S}s of the last kill"
[ $checked = 0 ] || fail "the spool after the soak is not what was acknowledged (above)"
[ $fsck_rc = 0 ] || fail "fsck found problems after the soak (exit $fsck_rc)"
[ -z "$stops" ] || fail "a program did not stop cleanly on SIGTERM:$stops"
[ "$outbox_left" = 0 ] || fail "$outbox_left outcomes left in the outboxes"
echo ok
