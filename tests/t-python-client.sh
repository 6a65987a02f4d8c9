#!/usr/bin/env bash
# The Python client (python/spool, standard library only, from the checkout
# with PYTHONPATH=python): a sweep end to end against a real spoold with a
# bearer token and a real remote runner, then against a spool directory with
# a real local runner: submit, wait with a progress line, results with the
# parameters and outcomes, leaderboard, log, cancel, requeue, and errors
# that carry the server's message (tests/python_client_test.py).
. "$TOP/tests/lib.sh"
export PYTHONPATH=$TOP/python SPOOLCTL=$BIN/spoolctl
mkdir scripts
cat >scripts/train.py <<'S'
#!/usr/bin/env python3
import json, sys
job = json.loads(sys.argv[1])
if not isinstance(job.get("lr"), (int, float)):
    print(json.dumps({"status": 400, "error": "lr must be a number"}))
    sys.exit(2)
print("training lr=%g layers=%s" % (job["lr"], job.get("layers")), file=sys.stderr)
print(json.dumps({"status": 200, "loss": round(abs(job["lr"] - 0.03) * 100 + job.get("layers", 0), 6)}))
S
chmod +x scripts/train.py
# the client reads a token file ending in a blank line as every program does
printf 'py-client-token-1\n\n' >token.blank
printf 'py-client-token-1\n' >token
chmod 600 token token.blank

start_spoold "$TESTDIR/boss-spool" --token-file "$TESTDIR/token"
"$BIN/runner" --boss "$URL" --token-file "$TESTDIR/token" --scripts "$TESTDIR/scripts" --slots 2 \
	--wait 1 --name py-remote --outbox "$TESTDIR/outbox" --workdir "$TESTDIR/work" 2>runner-remote.log &
PIDS+=($!)
python3 "$TOP/tests/python_client_test.py" boss "$URL" "$TESTDIR/token.blank" ||
	fail "the client against spoold (runner log: $(tail -5 runner-remote.log))"

"$BIN/spoolctl" --spool "$TESTDIR/dir-spool" init
"$BIN/runner" --spool "$TESTDIR/dir-spool" --scripts "$TESTDIR/scripts" --slots 2 --poll-ms 50 \
	--name py-local --workdir "$TESTDIR/work2" 2>runner-local.log &
PIDS+=($!)
python3 "$TOP/tests/python_client_test.py" dir "$TESTDIR/dir-spool" ||
	fail "the client on a spool directory (runner log: $(tail -5 runner-local.log))"
# what the client wrote is a sound spool
"$BIN/spoolctl" --spool "$TESTDIR/dir-spool" fsck >fsck.out || fail "fsck after the client: $(cat fsck.out)"
echo ok
