#!/usr/bin/env bash
# spoolctl as a new user meets it (issue 13): a command job from the shell
# (spoolctl submit -- PROG ARGS, --set, {key} placeholders checked at submit
# by spoolctl and by spoold), export to CSV and JSON lines, one token-file
# rule (a token file ending in a blank works for spoold and spoolctl alike,
# --boss and the token from $SPOOL_BOSS and $SPOOL_TOKEN_FILE), and the
# rough edges: top --limit 1 shows parameters, top --key/--sweep with no
# match say what exists, fsck says when clean, a missing spool suggests what
# to do, --version, sweep without init.
#
# Each part runs on its own and the failures are listed at the end, so a run
# against an older build shows every part that fails there.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
S="$SC --spool $TESTDIR/sp"
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
FAILED=()
# part NAME FUNCTION: run it in a subshell that stops what it started
part() { local name=$1; shift; ( set -euo pipefail; PIDS=(); trap cleanup EXIT; "$@" ) || FAILED+=("$name"); }

command_jobs() {
	$SC --spool "$TESTDIR/cmd" init
	local C="$SC --spool $TESTDIR/cmd"
	id=$($C submit --set lr=0.1 --set layers='[64,32]' --set name=run-1 -- \
		python3 train.py --lr '{lr}' --layers='{layers}' --tag '{{x}}' '{name}')
	assert_eq 'python3|train.py|--lr|{lr}|--layers={layers}|--tag|{{x}}|{name} 0.1 [64, 32] run-1' \
		"$($C show "$id" --json | pyget '"|".join(d["job"]["command"]) + " %s %s %s" % (d["job"]["lr"], d["job"]["layers"], d["job"]["name"])')" "the stored command job"
	# a placeholder naming no field is refused at submit, saying which; nothing stored
	set +e; out=$($C submit -- python3 train.py --lr '{learningRate}' 2>&1); rc=$?; set -e
	assert_eq 1 "$rc" "exit of a submit with a missing key"
	assert_match '"command"\[3\] names \{learningRate\}, which is not a field of the job' "$out" "message"
	set +e; out=$($C submit --set a=1 -- prog '{a' 2>&1); rc=$?; set -e
	assert_match "opens no \{key\}.*write \{\{ for a brace" "$out" "an unmatched brace"
	assert_eq 1 "$($C ls --json | pyget 'd["new"]')" "only the good job is queued"
	# the same rule at the boss: 400 with the library's words
	start_spoold "$TESTDIR/cmd-boss"
	code=$(curl -s -o body -w '%{http_code}' -X POST "$URL/v1/jobs" \
		-d '{"command":["python3","train.py","--lr","{lr}"],"epochs":3}')
	assert_eq 400 "$code" "spoold's answer to a missing key"
	assert_match 'names \{lr\}, which is not a field of the job' "$(cat body)" "spoold's message"
	set +e; out=$($SC submit --boss "$URL" --set epochs=3 -- train.py '{lr}' 2>&1); rc=$?; set -e
	assert_eq 1 "$rc" "spoolctl submit --boss of a missing key"
	assert_match "names \{lr\}, which is not a field of the job" "$out" "spoolctl checks before it sends"
	id=$($SC submit --boss "$URL" --set lr=0.5 -- train.py --lr '{lr}')
	assert_eq '0.5 train.py|--lr|{lr}' "$(curl -s "$URL/v1/jobs/$id" | pyget '"%s %s" % (d["lr"], "|".join(d["command"]))')" "a command job over HTTP"
	# a sweep over command jobs
	cat >cmd-sweep.json <<'J'
{"name": "cmds", "base": {"command": ["python3", "train.py", "--lr", "{lr}"]}, "grid": {"lr": [0.1, 0.2]}}
J
	assert_eq 2 "$($SC --spool "$TESTDIR/cmd" sweep cmd-sweep.json 2>/dev/null | wc -l)" "a sweep of command jobs"
}

