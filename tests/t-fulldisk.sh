#!/usr/bin/env bash
# Full disk (issue 9, "acknowledged means kept"): the spool on a small tmpfs.
#
# A ballast file fills the tmpfs; then, in rounds, a little space is given
# back (the last round: plenty of space but almost no inodes) and jobs are
# submitted until the answers turn to "full": over HTTP (single bodies and
# arrays, client-chosen ids, by two clients at once), with `spoolctl submit
# --id`, and by dropping files into new/ (by rename, and by plain writes that
# the full disk cuts short). Every answer is written down. Then:
#
#  1. the space comes back; before anything is retried, every id that never
#     got a yes is either absent (no job, no order) or fully accepted (its
#     job and exactly one order): never half;
#  2. everything that got 507 or an error is submitted again (same id; a
#     failed drop is dropped again) and must now get its yes;
#  3. a runner --drain runs the queue; every acknowledged job ran exactly
#     once and has its outcome; nothing outside tmp/ is half-written
#     (tests/spoolcheck.py parses every file); no job lacks its order;
#     rejected/ holds only the drops that the full disk cut short;
#     `spoolctl fsck` finds nothing; spoold never died.
#
# Needs root (mount -t tmpfs): without it, prints SKIP and passes.
. "$TOP/tests/lib.sh"
DISK=$TESTDIR/disk
SPOOL=$DISK/spool
SC="$BIN/spoolctl --spool $SPOOL"
export SPOOL_SETTLE_MS=300	# a cut-short drop is rejected after this long still

mkdir -p "$DISK"
if ! mount -t tmpfs -o size=16m,nr_inodes=8192 tmpfs "$DISK" 2>mount.err; then
	echo "SKIP: cannot mount a tmpfs ($(cat mount.err)); the full-disk test did not run"
	exit 0
fi
MOUNTED=1
cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	if [ -n "${MOUNTED:-}" ]; then umount "$DISK" 2>/dev/null || umount -l "$DISK" || true; fi
}

$SC init
mkdir scripts
cat >scripts/fd.sh <<S
#!/bin/sh
echo "\$SPOOL_JOB_ID \$SPOOL_ATTEMPT \$SPOOL_WORKER" >>$TESTDIR/runs.log
echo '{"status":200,"loss":0.25}'
S
chmod +x scripts/fd.sh
: >runs.log

start_spoold "$SPOOL" --quiet --rescan 0.5
# ballast: everything but what the spool holds already
dd if=/dev/zero of="$DISK/ballast" bs=64k 2>/dev/null || true
echo "tmpfs full: $(df -k "$DISK" | awk 'NR == 2 { print $3 " KiB used, " $4 " KiB free" }')"

cat >fill.py <<'EOF'
# The rounds of submissions against a full disk; one JSON line per answer
# to answers.jsonl: {"op": N, "ch": CHANNEL, "ids": [...], "tag": T,
# "answer": "201" | "507" | "exit 1" | "made" | "enospc" | "cut" ..., "round": R}
import errno, http.client, json, os, subprocess, sys, threading
port, disk, spool, spoolctl = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ballast = os.path.join(disk, "ballast")
out = open("answers.jsonl", "a")
lock = threading.Lock()
counter = [0]

def jid(k):
    return "fd00%020x" % k

def job(k, pad):
    return {"_id": jid(k), "scriptName": "fd.sh", "k": k, "pad": "p" * pad}

def record(**r):
    with lock:
        out.write(json.dumps(r) + "\n"); out.flush()

def next_k(n=1):
    with lock:
        k = counter[0]; counter[0] += n
        return k

