#!/usr/bin/env bash
# Crash: loops that submit, claim and complete are kill -9ed at random
# moments, many times. Then `fsck --repair`, and:
#  - every submit that returned (its id was printed) is in exactly one state,
#    with its job;
#  - no order anywhere is in two states, none lacks its job;
#  - no half-written file is visible outside tmp/ (every file parses:
#    tests/spoolcheck.py);
#  - no outcome was overwritten: each completion that returned still has its
#    own outcome, filed under its token.
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool
CHAOS_S=${CRASH_SECONDS:-4}
KILLS=${CRASH_KILLS:-40}

$SC init
printf '{"scriptName":"nn.py","pad":"%0400d"}' 0 >job.json
python3 -c "
import json
print(json.dumps([{'scriptName': 'nn.py', 'k': i, 'pad': 'x' * 300} for i in range(20)]))" >job20.json
python3 -c "
import json
print(json.dumps([{'scriptName': 'nn.py', 'n': i} for i in range(200)]))" >seed.json
$SC submit seed.json >ids.seed

# run NAME CMD...: run a spoolctl in the background, note its pid for the
# killer in cur.NAME, wait for it.
run() {
	local name=$1; shift
	"$@" &
	echo "$! $BASHPID" >"cur.$name"
	local rc=0
	wait $! 2>/dev/null || rc=$?
	return $rc
}
submitter() {
	local n=$1 i=0
	while [ ! -e stop ]; do
		i=$((i + 1))
		if [ $((i % 3)) = 0 ]; then
			run "$n" $SC submit job20.json >>"ids.$n" 2>>"err.$n" || true
		else
			run "$n" $SC submit job.json >>"ids.$n" 2>>"err.$n" || true
		fi
	done
}
drainer() {
	local n=$1
	while [ ! -e stop ]; do
		run "$n" $SC drain --worker "$n" --lease 600 --max 100 >>"log.$n" 2>>"err.$n" || true
	done
}
shell_worker() {
	local n=$1 out id tok att
	while [ ! -e stop ]; do
		out=$(run "$n" $SC claim --worker "$n" --lease 600 2>>"err.$n") || continue
		read -r id tok att <<<"${out%%$'\n'*}"
		[ -n "$tok" ] || continue
		echo "claimed $id $tok $att" >>"log.$n"
		printf '{"token":"%s"}' "$tok" >"outcome.$n"
		if run "$n" $SC complete "$id" "$tok" "outcome.$n" 2>>"err.$n"; then
			echo "done $id $tok" >>"log.$n"
		fi
	done
}

names=(s1 s2 d1 d2 w1)
declare -A loop
submitter s1 & loop[s1]=$!
submitter s2 & loop[s2]=$!
drainer d1 & loop[d1]=$!
drainer d2 & loop[d2]=$!
shell_worker w1 & loop[w1]=$!
PIDS+=("${loop[@]}")

# The killer: kill -9 the spoolctl a loop is running right now, chosen at
# random, after a random 0-40 ms. Only a pid whose parent is the shell of
# our loop that started it, and which runs spoolctl, is killed.
# At least CHAOS_S seconds and KILLS kills (a loaded machine runs fewer
# processes a second), at most 5 times CHAOS_S.
kills=0
start=$(date +%s)
while now=$(date +%s); [ $((now - start)) -lt "$CHAOS_S" ] ||
	{ [ "$kills" -lt "$KILLS" ] && [ $((now - start)) -lt $((5 * CHAOS_S)) ]; }; do
	sleep "0.0$((RANDOM % 4))$((RANDOM % 10))"
	n=${names[RANDOM % ${#names[@]}]}
	read -r pid parent <"cur.$n" 2>/dev/null || continue
	[ -n "$pid" ] || continue
	ppid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null || true)
	[ "$ppid" = "$parent" ] || continue
	{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q spoolctl || continue
	kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
done
touch stop
for n in "${names[@]}"; do wait "${loop[$n]}" || true; done
echo "killed $kills processes in $(( $(date +%s) - start ))s"
[ "$kills" -ge 20 ] || fail "only $kills kills: the test did not test much"

# Errors other than being killed would be bugs: a submit or claim that failed.
# (LeakSanitizer's exit-time check, when kill -9 lands in it, complains of
# the tracer it lost: not ours.)
quiet() {
	grep -h -v -e 'nothing to claim' -e 'Killed' -e 'Unable to get registers from thread' \
		-e 'LeakSanitizer has encountered a fatal error' -e '^==[0-9]*==HINT: ' err.* 2>/dev/null || true
}
if [ -n "$(quiet)" ]; then
	quiet | head -20 >&2
	fail "a spoolctl reported an error"
fi

set +e; $SC fsck --repair --tmp-age 0 >fsck1.out; rc=$?; set -e
[ $rc = 0 ] || [ $rc = 5 ] || fail "fsck --repair exited $rc: $(cat fsck1.out)"
echo "fsck --repair: $(wc -l <fsck1.out) findings"
sed -n '1,10s/^/  /p' fsck1.out
set +e; $SC fsck --tmp-age 0 >fsck2.out; rc=$?; set -e
[ $rc = 0 ] || fail "fsck after repair still finds problems (exit $rc): $(cat fsck2.out)"

cat ids.* | grep -E '^[0-9a-f]{24}$' | sort -u >returned
cat log.* >all.log 2>/dev/null || true
echo "$(wc -l <returned) submits returned, $(grep -c '^done ' all.log || true) completions returned"

python3 "$TOP/tests/spoolcheck.py" "$SPOOL_DIR" --ids returned --quiet ||
	fail "the spool after crashes and repair is not sound (above)"

# No outcome was overwritten: every completion that returned still has its
# own outcome, filed under its token, and its order is done.
python3 - "$SPOOL_DIR" all.log <<'EOF'
import json, os, sys
spool, log = sys.argv[1:3]
outcomes, done = {}, set()
for dirpath, _, names in os.walk(os.path.join(spool, "outcomes")):
    for name in names:
        p = name.split(".")
        outcomes.setdefault((p[0], p[2]), []).append(os.path.join(dirpath, name))
for dirpath, _, names in os.walk(os.path.join(spool, "done")):
    for name in names:
        done.add(name.split(".")[3])
n = 0
for line in open(log):
    f = line.split()
    if f[0] != "done":
        continue
    n += 1
    got = outcomes.get((f[1], f[2]))
    assert got and len(got) == 1, "completion %s %s has outcomes %s" % (f[1], f[2], got)
    body = json.load(open(got[0]))
    assert body["token"] == f[2], "outcome of %s overwritten: %s" % (f[1], body)
    assert f[1] in done, "completed %s is not in done/" % f[1]
print("checked %d completions" % n)
EOF
# the spool still works: drain what is left
$SC reap --grace-ms 0 >/dev/null
$SC drain --worker final >/dev/null
echo ok
