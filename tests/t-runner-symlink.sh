# The runner and symlinks in --scripts: a symlink whose target lies
# outside the scripts directory is refused (the script it points to never
# runs), in --exec mode and in local mode on a spool; one pointing inside
# the directory (also through a subdirectory, or a chain of links that ends
# inside) runs. The scripts directory itself may be reached through a link.
. "$TOP/tests/lib.sh"
mkdir -p scripts/sub outside
cat >outside/evil.sh <<'S'
#!/bin/sh
touch "$SPOOL_WORKDIR/../../evil-ran"
echo '{"escaped": true}'
S
cat >scripts/ok.sh <<'S'
#!/bin/sh
echo '{"loss": 1}'
S
cp scripts/ok.sh scripts/sub/deep.sh
printf 'print("{\\"loss\\": 2}")\n' >outside/evil.py
chmod +x outside/evil.sh scripts/ok.sh scripts/sub/deep.sh
ln -s ../outside/evil.sh scripts/out.sh		# relative, leaves the directory
ln -s "$TESTDIR/outside/evil.sh" scripts/abs.sh	# absolute, outside
ln -s ../outside/evil.py scripts/out.py		# a .py run under python3
ln -s ../outside scripts/outdir			# a directory outside (not reachable: '/' is refused)
ln -s out.sh scripts/chain.sh			# a link to a link that leaves
ln -s ok.sh scripts/in.sh			# inside
ln -s sub/deep.sh scripts/indeep.sh		# inside, in a subdirectory
ln -s ../scripts/ok.sh scripts/roundtrip.sh	# leaves by name, lands inside
ln -s in.sh scripts/inchain.sh			# a chain that stays inside
ln -s scripts linked-scripts			# the directory itself behind a link

# exec_job DIR NAME: run {"scriptName": NAME} once; sets RC and OUT
exec_job() {
	printf '{"scriptName":"%s"}' "$2" >job.json
	set +e; OUT=$("$BIN/runner" --scripts "$1" --exec job.json --workdir "$TESTDIR/work" 2>/dev/null); RC=$?; set -e
}
for n in out.sh abs.sh out.py chain.sh; do
	exec_job scripts "$n"
	assert_eq 1 "$RC" "--exec of $n (a link out of --scripts)"
	assert_match "outside the scripts directory" "$OUT" "refusal of $n"
	[ ! -e evil-ran ] || fail "$n ran the script outside --scripts"
done
for n in in.sh indeep.sh roundtrip.sh inchain.sh; do
	exec_job scripts "$n"
	assert_eq 0 "$RC" "--exec of $n (a link inside --scripts): $OUT"
	assert_match '"loss":1' "$OUT" "$n ran"
done
exec_job linked-scripts in.sh
assert_eq 0 "$RC" "--scripts behind a link: $OUT"
exec_job linked-scripts out.sh
assert_eq 1 "$RC" "--scripts behind a link, a link out of it"

# local mode: the order fails with the reason, the runner goes on
SC="$BIN/spoolctl --spool $TESTDIR/spool"
$SC init
bad=$(echo '{"scriptName":"out.sh","spool":{"maxAttempts":1}}' | $SC submit -)
good=$(echo '{"scriptName":"in.sh","spool":{"maxAttempts":1}}' | $SC submit -)
"$BIN/runner" --spool spool --scripts scripts --drain --name t1 \
	--workdir "$TESTDIR/work" --poll-ms 50 2>runner.log && fail "runner exited 0 with a refused job"
[ $? = 1 ] || fail "runner exited $?, not 1 (a job was refused): $(cat runner.log)"
state() { $SC show "$1" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["order"]["state"], (d.get("outcome") or {}).get("error", ""))'; }
assert_match "^failed .*outside the scripts directory" "$(state "$bad")" "local mode: a link out of --scripts"
assert_match "^done" "$(state "$good")" "local mode: a link inside --scripts"
[ ! -e evil-ran ] || fail "the script outside --scripts ran in local mode"
echo ok