export_csv() {
	$SC --spool "$TESTDIR/ex" init
	local E="$SC --spool $TESTDIR/ex"
	cat >spec.json <<'J'
{"name": "exp", "base": {"scriptName": "nn.py", "epochs": 5, "note": "a, \"quoted\" note"},
 "grid": {"lr": [0.1, 0.01], "opt": ["adam", "sgd, momentum"]}}
J
	$E sweep spec.json >ids 2>/dev/null
	$E submit <<<'{"scriptName":"other.py","sweep":"not-exp"}' >/dev/null
	for n in 1 2 3; do
		read -r cid tok _ < <($E claim --worker w | head -1)
		echo "{\"loss\": $n.5, \"lr\": \"outcome's lr\", \"msg\": \"line1\\nline2, x\"}" | $E complete "$cid" "$tok" -
	done
	$E export --sweep exp --format csv >out.csv
	python3 - out.csv ids <<'P'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
ids = sorted(open(sys.argv[2]).read().split())
assert [r["id"] for r in rows] == ids, (rows, ids)
hdr = list(rows[0].keys())
assert hdr[:3] == ["id", "state", "attempt"], hdr
assert set(hdr[3:5]) == {"lr", "opt"}, hdr          # what varies, not epochs or note
assert "loss" in hdr and "outcome.lr" in hdr and "msg" in hdr, hdr
done = [r for r in rows if r["state"] == "done"]
assert len(done) == 3 and {r["loss"] for r in done} == {"1.5", "2.5", "3.5"}, done
assert {r["opt"] for r in rows} == {"adam", "sgd, momentum"}, rows
assert all(r["msg"] == "line1\nline2, x" for r in done), done
assert all(r["outcome.lr"] == "outcome's lr" for r in done)
left = [r for r in rows if r["state"] == "new"]
assert len(left) == 1 and left[0]["loss"] == "" and left[0]["attempt"] == "0", left
P
	$E export --sweep exp --format jsonl >out.jsonl
	python3 - out.jsonl <<'P'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 4 and all(isinstance(r["lr"], float) for r in rows), rows
assert sorted(r["loss"] for r in rows if "loss" in r) == [1.5, 2.5, 3.5], rows
P
	set +e; out=$($E export --sweep nosuch 2>&1); rc=$?; set -e
	assert_eq 3 "$rc" "export of an unknown sweep"
	assert_match "the sweeps there are: .*exp" "$out" "it names the sweeps"
	assert_exit 2 $E export --format xml
}

token_rule() {
	printf 'tok-with-a-blank-1 \n\n' >token
	chmod 600 token
	start_spoold "$TESTDIR/tok-spool" --token-file "$TESTDIR/token"
	assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/stats")" "no token"
	assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-with-a-blank-1' "$URL/v1/stats")" "spoold reads the token without the blank"
	printf '{"name":"t","base":{"scriptName":"nn.py"},"grid":{"a":[1,2]}}' >t.json
	$SC sweep t.json --boss "$URL" --token-file "$TESTDIR/token" >/dev/null 2>err || fail "spoolctl with the same token file: $(cat err)"
	# the boss and the token from the environment
	SPOOL_BOSS=$URL SPOOL_TOKEN_FILE=$TESTDIR/token $SC submit -- prog >id || fail "submit via \$SPOOL_BOSS"
	assert_eq 3 "$(curl -s -H 'Authorization: Bearer tok-with-a-blank-1' "$URL/v1/stats" | pyget 'd["orders"]["new"]')" "jobs at the boss"
	# and the runner, with the same file, is let in too (it was answered 401
	# for ever: it kept the blank)
	mkdir -p tokscripts
	printf '#!/bin/sh\necho "{\\"status\\": 200, \\"loss\\": 1}"\n' >tokscripts/ok.sh
	chmod +x tokscripts/ok.sh
	okid=$(printf '{"scriptName":"ok.sh"}' | SPOOL_BOSS=$URL SPOOL_TOKEN_FILE=$TESTDIR/token $SC submit -)
	set +e; timeout 120 "$BIN/runner" --boss "$URL" --token-file "$TESTDIR/token" --scripts tokscripts \
		--drain --give-up 20 --workdir "$TESTDIR/tokwork" 2>runner.err; rc=$?; set -e
	grep -qE "HTTP 40[13]|refused the token|wants a token" runner.err && fail "runner refused with the token file spoold accepts: $(tail -3 runner.err)"
	assert_eq done "$(curl -s -H 'Authorization: Bearer tok-with-a-blank-1' "$URL/v1/orders/$okid" | pyget 'd["state"]')" "the runner's job, run with the token file"
	# a token file that is not a token is refused with a clear message
	printf 'two words\n' >bad; chmod 600 bad
	set +e; out=$($SC submit --boss "$URL" --token-file bad -- prog 2>&1); rc=$?; set -e
	assert_eq 2 "$rc" "exit with a bad token file"
	assert_match "token file 'bad': byte 3 is a blank" "$out" "message"
	: >empty
	set +e; out=$($SC sweep t.json --boss "$URL" --token-file empty 2>&1); set -e
	assert_match "token file 'empty' is empty" "$out" "empty token file"
}

