#!/usr/bin/env bash
# The runner against real scripts, in local mode on a spool: a script that
# succeeds, exits 3, dies on SIGSEGV, hangs past its timeout, prints no JSON,
# prints 50 MiB, reads its job from stdin, and a job whose scriptName is
# ../x. Each ends with the right outcome and log, and the one runner keeps
# working through all of them (and exits 0 with --drain).
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/ok.sh <<'S'
#!/bin/sh
echo "env $SPOOL_JOB_ID $SPOOL_ORDER_ID $SPOOL_ATTEMPT $SPOOL_SLOT $SPOOL_WORKDIR cwd=$(pwd)"
echo "to stderr" >&2
echo '{"status":200,"loss":1.5,"metric":2.5}'
echo 'not json: a trailing line'
S
cat >scripts/exit3.sh <<'S'
#!/bin/sh
echo '{"loss":9}'
echo "something went wrong" >&2
exit 3
S
cat >scripts/segv.sh <<'S'
#!/bin/sh
echo "about to crash" >&2
kill -SEGV $$
S
cat >scripts/hang.sh <<'S'
#!/bin/sh
echo "hanging" >&2
sleep 60 & echo $! >"$SPOOL_WORKDIR/../../hang-child.pid"
wait
S
cat >scripts/nojson.sh <<'S'
#!/bin/sh
echo "just text"
echo '{"almost": json'
S
cat >scripts/big.sh <<'S'
#!/bin/sh
head -c 52428800 /dev/zero | tr '\0' 'x' | fold -w 1000
echo
echo '{"loss":0.25}'
S
cat >scripts/stdin.py <<'S'
import json, os, sys
job = json.load(sys.stdin)
arg = json.loads(sys.argv[1])
print(json.dumps({"loss": job["lr"], "same": job == arg, "id": job["_id"],
                  "assignmentId": job["assignmentId"],
                  "env": os.environ["SPOOL_JOB_ID"], "cwd": os.getcwd()}))
S
cat >scripts/mem.py <<'S'
import time
block = bytearray(60 * 1000 * 1000)
for i in range(0, len(block), 4096):
    block[i] = 1
t = time.process_time()
while time.process_time() - t < 0.3:
    pass
