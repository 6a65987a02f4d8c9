#!/usr/bin/env bash
# Checkpoints across attempts (issue 12, item 5), with the real programs.
# nn.py trains with a checkpoint every 5 epochs; its runner is preempted
# (SIGTERM) mid-training: the run is released, its checkpoint goes to the
# boss, and another runner resumes it: the outcome says resumedFromEpoch E
# and epochsRun = epochs - E, fewer than the epochs of the job, with the
# very loss of a run never stopped. Local and remote: attempts that time out
# or fail save the checkpoint, the next restores it; a script that deletes
# $SPOOL_CHECKPOINT_DIR gets a clear note and the job's last checkpoint is
# kept. What a crash leaves (a staged checkpoint in tmp/, two generations)
# is mended by fsck.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
export SPOOL_DATA_DIR=$TOP/data
mkdir scripts
cp "$TOP/runner/scripts/nn.py" scripts/
# counts its attempts in its checkpoint; hangs (HOW=hang) or fails (HOW=fail)
# until the third
cat >scripts/count.sh <<'S'
#!/bin/sh
C=${SPOOL_CHECKPOINT_DIR:?no SPOOL_CHECKPOINT_DIR}/n
n=$(cat "$C" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n >"$C"
echo "attempt $SPOOL_ATTEMPT: count $n"
if [ $n -lt 3 ]; then
	[ "$HOW" = hang ] && exec sleep 60
	exit 1
fi
echo "{\"status\":200,\"count\":$n}"
S
# attempt 1 leaves a checkpoint; attempt 2 deletes the directory; attempt 3
# reports what it found
cat >scripts/del.sh <<'S'
#!/bin/sh
D=${SPOOL_CHECKPOINT_DIR:?no SPOOL_CHECKPOINT_DIR}
case $SPOOL_ATTEMPT in
1) echo v1 >"$D/state"; exit 1 ;;
2) rm -rf "$D"; exit 1 ;;
esac
echo "{\"status\":200,\"saw\":\"$(cat "$D/state")\"}"
S
chmod +x scripts/*.sh
field() { python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d.get(k) if isinstance(d, dict) else None
print('null' if d is None else json.dumps(d) if not isinstance(d, str) else d)" "$1"; }
sfield() { $SC show "$1" --json | field "$2"; }

# ---- nn.py preempted mid-training, resumed on another runner (remote) ---------------
start_spoold "$TESTDIR/spool"
submit() { curl -sf -XPOST "$URL/v1/jobs" -d "$1" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])"; }
NN='{"scriptName":"nn.py","dataFileName":"wine_data.csv","dependentVariable":"alcohol","epochs":150,"checkpointEvery":5}'
j=$(submit "$NN")
"$BIN/runner" --boss "$URL" --scripts scripts --name r1 --drain-timeout 0 \
	--outbox "$TESTDIR/ob1" --workdir "$TESTDIR/work" 2>r1.log &
R1=$!; PIDS+=($R1)
# (grep, not python: the poll must be cheap) a checkpoint at epoch 20 or later
at() { grep -Eq '"epoch": ([2-9][0-9]|[1-9][0-9][0-9])[,}]' "work/$j.1/spool-checkpoint/nn-fit-0.json"; }
WAIT_S=90 wait_for at
kill -TERM $R1
assert_exit 143 wait $R1
assert_match "$j attempt 1: released" "$(cat r1.log)" "the preempted run is released"
assert_eq new "$(sfield "$j" order.state)" "back in the queue"
assert_eq 0 "$(sfield "$j" order.attempt)" "no attempt spent"
curl -sf -o ckpt.pack "$URL/v1/jobs/$j/checkpoint" || fail "the boss has no checkpoint"
assert_match "nn-fit-0.json" "$(head -c 200 ckpt.pack)" "the checkpoint at the boss holds nn.py's state"
"$BIN/runner" --boss "$URL" --scripts scripts --name r2 --drain \
	--outbox "$TESTDIR/ob2" --workdir "$TESTDIR/work2" 2>r2.log || fail "r2 exited $?: $(cat r2.log)"
o=$($SC show "$j" --json | field outcome)
e=$(field resumedFromEpoch <<<"$o")
[ "$e" -ge 20 ] && [ "$e" -lt 150 ] || fail "resumedFromEpoch is $e, not between 20 and 149"
assert_eq $((150 - e)) "$(field epochsRun <<<"$o")" "epochsRun: only what was left"
assert_eq 150 "$(field epochs <<<"$o")" "the job's epochs in all"
# (nn.py's state, and maybe the tmp file it was writing when the runner was
# stopped: a save takes the directory as the script left it)
n=$(field _run.checkpoint.restored <<<"$o")
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "the run record says $n files were restored, not 1 or 2"
log=$(curl -sf "$URL/v1/orders/$j/log")
assert_match "resumed from the checkpoint at epoch $e" "$log" "nn.py says where it resumed"
assert_match "\[runner: this attempt started from the job's checkpoint" "$log" "the runner says so"
# the same loss as a run never stopped
full=$(python3 scripts/nn.py "$NN" | tail -1)
assert_eq "$(field loss <<<"$full")" "$(field loss <<<"$o")" "resumed loss = uninterrupted loss"
assert_eq 0 "$(field resumedFromEpoch <<<"$full")" "the direct run started from nothing"

# ---- failed attempts save it, the next restore it (remote) ---------------------------
c=$(submit '{"scriptName":"count.sh","spool":{"maxAttempts":5}}')
HOW=fail "$BIN/runner" --boss "$URL" --scripts scripts --name r3 --drain \
	--outbox "$TESTDIR/ob3" --workdir "$TESTDIR/work3" 2>r3.log || [ $? = 1 ] || fail "r3 exited $?: $(cat r3.log)"
assert_eq 3 "$(sfield "$c" outcome.count)" "remote: the count carried over two failed attempts"
assert_eq 3 "$(sfield "$c" order.attempt)" "remote: three attempts"
# a pack from outside is checked: bad ones refused, the checkpoint unchanged
b=$(submit '{"scriptName":"count.sh"}')
tok=$(curl -sf -XPOST "$URL/v1/claim?worker=probe" | field token)
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
assert_eq 400 "$(code -XPOST --data-binary 'not a pack' "$URL/v1/jobs/$b/checkpoint?token=$tok")" "garbage (400)"
printf 'spool-checkpoint 1\nF 2 ../evil-%s\nhiE\n' "$b" >evil.pack
assert_eq 400 "$(code -XPOST --data-binary @evil.pack "$URL/v1/jobs/$b/checkpoint?token=$tok")" "a file named ../evil-ID (400)"
printf 'spool-checkpoint 1\nF 99 n\nhiE\n' >short.pack
assert_eq 400 "$(code -XPOST --data-binary @short.pack "$URL/v1/jobs/$b/checkpoint?token=$tok")" "a size past the end (400)"
assert_eq 409 "$(code -XPOST --data-binary @ckpt.pack "$URL/v1/jobs/$b/checkpoint?token=0123456789abcdef")" "not its claim (409)"
assert_eq 404 "$(code "$URL/v1/jobs/$b/checkpoint")" "nothing was stored"
printf 'spool-checkpoint 1\nF 2 n\n7\nE\n' >good.pack
assert_eq 200 "$(code -XPOST --data-binary @good.pack "$URL/v1/jobs/$b/checkpoint?token=$tok")" "a good pack (200)"
cmp good.pack <(curl -sf "$URL/v1/jobs/$b/checkpoint") || fail "the checkpoint read back differs"
[ ! -e "../evil-$b" ] && [ ! -e "spool/evil-$b" ] && [ ! -e "spool/tmp/evil-$b" ] || fail "a pack wrote outside its directory"
assert_eq 0 "$(ls spool/tmp | wc -l)" "nothing left in tmp/"
curl -sf -XPOST "$URL/v1/orders/$b/cancel" >/dev/null
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || true

# ---- attempts killed by their timeout (local) -----------------------------------------
t=$(echo '{"scriptName":"count.sh","spool":{"maxAttempts":5,"timeout":1}}' | $SC submit -)
HOW=hang "$BIN/runner" --spool spool --scripts scripts --name l1 --drain --poll-ms 50 --grace 1 \
	--workdir "$TESTDIR/work4" 2>l1.log || [ $? = 1 ] || fail "l1 exited $?: $(cat l1.log)"
assert_eq 3 "$(sfield "$t" outcome.count)" "local: the count carried over two timeouts"
ff=${t: -2}
assert_eq 1 "$(ls "spool/checkpoints/$ff/$t" | wc -l)" "one generation in the spool"
assert_eq 2 "$(cat spool/checkpoints/$ff/$t/*/n)" "the checkpoint is the last failed attempt's (a success saves none)"