def http_op(conn, opn, rnd, bulk):
    n = 2 + opn % 5 if bulk else 1
    k = next_k(n)
    js = [job(k + i, 200 + 997 * ((k + i) % 5)) for i in range(n)]
    ids = [j["_id"] for j in js]
    body = json.dumps(js if bulk else js[0])
    try:
        if conn[0] is None:
            conn[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn[0].request("POST", "/v1/jobs", body)
        r = conn[0].getresponse(); b = r.read()
        ans = str(r.status)
        resp = b.decode("utf-8", "replace")[:2000]
        if r.status == 201 and json.loads(b)["ids"] != ids:
            ans = "201 with other ids: %s" % b[:200]
    except (OSError, http.client.HTTPException) as e:
        conn[0] = None
        ans, resp = "no answer: %s" % e, ""
    record(op=opn, ch="bulk" if bulk else "http", ids=ids, body=body, answer=ans, resp=resp, round=rnd)
    return ans == "201"

def spoolctl_op(opn, rnd):
    k = next_k()
    path = "sc-%d.json" % k
    j = job(k, 1500); del j["_id"]
    with open(path, "w") as f:
        json.dump(j, f)
    r = subprocess.run([spoolctl, "--spool", spool, "submit", "--id", jid(k), path],
                       capture_output=True, text=True)
    ans = "0" if r.returncode == 0 and r.stdout.strip() == jid(k) else "exit %d" % r.returncode
    record(op=opn, ch="spoolctl", ids=[jid(k)], file=path, answer=ans, err=r.stderr.strip()[-200:], round=rnd)
    return ans == "0"

def drop_op(opn, rnd, atomic):
    k = next_k()
    tag = "drop-%d" % k
    j = job(k, 2500); del j["_id"]; j["fdTag"] = tag
    data = json.dumps(j) + "\n"
    new = os.path.join(spool, "new")
    name = os.path.join(new, ("." if atomic else "") + tag + (".tmp" if atomic else ".json"))
    try:
        with open(name, "w") as f:
            f.write(data)
        if atomic:
            os.rename(name, os.path.join(new, tag + ".json"))
        ans = "made"
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        if atomic:
            try: os.unlink(name)
            except OSError: pass
            ans = "enospc"
        elif not os.path.exists(name):	# no inode left: no file at all
            ans = "enospc"
        else:	# a plain cp cut short: the file stays, whatever got written
            ans = "made" if os.path.getsize(name) == len(data) else "cut"
    record(op=opn, ch="drop" if atomic else "plaindrop", ids=[], tag=tag, data=data, answer=ans, round=rnd)
    return ans == "made"

def round_of(rnd, max_ops=120, stop_after=16):
    """Operations from 3 threads until stop_after answers in a row were not
    yes (or max_ops)."""
    state = {"ops": 0, "noes": 0, "yes": 0}
    def worker(t):
        conn = [None]
        while True:
            with lock:
                if state["ops"] >= max_ops or state["noes"] >= stop_after:
                    return
                opn = state["ops"]; state["ops"] += 1
            kind = (opn + t) % 6
            if kind in (0, 3):
                ok = http_op(conn, opn, rnd, bulk=False)
            elif kind in (1, 4):
                ok = http_op(conn, opn, rnd, bulk=True)
            elif kind == 2:
                ok = spoolctl_op(opn, rnd) if opn % 2 else drop_op(opn, rnd, atomic=opn % 4 == 0)
            else:
                ok = drop_op(opn, rnd, atomic=opn % 3 != 0)
            with lock:
                if ok:
                    state["yes"] += 1; state["noes"] = 0
                else:
                    state["noes"] += 1
    ts = [threading.Thread(target=worker, args=(t,)) for t in range(3)]
    for t in ts: t.start()
    for t in ts: t.join()
    return state

def df():
    s = os.statvfs(disk)
    return "%d KiB free, %d inodes free" % (s.f_bavail * s.f_frsize // 1024, s.f_favail)

# rounds 1-6: give back some KiB of the ballast; the last round: space, no inodes
gives = (8, 24, 48, 96, 12, 160)
for rnd, give in enumerate(gives, 1):
    os.truncate(ballast, max(0, os.path.getsize(ballast) - give * 1024))
    before = df()
    st = round_of(rnd)
    print("round %d (%s): %d operations, %d yes; then %s" % (rnd, before, st["ops"], st["yes"], df()))
os.truncate(ballast, max(0, os.path.getsize(ballast) - 1024 * 1024))
used = os.statvfs(disk).f_files - os.statvfs(disk).f_ffree
subprocess.run(["mount", "-o", "remount,nr_inodes=%d" % (used + 24), disk], check=True)
before = df()
st = round_of(len(gives) + 1)
print("round %d (%s): %d operations, %d yes; then %s" % (len(gives) + 1, before, st["ops"], st["yes"], df()))
EOF
python3 fill.py "$PORT" "$DISK" "$SPOOL" "$BIN/spoolctl" || fail "fill.py failed"
kill -0 "$SPOOLD_PID" || fail "spoold died on the full disk: $(tail -20 spoold.log)"
python3 - <<'EOF'
import collections, json
c = collections.Counter()
for l in open("answers.jsonl"):
    r = json.loads(l); c[(r["ch"], r["answer"].split(":")[0][:40])] += 1
print("answers:", ", ".join("%s %s: %d" % (a, b, n) for (a, b), n in sorted(c.items())))
EOF
grep -q '"answer": "507"' answers.jsonl || fail "no submit was ever refused with 507: the disk never filled"
# what a reader sees while the disk is full: nothing half-written outside tmp/
python3 "$TOP/tests/spoolcheck.py" "$SPOOL" --quiet || fail "the full spool shows half-written files (above)"

# --- 1. the space comes back: nothing that was refused is half there ----------------------
rm -f "$DISK/ballast"
mount -o remount,nr_inodes=8192 "$DISK"
cat >judge.py <<'EOF'
# judge.py SPOOL before|after [WAIT_S]: the state of every id and drop the
# answers name. "before" asks again for up to WAIT_S seconds while an id is
# half there (spoold may mend such a state by itself; not fsck, not a retry).
import json, os, sys, time
spool, when = sys.argv[1], sys.argv[2]
deadline = float(os.environ.get("JUDGE_DEADLINE") or
                 time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 0))
def again():
    if when == "before" and time.time() < deadline:
        time.sleep(0.2)
        os.environ["JUDGE_DEADLINE"] = repr(deadline)
        os.execv(sys.executable, [sys.executable] + sys.argv)
def walk(d):
    for dp, _, ns in os.walk(os.path.join(spool, d)):
        for n in ns:
            yield os.path.join(dp, n), n
orders, jobs, tags, outcomes = {}, {}, {}, set()
for st in ("new", "assigned", "held", "done", "failed", "cancelled"):
    for p, n in walk(st):
        f = n.split(".")
        if len(f) >= 6 and len(f[3]) == 24:
            orders.setdefault(f[3], []).append((st, n))
for p, n in walk("jobs"):
    i = n.split(".")[0]
    try:
        jobs[i] = json.load(open(p))
    except ValueError as e:
        jobs[i] = None
    if isinstance(jobs[i], dict) and "fdTag" in jobs[i]:
        tags.setdefault(jobs[i]["fdTag"], []).append(i)
for p, n in walk("outcomes"):
    f = n.split(".")
    outcomes.add((f[0], int(f[1]), f[2]))
ops = [json.loads(l) for l in open("answers.jsonl")]
if os.path.exists("answers2.jsonl"):
    ops += [json.loads(l) for l in open("answers2.jsonl")]
yes = {"201", "0", "exit 4 (taken)", "made"}
acked, refused, bad, notes = set(), set(), [], []
made, cut = set(), set()
for r in ops:
    if r["ch"] in ("drop", "plaindrop"):
        (made if r["answer"] == "made" else cut if r["answer"] == "cut" else set()).add(r["tag"])
        continue
    (acked if r["answer"] in yes else refused).update(r["ids"])
refused -= acked
def state(i):
    o, j = orders.get(i, []), i in jobs
    if not o and not j:
        return "absent"
    if j and jobs[i] is not None and len(o) == 1:
        return "accepted"
    return "HALF (job %s, orders %s)" % ("yes" if j else "no", [s for s, _ in o] or "none")
if when == "before":
    n = {"absent": 0, "accepted": 0}
    for i in sorted(refused):
        s = state(i)
        if s in n:
            n[s] += 1
        else:
            bad.append("refused id %s is half there: %s" % (i, s))
    for i in sorted(acked):
        if state(i) != "accepted":
            bad.append("acknowledged id %s: %s" % (i, state(i)))
    # a bulk answered 507/500 after storing some of its jobs must say which
    # (API.md: {"error", "ids": [stored], "notStored": [...]}); those it names
    # as stored must be
    for r in ops:
        if r["ch"] != "bulk" or r["answer"] in yes or r.get("retry"):
            continue
        try:
            told = json.loads(r.get("resp") or "null")
        except ValueError:
            told = None
        told = told.get("ids") if isinstance(told, dict) else None
        here = [i for i in r["ids"] if state(i) == "accepted"]
        if isinstance(told, list):
            for i in told:
                if state(i) != "accepted":
                    bad.append("bulk %s answered %s named %s stored: %s" % (r["op"], r["answer"], i, state(i)))
            here = [i for i in here if i not in told]
        elif here and here != r["ids"][:len(here)]:
            bad.append("bulk %s answered %s after storing jobs %s of its %d, not a prefix "
                       "its answer could mean: %s" % (r["op"], r["answer"], " ".join(here),
                                                      len(r["ids"]), (r.get("resp") or "")[:160]))
        elif here:	# "(K of N stored before it)": true, but API.md promises the lists
            notes.append("bulk %s answered %s after storing its first %d of %d jobs, without "
                         "\"ids\"/\"notStored\" (API.md): %s" % (r["op"], r["answer"], len(here),
                                                              len(r["ids"]), (r.get("resp") or "")[:120]))
    if bad:
        again()
    for m in notes[:5]:
        print("note:", m)
    print("before the retries: %d acknowledged, %d refused: %d absent, %d fully accepted anyway; "
          "%d drops made, %d cut short" % (len(acked), len(refused), n["absent"], n["accepted"],
                                          len(made), len(cut)))
else:
    runs = {}
    for l in open("runs.log"):
        f = l.split()
        runs.setdefault(f[0], []).append(l.strip())
    if refused:
        bad.append("%d ids never got a yes, even after the space came back: %s"
                   % (len(refused), " ".join(sorted(refused)[:5])))
    want = set(acked)
    for t in sorted(made):
        got = tags.get(t, [])
        if len(got) != 1:
            bad.append("drop %s became %d jobs: %s" % (t, len(got), got))
        want.update(got)
    for i in sorted(want):
        o = orders.get(i, [])
        if not o:
            bad.append("%s: acknowledged, but it has no order: it will never run%s"
                       % (i, " (its job is there)" if i in jobs else ""))
            continue
        if len(o) != 1 or o[0][0] != "done":
            bad.append("%s: orders %s, expected one in done/" % (i, o))
            continue
        f = o[0][1].split(".")
        if (i, int(f[4]), f[7]) not in outcomes:
            bad.append("%s: done/%s without its outcome" % (i, o[0][1]))
        if len(runs.get(i, [])) != 1:
            bad.append("%s ran %d times: %s" % (i, len(runs.get(i, [])), runs.get(i)))
    for i in jobs:
        if i not in orders:
            bad.append("job %s has no order" % i)
        elif i not in want:
            bad.append("job %s (%s) was never acknowledged" % (i, orders[i]))
    rej = [n for _, n in walk("rejected") if not n.endswith(".why")]
    for n in rej:
        tag = n.split(".", 1)[1].rsplit(".", 1)[0]
        if tag not in cut:
            bad.append("rejected/%s: not a drop the full disk cut short" % n)
    for t in sorted(cut):
        if not any(n.split(".", 1)[1] == t + ".json" for n in rej):
            bad.append("the cut-short drop %s.json is not in rejected/" % t)
    print("after the drain: %d jobs acknowledged (%d by drops), %d runs, %d rejected drops"
          % (len(want), len(made), sum(len(v) for v in runs.values()), len(rej)))
for b in bad[:40]:
    print("fulldisk:", b, file=sys.stderr)
if len(bad) > 40:
    print("fulldisk: ... %d problems in all" % len(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
set +e
python3 judge.py "$SPOOL" before 3
before_rc=$?
set -e

# --- 2. everything refused is submitted again ------------------------------------------------
python3 - "$PORT" "$SPOOL" "$BIN/spoolctl" <<'EOF' || fail "a retry with space back was refused (above)"
import http.client, json, os, subprocess, sys
port, spool, spoolctl = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ops = [json.loads(l) for l in open("answers.jsonl")]
out = open("answers2.jsonl", "w")
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
bad = n = 0
for r in ops:
    if r["answer"] in ("201", "0", "made"):
        continue
    n += 1
    if r["ch"] in ("http", "bulk"):
        conn.request("POST", "/v1/jobs", r["body"])
        resp = conn.getresponse(); b = resp.read()
        ans = str(resp.status)
        if resp.status != 201 or json.loads(b)["ids"] != r["ids"]:
            print("retry of %s: %d %s" % (r["ids"], resp.status, b[:200])); bad += 1
    elif r["ch"] == "spoolctl":
        p = subprocess.run([spoolctl, "--spool", spool, "submit", "--id", r["ids"][0], r["file"]],
                           capture_output=True, text=True)
        ans = {0: "0", 4: "exit 4 (taken)"}.get(p.returncode, "exit %d" % p.returncode)
        if p.returncode not in (0, 4):
            print("retry of spoolctl %s: %s %s" % (r["ids"][0], ans, p.stderr)); bad += 1
    else:	# the drop again, whole, by rename (the cut one stays, to be rejected)
        new = os.path.join(spool, "new")
        tmp = os.path.join(new, ".%s.retry" % r["tag"])
        with open(tmp, "w") as f:
            f.write(r["data"])
        os.rename(tmp, os.path.join(new, r["tag"] + ".again.json"))
        ans = "made"
    rr = dict(r); rr["answer"] = ans; rr["retry"] = True
    out.write(json.dumps(rr) + "\n")
out.close()
print("retried %d operations" % n)
sys.exit(1 if bad else 0)
EOF

# --- 3. run everything, then judge by the files --------------------------------------------
# every drop ingested or rejected: none left in new/, none taken into tmp/
# (no process died here, so none may wait there to go stale)
drops_settled() {
	! ls "$SPOOL/new" | grep -v '^\.' | grep -qv '^[0-9]\{4\}\.' &&
	! ls "$SPOOL/tmp" | grep -q '\.drop\.'
}
for i in $(seq 1 400); do drops_settled && break; sleep 0.05; done
drops_settled || echo "drops not settled after 20 s: new/: $(ls "$SPOOL/new" | grep -v '^[0-9]\{4\}\.' | head -5 | tr '\n' ' ') tmp/: $(ls "$SPOOL/tmp" | grep '\.drop\.' | head -5 | tr '\n' ' ')"
"$BIN/runner" --boss "$URL" --scripts scripts --name fd --slots 2 --drain \
	--outbox "$TESTDIR/outbox" --workdir "$TESTDIR/work" 2>runner.log ||
	fail "runner --drain exited $?: $(tail -5 runner.log)"
kill -0 "$SPOOLD_PID" || fail "spoold died"
set +e
python3 judge.py "$SPOOL" after
after_rc=$?
python3 "$TOP/tests/spoolcheck.py" "$SPOOL" --quiet
sound=$?
$SC fsck >fsck.out 2>&1
fsck_rc=$?
set -e
echo "tmp/ holds $(ls "$SPOOL/tmp" | wc -l) files; fsck exit $fsck_rc"
sed -n '1,10s/^/  fsck: /p' fsck.out
[ $before_rc = 0 ] || fail "a refused submit left a half-accepted job (above)"
[ $after_rc = 0 ] || fail "after the space came back, not every answer was true (above)"
[ $sound = 0 ] || fail "the spool is not sound (above)"
[ $fsck_rc = 0 ] || fail "fsck found problems (exit $fsck_rc)"
echo ok
