#!/usr/bin/env bash
# What a script gets (issue 11, defects 9 and 10): the runner's environment
# with only the variables the runner sets replaced (SPOOL_DATA_DIR and any
# other SPOOL_* pass through; a stale SPOOL_JOB_ID does not); a job of more
# than 128 KiB (the spool takes 1 MiB) runs, given on stdin and in
# $SPOOL_JOB_FILE instead of argv; a script that can never be started (no
# #! line) fails its job at once instead of three times.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
mkdir scripts
cat >scripts/env.sh <<'S'
#!/bin/sh
echo "{\"data\": \"${SPOOL_DATA_DIR-unset}\", \"other\": \"${SPOOL_MINE-unset}\", \"id\": \"$SPOOL_JOB_ID\"}"
S
cat >scripts/big.py <<'S'
import json, os, sys
stdin = json.load(sys.stdin)
f = json.load(open(os.environ["SPOOL_JOB_FILE"]))
print(json.dumps({"argc": len(sys.argv), "stdin": len(stdin["blob"]), "file": len(f["blob"]),
                  "same": stdin == f, "id": f["_id"]}))
S
printf 'echo no interpreter line\n' >scripts/noshebang
chmod +x scripts/env.sh scripts/noshebang
$SC init
sub() { $SC submit -; }
e=$(echo '{"scriptName":"env.sh"}' | sub)
big=$(python3 -c 'import json; print(json.dumps({"scriptName": "big.py", "blob": "x" * 300000}))' | sub)
small=$(echo '{"scriptName":"big.py","blob":"yy"}' | sub)
ns=$(echo '{"scriptName":"noshebang","spool":{"maxAttempts":3}}' | sub)
set +e
SPOOL_JOB_ID=stale SPOOL_DATA_DIR=/data/here SPOOL_MINE=7 "$BIN/runner" --spool spool --scripts scripts \
	--drain --poll-ms 50 --workdir "$TESTDIR/w" 2>runner.log
rc=$?
set -e
get() { $SC show "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['order']['state'], d['order']['attempt'], json.dumps({k: v for k, v in (d.get('outcome') or {}).items() if k in sys.argv[1].split(',')}, sort_keys=True))" "$2"; }
assert_eq "done 1 {\"data\": \"/data/here\", \"id\": \"$e\", \"other\": \"7\"}" "$(get "$e" data,other,id)" "environment"
assert_eq "done 1 {\"argc\": 1, \"file\": 300000, \"same\": true, \"stdin\": 300000}" "$(get "$big" argc,stdin,file,same)" "a 300 KiB job"
assert_eq "done 1 {\"argc\": 2, \"file\": 2, \"same\": true, \"stdin\": 2}" "$(get "$small" argc,stdin,file,same)" "a small job still has its argument"
assert_eq "failed 1" "$(get "$ns" status | cut -d' ' -f1-2)" "a script that cannot start: failed at once"
assert_eq 1 "$rc" "runner exit status (one job failed)"