# ---- a script that deletes its checkpoint directory (local) ------------------------------
d=$(echo '{"scriptName":"del.sh","spool":{"maxAttempts":3}}' | $SC submit -)
"$BIN/runner" --spool spool --scripts scripts --name l2 --drain --poll-ms 50 \
	--workdir "$TESTDIR/work5" 2>l2.log || [ $? = 1 ] || fail "l2 exited $?: $(cat l2.log)"
assert_eq done "$(sfield "$d" order.state)" "the job still ends"
assert_eq v1 "$(sfield "$d" outcome.saw)" "the last checkpoint was kept, nothing lost"
o2=$(cat spool/outcomes/${d: -2}/$d.002.*.json)
assert_match "SPOOL_CHECKPOINT_DIR was removed by the script: no checkpoint saved, the job's last one is kept" \
	"$(field _run.checkpoint.note <<<"$o2")" "attempt 2's record says so"
assert_match "\[runner: \\\$SPOOL_CHECKPOINT_DIR was removed by the script" "$($SC log "$d")" "and its log"

# ---- what a crash leaves: mended by fsck ----------------------------------------------------
g=spool/checkpoints/${d: -2}/$d
gen=$(ls "$g")
cp -r "$g/$gen" "$g/000000000000000000000001"	# an older generation a cut save left
mkdir "spool/tmp/000000000000000000000002.ckpt.$d"	# a save cut before its rename
echo half >"spool/tmp/000000000000000000000002.ckpt.$d/state"
set +e; rep=$($SC fsck --repair --tmp-age 0 2>&1); rc=$?; set -e
assert_eq 5 "$rc" "fsck found the leftovers: $rep"
assert_match "checkpoint of job $d never put in place" "$rep" "fsck: the staged checkpoint"
assert_match "1 older checkpoint generation beside the newest" "$rep" "fsck: the older generation"
assert_eq "$gen" "$(ls "$g")" "the newest generation is kept, the older removed"
[ ! -e "spool/tmp/000000000000000000000002.ckpt.$d" ] || fail "the staged checkpoint is still in tmp/"
assert_exit 0 $SC fsck