print('{"loss": 0}')
S
cat >scripts/x <<'S'
#!/bin/sh
echo '{"escaped": true}'
S
cat >scripts/s422.sh <<'S'
#!/bin/sh
echo '{"status":422,"error":"no such column","loss":null}'
S
cp scripts/x ./x			# what ../x would reach from scripts/
chmod +x scripts/*.sh scripts/x ./x

$SC init
sub() { echo "$1" | $SC submit -; }
ok=$(sub '{"scriptName":"ok.sh","spool":{"maxAttempts":1}}')
e3=$(sub '{"scriptName":"exit3.sh","spool":{"maxAttempts":1}}')
sg=$(sub '{"scriptName":"segv.sh","spool":{"maxAttempts":1}}')
hg=$(sub '{"scriptName":"hang.sh","spool":{"maxAttempts":1,"timeout":1}}')
nj=$(sub '{"scriptName":"nojson.sh","spool":{"maxAttempts":1}}')
bg=$(sub '{"scriptName":"big.sh","spool":{"maxAttempts":1}}')
si=$(sub '{"scriptName":"stdin.py","lr":0.125,"spool":{"maxAttempts":1}}')
dx=$(sub '{"scriptName":"../x","spool":{"maxAttempts":1}}')
dy=$(sub '{"scriptName":"../y"}')	# three attempts allowed: a refused name needs one
mm=$(sub '{"scriptName":"mem.py","spool":{"maxAttempts":1}}')
ok2=$(sub '{"scriptName":"ok.sh","spool":{"maxAttempts":1}}')
s4=$(sub '{"scriptName":"s422.sh"}')	# three attempts allowed: a 4xx needs one

start=$(date +%s)
"$BIN/runner" --spool spool --scripts scripts --drain --name t1 --grace 1 \
	--workdir "$TESTDIR/work" --poll-ms 50 2>runner.log &&
	fail "runner exited 0 with failed jobs: $(cat runner.log)"
[ $? = 1 ] || fail "runner exited $?, not 1 (jobs failed): $(cat runner.log)"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "runner took too long"

# field OBJ-JSON PATH: print a field of `show --json` with python
field() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d.get(k) if isinstance(d, dict) else None
print('null' if d is None else json.dumps(d) if not isinstance(d, str) else d)" "$2"; }
log() { $SC show "$1" --json --log | python3 -c "import json,sys; print(json.load(sys.stdin).get('log') or '')"; }

assert_eq done "$(field "$ok" order.state)" "ok.sh state"
assert_eq 1.5 "$(field "$ok" outcome.loss)" "ok.sh loss"
assert_eq 0 "$(field "$ok" outcome._run.exit)" "ok.sh exit"
assert_eq t1 "$(field "$ok" outcome._run.worker)" "ok.sh worker"
assert_match "env $ok $ok 1 0 $TESTDIR/work/$ok.1 cwd=$TESTDIR/work/$ok.1" "$(log "$ok")" "ok.sh environment"
assert_match "to stderr" "$(log "$ok")" "ok.sh log has stderr"
assert_match '\[runner: exit code 0' "$(log "$ok")" "ok.sh log trailer"
assert_eq done "$(field "$ok2" order.state)" "second ok.sh state"
[ ! -e "$TESTDIR/work/$ok.1" ] || fail "work dir of ok.sh left behind"

# a script that exits 0 but reports a 4xx status: the job itself is wrong
assert_eq failed "$(field "$s4" order.state)" "exit 0 with status 422: state"
assert_eq 1 "$(field "$s4" order.attempt)" "exit 0 with status 422: attempts"
assert_eq "no such column" "$(field "$s4" outcome.error)" "exit 0 with status 422: the script's outcome"

assert_eq failed "$(field "$e3" order.state)" "exit3 state"
assert_eq "exit code 3" "$(field "$e3" outcome.error)" "exit3 error"
assert_eq 3 "$(field "$e3" outcome._run.exit)" "exit3 exit"
assert_match "something went wrong" "$(field "$e3" outcome.stderrTail)" "exit3 stderr tail"
assert_eq '{"loss": 9}' "$(field "$e3" outcome.output)" "exit3 output kept"

assert_eq failed "$(field "$sg" order.state)" "segv state"
assert_eq "killed by signal 11 (SIGSEGV)" "$(field "$sg" outcome.error)" "segv error"
assert_eq SIGSEGV "$(field "$sg" outcome._run.signal)" "segv signal"
assert_match "about to crash" "$(field "$sg" outcome.stderrTail)" "segv stderr tail"

assert_eq failed "$(field "$hg" order.state)" "hang state"
assert_eq "timed out after 1 s" "$(field "$hg" outcome.error)" "hang error"
assert_eq true "$(field "$hg" outcome._run.timedOut)" "hang timedOut"
assert_match "hanging" "$(log "$hg")" "hang log"
! kill -0 "$(cat hang-child.pid)" 2>/dev/null || fail "a hung script's child survived its group's kill"

assert_eq failed "$(field "$nj" order.state)" "nojson state"
assert_eq "no JSON object on stdout" "$(field "$nj" outcome.error)" "nojson error"
assert_match "just text" "$(log "$nj")" "nojson log"

assert_eq done "$(field "$bg" order.state)" "big state"
assert_eq 0.25 "$(field "$bg" outcome.loss)" "big outcome"
assert_eq 52481243 "$(field "$bg" outcome._run.stdoutBytes)" "big stdout bytes"
log "$bg" >big.log
size=$(stat -c %s big.log)
[ "$size" -lt 1200000 ] || fail "big log not capped: $size bytes"
grep -Eq '^\[runner: output truncated: [0-9]+ of 52481243 bytes dropped here\]$' big.log ||
	fail "big log has no truncation marker: $(grep -a 'runner' big.log | cut -c1-200)"
grep -q '^{"loss":0.25}$' big.log || fail "big log lost its tail"

assert_eq done "$(field "$si" order.state)" "stdin state"
assert_eq 0.125 "$(field "$si" outcome.loss)" "stdin loss"
assert_eq true "$(field "$si" outcome.same)" "stdin job == argv job"
assert_eq "$si" "$(field "$si" outcome.assignmentId)" "stdin assignmentId"
assert_eq "$si" "$(field "$si" outcome.env)" "stdin SPOOL_JOB_ID"

assert_eq failed "$(field "$dx" order.state)" "../x state"
assert_match "refused: it contains '/'" "$(field "$dx" outcome.error)" "../x error"
assert_match "refused" "$(log "$dx")" "../x log"
assert_eq null "$(field "$dx" outcome.escaped)" "../x did not run"
# spoolctl log: every attempt's output, headed by its number
l=$($SC log "$ok")
assert_match "^=== attempt 1 ===" "$l" "spoolctl log header"
assert_match "to stderr" "$l" "spoolctl log keeps stderr"
assert_exit 3 $SC log 000000000000000000000000
assert_eq "failed 1 400" "$(field "$dy" order.state) $(field "$dy" order.attempt) $(field "$dy" outcome.status)" \
	"a refused script name fails at once (status 400), without using up its attempts"

assert_eq done "$(field "$mm" order.state)" "mem.py state"
[ "$(field "$mm" outcome._run.maxRssKb)" -gt 55000 ] || fail "peak memory: $(field "$mm" outcome._run.maxRssKb) KiB"
[ "$(field "$mm" outcome._run.cpuMs)" -ge 250 ] || fail "cpu time: $(field "$mm" outcome._run.cpuMs) ms"
[ "$(field "$mm" outcome._run.wallMs)" -ge 250 ] || fail "wall time: $(field "$mm" outcome._run.wallMs) ms"

assert_match "exiting \(1\): 5 done, 7 failed" "$(cat runner.log)" "runner summary"

# usage
"$BIN/runner" --help | grep -q -- "--boss URL" || fail "--help"
assert_exit 2 "$BIN/runner" --scripts scripts
assert_exit 2 "$BIN/runner" --spool spool --boss http://x --scripts scripts
assert_exit 2 "$BIN/runner" --spool spool --scripts scripts --name ../bad
assert_exit 2 "$BIN/runner" --spool spool --scripts scripts --tag 'bad tag'
assert_exit 2 "$BIN/runner" --spool spool --scripts nowhere
assert_exit 2 "$BIN/runner" --spool nospool --scripts scripts
echo "ok: $(( $(date +%s) - start )) s"

# scriptName rules, through --exec (one job, no queue)
refused() {
	printf '%s' "$1" >job.json
	set +e; out=$("$BIN/runner" --scripts scripts --exec job.json 2>/dev/null); rc=$?; set -e
	assert_eq 1 "$rc" "--exec exit for $1"
	assert_match "$2" "$out" "refusal of $1"
}
refused '{"scriptName":"ok\u0000.sh"}' 'contains NUL'
refused '{"scriptName":".hidden"}' "starts with '.'"
refused '{"scriptName":"a..b"}' "contains '..'"
refused '{"scriptName":"/bin/sh"}' "contains '/'"
refused '{"scriptName":""}' "is empty"
refused '{"scriptName":"nope.sh"}' "not found in the scripts directory"
printf '{"scriptName":"ok.sh"}' >job.json
"$BIN/runner" --scripts scripts --exec job.json 2>/dev/null | grep -q '"loss":1.5' || fail "--exec ok.sh"
