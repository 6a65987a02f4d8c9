#!/usr/bin/env bash
# No process of a job outlives its runner, by any death (issue 11, defect 4):
# a script that forks a grandchild sleeping for ever (and one that leaves
# the process group and the session with setsid), its runner SIGKILLed:
# both are gone soon after, in local and remote mode. The next
# runner started on the same --workdir removes the run directory the dead
# one left, and an outbox's half-written files of a dead runner are removed
# at the next start.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/fork.sh <<'S'
#!/bin/sh
sleep 100000 &
echo $! >"$SPOOL_WORKDIR/../../grandchild-$SPOOL_JOB_ID"
# one that leaves the job's process group and session, as a daemon does
setsid sleep 100001 &
echo $! >"$SPOOL_WORKDIR/../../escapee-$SPOOL_JOB_ID"
echo $$ >"$SPOOL_WORKDIR/../../script-$SPOOL_JOB_ID"
wait
S
printf '#!/bin/sh\necho "{\\"loss\\": 1}"\n' >scripts/ok.sh
chmod +x scripts/*.sh
$SC init
sub() { echo "$1" | $SC submit -; }
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
gone() { ! alive "$1"; }

# kill9 JOB RUNNER-ARGS...: run JOB's script under a runner, SIGKILL the runner
kill9() {
	local job=$1; shift
	"$BIN/runner" --scripts scripts --workdir "$TESTDIR/work" "$@" 2>>runner.log &
	local R=$!
	wait_for test -s "grandchild-$job"
	wait_for test -s "script-$job"
	wait_for test -s "escapee-$job"
	g=$(cat "grandchild-$job"); s=$(cat "script-$job"); e=$(cat "escapee-$job")
	alive "$g" || fail "the grandchild is not running"
	wait_for alive "$e"
	[ "$(ps -o sid= -p "$e" | tr -d ' ')" != "$(ps -o sid= -p "$s" | tr -d ' ')" ] ||
		fail "the escapee did not leave the session"
	kill -KILL $R
	wait $R 2>/dev/null || true
	wait_for gone "$g"
	wait_for gone "$s"
	wait_for gone "$e"
}

j1=$(sub '{"scriptName":"fork.sh"}')
kill9 "$j1" --spool spool --poll-ms 50
[ -d "work/$j1.1" ] || fail "the dead runner's run directory should still be there"

# the next runner on this --workdir removes it (and leaves a kept one alone)
mkdir -p work/kept.1
echo '{"scriptName":"ok.sh"}' | $SC submit - >/dev/null
$SC cancel "$j1" >/dev/null
"$BIN/runner" --scripts scripts --workdir "$TESTDIR/work" --spool spool --drain --poll-ms 50 2>next.log
assert_match "removed 1 work directory of dead runners" "$(cat next.log)" "sweep logged"
[ ! -e "work/$j1.1" ] || fail "stale run directory left: $(ls -a work)"
[ -d work/kept.1 ] || fail "a directory without a lock file is not ours to remove"

# remote mode, and a half-written outbox file of a dead runner
start_spoold "$TESTDIR/spool"
j2=$(sub '{"scriptName":"fork.sh"}')
kill9 "$j2" --boss "$URL" --outbox "$TESTDIR/ob"
echo partial >"ob/tmp/$j2.1.0123456789abcdef.complete.$(hostname).999999999"
"$BIN/runner" --scripts scripts --workdir "$TESTDIR/work" --boss "$URL" --outbox "$TESTDIR/ob" \
	--drain --tag none 2>next2.log || true
[ -z "$(ls ob/tmp)" ] || fail "a dead runner's tmp file is left in the outbox: $(ls ob/tmp)"
