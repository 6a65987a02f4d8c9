#!/usr/bin/env bash
# make install DESTDIR=... installs a tree that works on its own: its
# spool-demo runs the demo with the installed programs, scripts and data
# (KEEP=1 leaves the boss up, its page answering at the URL printed), the
# installed Python package imports and finds the installed spoolctl, and the
# man pages and systemd units are there and name the installed programs.
. "$TOP/tests/lib.sh"
root=$TESTDIR/root
make -s -C "$TOP" install DESTDIR="$root" PREFIX=/usr/local INSTALL_BIN="$BIN" >install.log 2>&1 ||
	fail "make install: $(tail -20 install.log)"
p=$root/usr/local
for f in bin/spoolctl bin/spoold bin/runner bin/spool-demo share/spool/runner/scripts/nn.py \
	share/spool/examples/wine-sweep.json share/spool/data/wine_data.csv \
	share/man/man1/spoolctl.1 share/man/man1/spoold.1 share/man/man1/runner.1 \
	lib/systemd/system/spoold.service lib/systemd/system/spool-runner@.service; do
	[ -e "$p/$f" ] || fail "not installed: $f"
done
grep -q '^spoolctl \\- the spool job queue' "$p/share/man/man1/spoolctl.1" || fail "spoolctl.1 has no NAME"
grep -q 'export' "$p/share/man/man1/spoolctl.1" || fail "spoolctl.1 lacks the commands"
grep -q '^ExecStart=/usr/local/bin/spoold ' "$p/lib/systemd/system/spoold.service" || fail "spoold.service"
grep -q '^ExecStart=/usr/local/bin/runner --boss' "$p/lib/systemd/system/spool-runner@.service" || fail "runner unit"
! grep -rq -- "$TOP" "$p/bin/spool-demo" "$p/lib/systemd" || fail "the installed tree names the checkout"
pkg=$(find "$p/lib" -name __init__.py -path '*/spool/__init__.py')
[ -n "$pkg" ] || fail "the Python package is not installed"
pydir=$(dirname "$(dirname "$pkg")")

# the demo from the installed tree alone, leaving the boss running
mkdir run && cd run
env -u BIN -u SPOOL_DIR -u SPOOL_BOSS -u PYTHONPATH KEEP=1 "$p/bin/spool-demo" >out 2>err ||
	fail "spool-demo exited $?: $(tail -5 err) $(tail -5 out)"
pid=$(sed -n 's/.*still running.*(stop it with: kill \([0-9]*\))$/\1/p' out)
[ -n "$pid" ] || fail "KEEP=1 did not say the boss is still running: $(tail -3 out)"
PIDS+=("$pid")
url=$(sed -n 's/^    the page: \(http:[^ ]*\)\/ .*/\1/p' out)
assert_match '^http://127\.0\.0\.1:[0-9]+$' "$url" "the page's URL, printed"
grep -q "all 24 jobs done" out || fail "not every job is done: $(tail -5 out)"
assert_eq "$p/bin/spoold" "$(readlink /proc/"$pid"/exe)" "the boss is the installed spoold"
[ -d spool-demo/spool ] || fail "the demo's spool is not under ./spool-demo"
page=$(curl -sf "$url/") || fail "the page does not answer at $url/"
grep -qi "<html" <<<"$page" || fail "the page at $url/ is not HTML"
# the installed Python package, against that boss, with the installed spoolctl
out=$(cd / && env -u SPOOLCTL PYTHONPATH="$pydir" python3 -c '
import spool, sys
c = spool.connect(sys.argv[1])
print(spool.find_spoolctl())
print(c.leaderboard(sweep="wine-demo", limit=1)["rows"][0]["job"]["sweep"], c.status("wine-demo")["done"])
' "$url") || fail "the installed Python package: $out"
assert_eq "$p/bin/spoolctl
wine-demo 24" "$out" "the installed package finds its spoolctl and the sweep"
kill "$pid"
echo ok
