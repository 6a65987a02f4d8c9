#!/usr/bin/env bash
# Artifacts (issue 12, item 4) and what ran (item 6), with the real programs.
# A script writes files to $SPOOL_ARTIFACTS_DIR: one ordinary, one over the
# runner's cap, one with a name no path may have, a subdirectory. A remote
# runner uploads them to the boss; after it has exited they are listed and
# fetched from the boss (route and spoolctl), bytes equal to what the script
# wrote; what was refused is in the log and the run record, the job still
# done. A local runner keeps them in the spool (artifacts/FF/ID/NAME), and a
# tar of the spool restores them. Bad input at the route: a name with '/'
# or '..' (400), a job that does not exist (404), a wrong token (409), a
# body over the cap (413). The run record names the script's sha256
# (sha256sum's) and the scripts directory's git commit (git rev-parse HEAD's),
# loose ref and packed; a command job names its program's sha256.
. "$TOP/tests/lib.sh"
SC="$BIN/spoolctl --spool $TESTDIR/spool"
command -v git >/dev/null || { echo "SKIP: git is missing"; exit 77; }
mkdir scripts
cat >scripts/art.sh <<'S'
#!/bin/sh
set -e
A=${SPOOL_ARTIFACTS_DIR:?the runner sets no SPOOL_ARTIFACTS_DIR}
head -c 300000 /dev/urandom >"$A/model.bin"
cp "$A/model.bin" "$SPOOL_WORKDIR/../../model-$SPOOL_JOB_ID.bin"
echo "epochs: 3" >"$A/report.txt"
head -c 2000000 /dev/zero >"$A/big.bin"
echo x >"$A/bad name"
mkdir "$A/sub"; echo y >"$A/sub/inner.txt"
echo "wrote the artifacts"
echo '{"status":200,"loss":0.5}'
S
cat >scripts/prog <<'S'
#!/bin/sh
echo '{"status":200,"loss":1}'
S
chmod +x scripts/art.sh scripts/prog
# the scripts directory is a git checkout
git -C scripts init -q
git -C scripts -c user.email=t@t -c user.name=t add art.sh prog
git -C scripts -c user.email=t@t -c user.name=t commit -qm scripts
head=$(git -C scripts rev-parse HEAD)
sha=$(sha256sum scripts/art.sh | cut -d' ' -f1)
psha=$(sha256sum scripts/prog | cut -d' ' -f1)
CAPS=--artifact-max=1000000,268435456,1000

