#!/usr/bin/env bash
# The concurrent-claimers test on a shared file system that behaves like NFS
# (tests/nfsfs), with faults on: spoold on one client's mount takes 1,000
# jobs over HTTP while 5 runners (2 slots each) and 3 shell loops of
# `spoolctl claim` on the other client's mount claim them straight from the
# spool, and 3 HTTP workers claim them through spoold. One job in ten fails its first attempt and is retried. Renames that
# are made but answer ENOENT, links that are made but answer EEXIST, reads
# that answer ESTALE and slow fsyncs hit both clients. Every attempt of every
# order is run by exactly one claimant, nothing is lost, and the results are
# the ones the same jobs give on the local disk.
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"
N=${NFS_JOBS:-1000}
SC=$BIN/spoolctl

mkdir scripts
cat >scripts/job.sh <<'S'
#!/bin/sh
# the job is {"_id":...,"scriptName":"job.sh","n":N}: one in ten fails once
n=${1##*\"n\":}; n=${n%%[,\}]*}
echo "$SPOOL_JOB_ID $SPOOL_ATTEMPT $SPOOL_WORKER" >>"$RAN"
if [ $((n % 10)) = 0 ] && [ "$SPOOL_ATTEMPT" = 1 ]; then echo '{"status":500}'; exit 1; fi
echo "{\"n\":$n,\"loss\":$(( (n * n + 7) % 97 ))}"
S
chmod +x scripts/job.sh
python3 -c "
import json
print(json.dumps([{'scriptName': 'job.sh', 'n': i} for i in range($N)]))" >jobs.json

t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
# the same jobs on the local disk, by one runner: the results to match
export RAN=$TESTDIR/ran.local
$SC --spool local init
$SC --spool local submit jobs.json >/dev/null
"$BIN/runner" --spool local --scripts scripts --name local --slots 6 --drain --poll-ms 20 \
	--workdir "$TESTDIR/work-local" 2>local.log || fail "the local runner: $(tail -3 local.log)"

# results DIR: per job n, its state, attempts used and outcome
results() {
	python3 - "$1" <<'EOF'
import json, os, sys
spool = sys.argv[1]
rows = []
for st in ("new", "assigned", "held", "done", "failed", "cancelled"):
    for dirpath, _, files in os.walk(os.path.join(spool, st)):
        for name in files:
            f = name.split(".")
            oid, att = f[3], f[4]
            job = json.load(open(os.path.join(spool, "jobs", oid[-2:], oid + ".json")))
            out = "-"
            if len(f) > 6:
                p = os.path.join(spool, "outcomes", oid[-2:], "%s.%s.%s.json" % (oid, att, f[7]))
                # what the script said (the runner adds jobId and _run)
                d = json.load(open(p)) if os.path.exists(p) else {"MISSING": 1}
                out = json.dumps({k: v for k, v in sorted(d.items()) if k in ("n", "loss", "status", "MISSING")})
            rows.append("%d %s %s %s" % (job["n"], st, att, out))
print("\n".join(sorted(rows, key=lambda r: int(r.split()[0]))))
EOF
}
echo "local disk: $N jobs in $(ms) ms"
results local >results.local
assert_eq "$N" "$(grep -c ' done ' results.local)" "local: orders done"

# two clients of one server directory, each caching a second
mkdir back
nfs_mount back a --attr-ms 1000 --dir-ms 1000 --ctl "$TESTDIR/a.ctl" --stats "$TESTDIR/a.stats" --seed 11
nfs_mount back b --attr-ms 1000 --dir-ms 1000 --ctl "$TESTDIR/b.ctl" --stats "$TESTDIR/b.stats" --seed 22
$SC --spool a/spool init
faults='rename enoent-after 1/20
link eexist-after 1/20
read estale 1/100
fsync delay 1/50 20'
echo "$faults" >a.ctl
echo "$faults" >b.ctl
start_spoold "$TESTDIR/a/spool" --quiet

t0=$(date +%s%N)
export RAN=$TESTDIR/ran.nfs
: >"$RAN"
runners=()
for i in 1 2 3 4 5; do
	"$BIN/runner" --spool b/spool --scripts scripts --name "r$i" --slots 2 --poll-ms 50 \
		--workdir "$TESTDIR/work-r$i" 2>"r$i.log" &
	runners+=($!); PIDS+=($!)
done

# a worker written as a shell loop: claim, compute, complete (or fail)
claim_loop() {
	local name=$1 out id tok att n rc job
	while :; do
		set +e; out=$($SC --spool b/spool claim --worker "$name" --wait 1 2>>"$name.err"); rc=$?; set -e
		if [ $rc = 3 ]; then
			[ -e stop ] && return 0
			continue
		fi
		[ $rc = 0 ] || { echo "claim exited $rc" >>"$name.err"; sleep 0.1; continue; }
		read -r id tok att <<<"${out%%$'\n'*}"
		job=${out#*$'\n'}
		n=${job##*\"n\":}; n=${n%%[,\}]*}
		echo "$id $att $name" >>"$RAN"
		if [ $((n % 10)) = 0 ] && [ "$att" = 1 ]; then
			echo '{"status":500}' | $SC --spool b/spool fail "$id" "$tok" - >/dev/null 2>>"$name.err" ||
				echo "fail $id exited $?" >>"$name.err"
		else
			echo "{\"n\":$n,\"loss\":$(( (n * n + 7) % 97 ))}" |
				$SC --spool b/spool complete "$id" "$tok" - >/dev/null 2>>"$name.err" ||
				echo "complete $id exited $?" >>"$name.err"
		fi
	done
}
loops=()
for i in 1 2 3; do
	claim_loop "s$i" &
	loops+=($!); PIDS+=($!)
done

# an HTTP worker (one connection, long-polling claims) through spoold
cat > claimers.py <<'PY'
import http.client, json, os, sys
port, k, ran = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
while True:
    c.request("POST", "/v1/claim?worker=h%s&wait=1" % k)
    r = c.getresponse(); body = r.read()
    if r.status == 204:
        if os.path.exists("stop"): break
        continue
    assert r.status == 200, (r.status, body)
    d = json.loads(body); oid, tok, att = d["order"]["_id"], d["token"], d["attempt"]
    n = d["job"]["n"] if "job" in d else None
    with open(ran, "a") as f: f.write("%s %d h%s\n" % (oid, att, k))
    if n is None:
        c.request("GET", "/v1/jobs/%s" % oid); rr = c.getresponse(); n = json.loads(rr.read())["n"]
    if n % 10 == 0 and att == 1:
        c.request("POST", "/v1/orders/%s/fail?token=%s" % (oid, tok), json.dumps({"status": 500}))
    else:
        c.request("POST", "/v1/orders/%s/complete?token=%s" % (oid, tok), json.dumps({"n": n, "loss": (n * n + 7) % 97}))
    r2 = c.getresponse(); b2 = r2.read()
    assert r2.status == 200, (oid, r2.status, b2)
PY
hpids=()
for k in 1 2 3; do python3 claimers.py "$PORT" $k "$RAN" 2>h$k.err & hpids+=($!); PIDS+=($!); done

# submit while they claim: bulk arrays over HTTP, 100 at a time
python3 - "$URL" jobs.json >ids <<'EOF'
import json, sys, urllib.request
url, jobs = sys.argv[1], json.load(open(sys.argv[2]))
for start in range(0, len(jobs), 100):
    req = urllib.request.Request(url + "/v1/jobs", data=json.dumps(jobs[start:start + 100]).encode(), method="POST")
    with urllib.request.urlopen(req) as r:
        assert r.status == 201
        print("\n".join(json.loads(r.read())["ids"]))
EOF
assert_eq "$N" "$(sort -u ids | wc -l)" "distinct ids submitted"

# (counted on the server: a listing of every fan-out directory through a
# mount, 20 times a second, would be most of the load)
finished() { [ "$(find back/spool/done back/spool/failed -type f | wc -l)" = "$N" ]; }
# (a generous deadline, well within tests/run's, so that a failure says what)
end=$((SECONDS + 150))
until finished; do
	[ $SECONDS -lt $end ] || fail "after 150 s: $($SC --spool back/spool ls --json) of $N orders submitted"
	sleep 0.05
done
echo "nfsfs: $N jobs in $(ms) ms"
touch stop
for p in "${hpids[@]}"; do wait "$p" || fail "an HTTP worker failed: $(tail -3 h*.err)"; done
for p in "${loops[@]}"; do wait "$p" || fail "a claim loop failed"; done
for p in "${runners[@]}"; do kill -TERM "$p"; done
for p in "${runners[@]}"; do wait "$p" || true; done

# every attempt run by exactly one claimant, each order's attempts 1..k
sort "$RAN" >ran
dup=$(cut -d' ' -f1,2 ran | sort | uniq -d | sed -n 1,3p)
[ -z "$dup" ] || fail "an attempt was run twice: $dup"
assert_eq "$(sort -u ids)" "$(cut -d' ' -f1 ran | sort -u)" "the orders run are the orders submitted"
assert_eq "$(sort ran.local | cut -d' ' -f2 | sort | uniq -c)" "$(cut -d' ' -f2 ran | sort | uniq -c)" "attempts run, by number"
echo "runs: $(wc -l <ran) ($(cut -d' ' -f3 ran | sed 's/[0-9]*$//' | sort | uniq -c | tr '\n' ' '))"

results back/spool >results.nfs
diff results.local results.nfs >results.diff || fail "results differ from the local disk's: $(head -5 results.diff)"
assert_eq 0 "$(find back/spool/late -type f | wc -l)" "late outcomes"
assert_eq 0 "$(find back/spool/assigned back/spool/new -type f | wc -l)" "orders left queued or assigned"
$SC --spool back/spool fsck >fsck.out || fail "fsck: $(cat fsck.out)"
grep -h -i -E 'lost|cannot|error' r*.log s*.err | sort | uniq -c | sort -rn | head -10 || true

cleanup
nfs_umount_all
for rule in 'rename enoent-after' 'link eexist-after' 'read estale' 'fsync delay'; do
	n=$(cat a.stats b.stats | awk -v r="$rule" 'index($0, r) == 1 { n += $NF } END { print n + 0 }')
	[ "$n" -gt 0 ] || fail "fault '$rule' never fired: $(cat a.stats b.stats)"
done
for c in a b; do echo "client $c: $(tr '\n' ';' <$c.stats)"; done
echo ok
