#!/usr/bin/env bash
# Command jobs (issue 13, item 1), run by real runners, local and remote,
# on jobs submitted with the real spoolctl (to the boss in remote mode):
# the filled argv reaches the program exactly, by execve; a program that
# writes $SPOOL_OUTCOME gets that outcome; one that prints nothing gets its
# exit status (0: done; 3: a failed attempt, retried); a program the
# runner's --scripts lacks is left for one that has it, no attempt spent;
# a sweep over a command job and `spoolctl submit -- PROG ARGS` run.
. "$TOP/tests/lib.sh"
mkdir a b
# prints its argv, what it read on stdin and the variables the runner set
cat >a/show-argv <<'EOF'
#!/usr/bin/env python3
import json, os, sys
job = json.loads(sys.stdin.read())
print("some words first")
print(json.dumps({"prog": sys.argv[0], "args": sys.argv[1:], "stdinId": job["_id"],
                  "outcomeFile": os.environ["SPOOL_OUTCOME"],
                  "workdir": os.environ["SPOOL_WORKDIR"]}))
EOF
chmod +x a/show-argv
# the same, not executable: run as `python3 show-argv.py ...`
cp a/show-argv a/show-argv.py
chmod -x a/show-argv.py
# writes its outcome to the file, pretty-printed, and nothing on stdout
cat >a/writer <<'EOF'
#!/bin/sh
printf '{\n  "status": 200,\n  "acc": 0.9,\n  "cwd": "%s"\n}\n' "$(pwd)" >"$SPOOL_OUTCOME"
EOF
printf '#!/bin/sh\necho "exiting $1" >&2\nexit "$1"\n' >a/quiet
printf '#!/bin/sh\necho "{\\"by\\": \\"$SPOOL_WORKER\\"}"\n' >b/only-b
# writes something that is no JSON object to the file
printf '#!/bin/sh\necho "loss 0.1" >"$SPOOL_OUTCOME"\n' >a/badfile
chmod +x a/writer a/quiet a/badfile b/only-b
# a program is found in --scripts by the scriptName rule: no path, no link out
ln -s /bin/echo a/outside