field() { python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d.get(k) if isinstance(d, dict) else (d[int(k)] if isinstance(d, list) and k.isdigit() and int(k) < len(d) else None)
print('null' if d is None else json.dumps(d) if not isinstance(d, str) else d)" "$1"; }
refused() { python3 -c "
import json, sys
r = json.load(sys.stdin)['outcome']['_run']['artifacts']['refused']
print(' | '.join('%s: %s' % (x['name'], x['why']) for x in r))"; }

# ---- remote: uploaded to the boss, fetched after the runner exited ----------------
start_spoold "$TESTDIR/spool"
submit() { curl -sf -XPOST "$URL/v1/jobs" -d "$1" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['ids'][0])"; }
j=$(submit '{"scriptName":"art.sh","spool":{"maxAttempts":1}}')
"$BIN/runner" --boss "$URL" --scripts scripts --name rem --drain $CAPS \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/work" 2>rem.log || fail "runner exited $?: $(cat rem.log)"
out=$($SC show "$j" --json)
assert_eq done "$(field order.state <<<"$out")" "the job is done, whatever was refused"
list=$(curl -sf "$URL/v1/jobs/$j/artifacts")
assert_eq "model.bin report.txt" "$(python3 -c "import json,sys; print(' '.join(a['name'] for a in json.load(sys.stdin)))" <<<"$list")" \
	"GET /v1/jobs/ID/artifacts lists what was kept"
assert_eq "$(sha256sum "model-$j.bin" | cut -d' ' -f1)" \
	"$(python3 -c "import json,sys; print([a['sha256'] for a in json.load(sys.stdin) if a['name']=='model.bin'][0])" <<<"$list")" \
	"the list's sha256 is the file's"
assert_eq 300000 "$(python3 -c "import json,sys; print([a['size'] for a in json.load(sys.stdin) if a['name']=='model.bin'][0])" <<<"$list")" "size"
curl -sf -o got-rem.bin -D hdr "$URL/v1/jobs/$j/artifacts/model.bin"
cmp "model-$j.bin" got-rem.bin || fail "the artifact fetched from the boss differs from what the script wrote"
assert_match "application/octet-stream" "$(cat hdr)" "an artifact's content type"
$BIN/spoolctl artifacts "$j" model.bin -o got-ctl.bin --boss "$URL"
cmp "model-$j.bin" got-ctl.bin || fail "spoolctl artifacts -o (boss) differs"
assert_match "300000  [0-9a-f]{64}  model.bin" "$($BIN/spoolctl artifacts "$j" --boss "$URL")" "spoolctl artifacts lists"
assert_eq "epochs: 3" "$($BIN/spoolctl artifacts "$j" report.txt --boss "$URL")" "spoolctl artifacts NAME to stdout"
r=$(refused <<<"$out")
assert_match "bad name: name has a character outside" "$r" "a bad name is refused, and why"
assert_match "big.bin: 2000000 bytes, over the cap of 1000000 bytes a file" "$r" "over the cap, and why"
assert_match "sub: a subdirectory: only files at the top" "$r" "a subdirectory is refused, and why"
assert_eq 2 "$(field _run.artifacts.kept <<<"$(field outcome <<<"$out")")" "the record counts what was kept"
log=$(curl -sf "$URL/v1/orders/$j/log")
assert_match "\[runner: artifact 'big.bin' not kept: 2000000 bytes, over the cap" "$log" "the log says what was refused"
assert_match "wrote the artifacts" "$log" "the script's own log is there"
# what ran
o=$(field outcome <<<"$out")
assert_eq "$sha" "$(field _run.script.sha256 <<<"$o")" "the run record's sha256 is sha256sum's"
assert_eq "$head" "$(field _run.script.commit <<<"$o")" "the run record's commit is git rev-parse HEAD's"

# bad input at the routes
tok=$(curl -sf "$URL/v1/orders/$j" | field token)
[ -n "$tok" ] && [ "$tok" != null ] || tok=0123456789abcdef
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
assert_eq 400 "$(code -XPOST --data-binary x "$URL/v1/jobs/$j/artifacts/..%2Fetc?token=$tok")" "a name with '/' (400)"
assert_eq 400 "$(code --path-as-is -XPOST --data-binary x "$URL/v1/jobs/$j/artifacts/..?token=$tok")" "a name '..' (400)"
assert_eq 400 "$(code --path-as-is "$URL/v1/jobs/$j/artifacts/..")" "GET of '..' (400)"
assert_eq 400 "$(code -XPOST --data-binary x "$URL/v1/jobs/$j/artifacts/.hidden?token=$tok")" "a leading dot (400)"
assert_eq 404 "$(code "$URL/v1/jobs/0123456789abcdef01234567/artifacts")" "a job that does not exist (404)"
assert_eq 404 "$(code "$URL/v1/jobs/0123456789abcdef01234567/artifacts/x.bin")" "its artifact (404)"
assert_eq 404 "$(code "$URL/v1/jobs/$j/artifacts/nothere.bin")" "an artifact that is not there (404)"
assert_eq 409 "$(code -XPOST --data-binary x "$URL/v1/jobs/$j/artifacts/x.bin?token=0123456789abcdef")" "not the job's claim (409)"
truncate -s $((64 * 1048576 + 1)) huge.bin
assert_eq 413 "$(code -XPOST --data-binary @huge.bin "$URL/v1/jobs/$j/artifacts/huge.bin?token=0123456789abcdef")" \
	"a body over the cap (413), refused before it is read"
assert_eq "model.bin report.txt" "$(curl -sf "$URL/v1/jobs/$j/artifacts" | python3 -c "import json,sys; print(' '.join(a['name'] for a in json.load(sys.stdin)))")" \
	"nothing else of the job lost"
kill -0 "$SPOOLD_PID" || fail "spoold died"

# a command job: the program's sha256; a packed ref: the commit still found
git -C scripts pack-refs --all
[ ! -e scripts/.git/refs/heads/"$(git -C scripts symbolic-ref --short HEAD)" ] || fail "the ref was not packed"
c=$(submit '{"command":["prog"],"spool":{"maxAttempts":1}}')
"$BIN/runner" --boss "$URL" --scripts scripts --name rem2 --drain \
	--outbox "$TESTDIR/ob" --workdir "$TESTDIR/work" 2>rem2.log || fail "runner exited $?: $(cat rem2.log)"
o=$($SC show "$c" --json | field outcome)
assert_eq "$psha" "$(field _run.script.sha256 <<<"$o")" "a command job names its program's sha256"
assert_eq "$head" "$(field _run.script.commit <<<"$o")" "the commit from packed-refs"
kill -TERM "$SPOOLD_PID"; wait "$SPOOLD_PID" || true

# ---- local: in the spool, and in a tar of it --------------------------------------
l=$(echo '{"scriptName":"art.sh","spool":{"maxAttempts":1}}' | $SC submit -)
"$BIN/runner" --spool spool --scripts scripts --name loc --drain --poll-ms 50 $CAPS \
	--workdir "$TESTDIR/work" 2>loc.log || fail "local runner exited $?: $(cat loc.log)"
out=$($SC show "$l" --json)
assert_eq done "$(field order.state <<<"$out")" "local: done"
ff=${l: -2}
cmp "model-$l.bin" "spool/artifacts/$ff/$l/model.bin" || fail "local: not in the spool as artifacts/FF/ID/NAME"
[ ! -e "spool/artifacts/$ff/$l/big.bin" ] || fail "local: the file over the cap was kept"
assert_match "big.bin: 2000000 bytes, over the cap" "$(refused <<<"$out")" "local: the refusal is in the record"
assert_match "\[runner: artifact 'big.bin' not kept" "$($SC log "$l")" "local: and in the log"
assert_match "300000  [0-9a-f]{64}  model.bin" "$($SC artifacts "$l")" "local: spoolctl artifacts lists"
$SC artifacts "$l" model.bin -o got-loc.bin
cmp "model-$l.bin" got-loc.bin || fail "local: spoolctl artifacts -o differs"
assert_eq "$sha" "$(field _run.script.sha256 <<<"$(field outcome <<<"$out")")" "local: sha256"
assert_exit 3 $SC artifacts "$l" nothere.bin
assert_exit 2 $SC artifacts "$l" ../x
# a tar of the spool backs them up
tar -C spool -cf backup.tar .
mkdir restored && tar -C restored -xf backup.tar
$BIN/spoolctl --spool restored fsck --repair >/dev/null || true
$BIN/spoolctl --spool restored artifacts "$l" model.bin >got-tar.bin
cmp "model-$l.bin" got-tar.bin || fail "the artifact restored from tar differs"
cmp "model-$j.bin" "restored/artifacts/${j: -2}/$j/model.bin" || fail "the remote run's artifact restored from tar differs"
assert_eq 0 "$(ls spool/tmp | wc -l)" "nothing left in tmp/"