# top_spool DIR: a sweep of three, run with losses 3, 1, 2 (lr 0.1, 0.2, 0.3)
top_spool() {
	local T="$SC --spool $1"
	$T init
	printf '{"name":"tp","base":{"scriptName":"nn.py","epochs":5},"grid":{"lr":[0.1,0.2,0.3]}}' >tp.json
	$T sweep tp.json >/dev/null 2>&1
	for n in 3 1 2; do
		read -r cid tok _ < <($T claim --worker w | head -1)
		echo "{\"loss\": $n, \"acc\": 0.$n}" | $T complete "$cid" "$tok" -
	done
}

top_limit_one() {
	top_spool "$TESTDIR/top1"
	line=$($SC --spool "$TESTDIR/top1" top --limit 1 | sed -n 3p)
	assert_match "^ +1 +1 +[0-9a-f]{24} +lr=0\.2$" "$line" "top --limit 1 shows the best run's parameters"
}

top_hints() {
	top_spool "$TESTDIR/top2"
	local T="$SC --spool $TESTDIR/top2"
	set +e; out=$($T top --key accuracy 2>&1); rc=$?; set -e
	assert_eq 3 "$rc" "top --key with no such outcome key"
	assert_match "no done job has a numeric outcome member 'accuracy'" "$out" "says so"
	assert_match "keys there are.*: loss, acc" "$out" "and names the keys"
}

top_sweep_hint() {
	top_spool "$TESTDIR/top3"
	local T="$SC --spool $TESTDIR/top3"
	set +e; out=$($T top --sweep nosuch 2>&1); rc=$?; set -e
	assert_eq 3 "$rc" "top --sweep nosuch"
	assert_match "no job is in sweep 'nosuch'" "$out" "says so"
	assert_match "the sweeps there are: tp" "$out" "and names the sweeps"
}

sweep_without_init() {
	printf '{"name":"e","base":{"scriptName":"nn.py"},"grid":{"a":[1]}}' >e.json
	$SC --spool "$TESTDIR/fresh" sweep e.json >/dev/null 2>err || fail "sweep without init: $(cat err)"
	assert_eq 1 "$($SC --spool "$TESTDIR/fresh" ls --json | pyget 'd["new"]')" "the sweep's job"
}

fsck_clean() {
	$SC --spool "$TESTDIR/clean" init
	assert_eq "clean: no problems found" "$($SC --spool "$TESTDIR/clean" fsck)" "fsck when clean"
}

outside_a_spool() {
	mkdir elsewhere
	set +e; out=$(cd elsewhere && env -u SPOOL_DIR "$SC" ls 2>&1); rc=$?; set -e
	assert_eq 1 "$rc" "ls outside a spool"
	assert_match "cannot open spool 'spool'" "$out" "says what"
	assert_match "\-\-spool DIR or \\\$SPOOL_DIR.*spoolctl --spool DIR init" "$out" "suggests --spool, \$SPOOL_DIR, init"
	assert_eq 1 "$(grep -o 'cannot open spool' <<<"$out" | wc -l)" "'cannot open spool' once"
}

version() {
	assert_match "^spoolctl \(spool\) [0-9]" "$($SC --version)" "--version"
}

part "command jobs" command_jobs
part "export" export_csv
part "one token-file rule" token_rule
part "top --limit 1" top_limit_one
part "top --key hint" top_hints
part "top --sweep hint" top_sweep_hint
part "sweep without init" sweep_without_init
part "fsck when clean" fsck_clean
part "outside a spool" outside_a_spool
part "--version" version
[ ${#FAILED[@]} = 0 ] || fail "parts that failed: ${FAILED[*]}"
echo ok