# pyget EXPR: EXPR of the JSON on stdin (d), or what is missing from it
pyget() { python3 -c "import json,sys; d=json.load(sys.stdin)
try: print($1)
except (KeyError, TypeError, IndexError) as e: print('missing', repr(e))"; }
FAILED=()
# check NAME EXPECTED ACTUAL: a failed check is counted, the rest still run
check() { [ "$2" = "$3" ] && return 0; echo "FAIL: $1: expected '$2', got '$3'" >&2; FAILED+=("$1"); }
show() { $BIN/spoolctl --spool spool show "$1" --json | pyget "$2" 2>&1 || true; }

$BIN/spoolctl --spool spool init
for mode in local remote; do
	if [ $mode = remote ]; then
		start_spoold "$TESTDIR/spool"
		to=(--boss "$URL")
		where=(--boss "$URL" --outbox "$TESTDIR/ob")
	else
		to=(--spool "$TESTDIR/spool")
		where=(--spool spool --poll-ms 50)
	fi
	# ctl CMD ARG...: spoolctl CMD to the boss (remote) or the spool (local)
	ctl() { local c=$1; shift; "$BIN/spoolctl" "$c" "${to[@]}" "$@"; }
	sub() { echo "$1" | ctl submit -; }
	argv=$(sub '{"command": ["show-argv", "--lr", "{lr}", "--layers={layers}", "x{{y}}", "{name}", "{_id}"],
		"lr": 0.1, "layers": [64, 32], "name": "a b; $(rm -rf /)", "spool": {"maxAttempts": 1}}')
	viapy=$(sub '{"command": ["python3", "show-argv.py", "{lr}"], "lr": 2, "scriptName": "a-label",
		"spool": {"maxAttempts": 1}}')
	file=$(sub '{"command": ["writer"], "spool": {"maxAttempts": 1}}')
	zero=$(sub '{"command": ["quiet", "0"], "spool": {"maxAttempts": 1}}')
	three=$(sub '{"command": ["quiet", "3"], "spool": {"maxAttempts": 2}}')
	bad=$(sub '{"command": ["badfile"], "spool": {"maxAttempts": 1}}')
	slash=$(sub '{"command": ["/bin/echo", "hi"], "spool": {"maxAttempts": 3}}')
	link=$(sub '{"command": ["outside", "hi"], "spool": {"maxAttempts": 3}}')
	# first in line, and only runner b has it
	onlyb=$(sub '{"command": ["only-b", "{x}"], "x": 1, "spool": {"priority": 5, "maxAttempts": 1}}')
	cat >sweep.json <<EOF
{"name": "cmd-$mode", "base": {"command": ["show-argv", "--lr", "{lr}"], "spool": {"maxAttempts": 1}},
 "grid": {"lr": [0.1, 0.2]}}
EOF
	ctl sweep sweep.json >sweep.ids 2>/dev/null
	cli=$(ctl submit --set lr=0.25 --set name='a b' -- show-argv --lr '{lr}' '{name}' 'x{{y}}')

	"$BIN/runner" --scripts a --name "a-$mode" "${where[@]}" --drain --workdir "$TESTDIR/w" 2>"a-$mode.log" || true

	check "$mode: argv" "done|['--lr', '0.1', '--layers=[64,32]', 'x{y}', 'a b; \$(rm -rf /)', '$argv']|$TESTDIR/a/show-argv|$argv|stdout" \
		"$(show "$argv" '"|".join([d["order"]["state"], str(d["outcome"]["args"]), d["outcome"]["prog"], d["outcome"]["stdinId"], d["outcome"]["_run"]["outcomeFrom"]])')"
	check "$mode: SPOOL_OUTCOME is in the run's work directory" "True" \
		"$(show "$argv" 'd["outcome"]["outcomeFile"] == d["outcome"]["workdir"] + "/spool-outcome.json" and d["outcome"]["workdir"].startswith("'"$TESTDIR"'/w/")')"
	check "$mode: python3 runs the script from --scripts" "done|['2']|$TESTDIR/a/show-argv.py" \
		"$(show "$viapy" '"|".join([d["order"]["state"], str(d["outcome"]["args"]), d["outcome"]["prog"]])')"
	check "$mode: the outcome from \$SPOOL_OUTCOME" "done|0.9|200|file" \
		"$(show "$file" '"|".join(map(str, [d["order"]["state"], d["outcome"]["acc"], d["outcome"]["status"], d["outcome"]["_run"]["outcomeFrom"]]))')"
	check "$mode: exit 0 with nothing printed is done" "done|200|0|exit" \
		"$(show "$zero" '"|".join(map(str, [d["order"]["state"], d["outcome"]["status"], d["outcome"]["exitCode"], d["outcome"]["_run"]["outcomeFrom"]]))')"
	check "$mode: exit 3 fails the attempt (retried)" "failed|2|exit code 3|3|exit" \
		"$(show "$three" '"|".join(map(str, [d["order"]["state"], d["order"]["attempt"], d["outcome"]["error"], d["outcome"]["_run"]["exit"], d["outcome"]["_run"]["outcomeFrom"]]))')"
	check "$mode: a \$SPOOL_OUTCOME that is no JSON object fails the attempt" "failed|\$SPOOL_OUTCOME holds no JSON object|file" \
		"$(show "$bad" '"|".join([d["order"]["state"], d["outcome"]["error"], d["outcome"]["_run"]["outcomeFrom"]])')"
	check "$mode: a program with a '/' is refused (400, once)" "failed|1|400|script name '/bin/echo' refused: it contains '/'" \
		"$(show "$slash" '"|".join(map(str, [d["order"]["state"], d["order"]["attempt"], d["outcome"]["status"], d["outcome"]["error"]]))')"
	check "$mode: a program linked out of --scripts is refused" "failed|1|400|script 'outside' refused: it is a symbolic link to a file outside the scripts directory" \
		"$(show "$link" '"|".join(map(str, [d["order"]["state"], d["order"]["attempt"], d["outcome"]["status"], d["outcome"]["error"]]))')"
	check "$mode: a program --scripts lacks is left, no attempt spent" "new|0" \
		"$(show "$onlyb" '"|".join(map(str, [d["order"]["state"], d["order"]["attempt"]]))')"
	grep -Eq "$onlyb: script 'only-b' not found .*left for a runner that has it" "a-$mode.log" ||
		check "$mode: runner a says it left the job" "a line saying so" "$(cat "a-$mode.log")"
	n=0
	for id in $(cat sweep.ids); do
		n=$((n + 1))
		check "$mode: sweep job $n" "done|['--lr', '0.$n']" \
			"$(show "$id" '"|".join([d["order"]["state"], str(d["outcome"]["args"])])')"
	done
	check "$mode: the sweep made two jobs" 2 "$n"
	check "$mode: spoolctl submit -- PROG ARGS" "done|['--lr', '0.25', 'a b', 'x{y}']" \
		"$(show "$cli" '"|".join([d["order"]["state"], str(d["outcome"]["args"])])')"

	"$BIN/runner" --scripts b --name "b-$mode" "${where[@]}" --drain --workdir "$TESTDIR/w" 2>"b-$mode.log" || true
	check "$mode: runner b ran the program only it has" "done|1|b-$mode" \
		"$(show "$onlyb" '"|".join(map(str, [d["order"]["state"], d["order"]["attempt"], d["outcome"]["by"]]))')"
done
# --exec runs a command job the same way
echo '{"command": ["quiet", "0"]}' >one.json
check "--exec of a command job" "200|0|exit" \
	"$("$BIN/runner" --scripts a --exec one.json --workdir "$TESTDIR/w" 2>/dev/null | pyget '"|".join(map(str, [d["status"], d["exitCode"], d["_run"]["outcomeFrom"]]))')"
[ ${#FAILED[@]} -eq 0 ] || fail "${#FAILED[@]} checks failed"
