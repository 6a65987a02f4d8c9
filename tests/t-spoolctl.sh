#!/usr/bin/env bash
# spoolctl, command by command: what it prints, its messages and exit codes
# (0 ok, 1 error, 2 usage, 3 nothing there, 4 conflict, 5 fsck problems).
. "$TOP/tests/lib.sh"
SC=$BIN/spoolctl
export SPOOL_DIR=$TESTDIR/spool

# out CMD...: stdout of a command that must succeed
out() { "$@" 2>"$TESTDIR/err" || fail "'$*' exited $?: $(cat "$TESTDIR/err")"; }
# errmsg WANT-EXIT REGEX CMD...: the command fails with that code and message
errmsg() {
	local want=$1 re=$2; shift 2
	set +e; "$@" >"$TESTDIR/out" 2>"$TESTDIR/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want (stderr: $(cat "$TESTDIR/err"))"
	grep -Eq -- "$re" "$TESTDIR/err" || fail "'$*': expected /$re/ in stderr, got '$(cat "$TESTDIR/err")'"
}
count() { out $SC ls | awk -v s="$1" '$1 == s { print $2 }'; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- help and usage ------------------------------------------------------------
help=$(out $SC --help)
for c in init submit ls show claim complete fail release renew requeue hold cancel reap fsck ingest sweep top workers drain; do
	assert_match "^  $c " "$help" "spoolctl --help lists $c"
	h=$(out $SC $c --help)
	assert_match "^usage: spoolctl .*$c" "$h" "$c --help"
	assert_match "Exit codes" "$h" "$c --help tells the exit codes"
done
assert_match "3  nothing there" "$help" "exit codes in --help"
errmsg 2 "usage" $SC
errmsg 2 "'frobnicate' is not a command" $SC frobnicate
errmsg 2 "unknown option '--bogus'" $SC ls --bogus
errmsg 2 "unknown option '--bogus'" $SC --bogus ls
errmsg 2 "too many arguments" $SC show 0123456789abcdef01234567 extra
errmsg 2 "too few arguments" $SC complete 0123456789abcdef01234567

# --- no spool -------------------------------------------------------------------------
errmsg 1 "^spoolctl: cannot open spool 'nope': No such file or directory$" $SC --spool nope ls
errmsg 1 "cannot open spool '$SPOOL_DIR'" $SC ls
errmsg 1 "cannot open spool 'typo'" $SC --spool typo fsck --repair
[ ! -e typo ] || fail "fsck --repair made a spool of a mistyped path"

# --- init, submit -------------------------------------------------------------------------
out $SC init
out $SC init			# again: harmless
[ -d spool/new ] && [ -d spool/tmp ] || fail "init made no new/ or tmp/"
assert_eq "0" "$(count total)" "empty spool"

job() { printf '{"scriptName":"nn.py","n":%s%s}\n' "$1" "${2:+,\"spool\":$2}"; }
job 1 >a.json
job 2 >b.json
printf '[%s,\n %s , %s]\n' "$(job 3)" "$(job 4)" "$(job 5)" >arr.json
ids=$(out $SC submit a.json)
assert_match '^[0-9a-f]{24}$' "$ids" "submit prints an id"
id1=$ids
ids=$(out $SC submit b.json - <arr.json)
assert_eq 4 "$(echo "$ids" | wc -l)" "two files, one an array of three: four ids"
id2=$(echo "$ids" | sed -n 1p)
ids=$(job 6 | out $SC submit)
assert_match '^[0-9a-f]{24}$' "$ids" "submit reads stdin without a file"
assert_eq 6 "$(count new)" "six jobs in new"
assert_eq "" "$(printf '[]' | out $SC submit)" "an empty array submits nothing"
# an array is split by its JSON structure, not by its characters
cat >tricky.json <<'EOF'
[ {"scriptName":"a,b]","s":"q\"],[{","n":[1,[2,{"x":"}"}]]} ,
  {"scriptName":"c\\","e":{}} ]
EOF
ids=$(out $SC submit tricky.json)
assert_eq 2 "$(echo "$ids" | wc -l)" "two jobs in a tricky array"
assert_eq 'a,b] q"],[{ }' "$(out $SC show "$(echo "$ids" | head -1)" --json | jq_py '" ".join([d["job"]["scriptName"], d["job"]["s"], d["job"]["n"][1][1]["x"]])')" "first tricky job whole"
assert_eq 'c\' "$(out $SC show "$(echo "$ids" | tail -1)" --json | jq_py 'd["job"]["scriptName"]')" "second tricky job whole"
for i in $ids; do out $SC cancel "$i"; done

# bad input submits nothing, says where and why
printf '{"scriptName":"nn.py",}' >comma.json
errmsg 1 "'comma.json' is not valid JSON" $SC submit a.json comma.json
printf '[%s, {"n":1}]' "$(job 7)" >noscript.json
errmsg 1 "'noscript.json' \[1\] is not a valid job: .*scriptName" $SC submit noscript.json
errmsg 1 "is not a valid job: .*unknown job option" $SC submit <<<'{"scriptName":"x","spool":{"bogus":1}}'
errmsg 1 "cannot read 'missing.json': No such file or directory" $SC submit missing.json
errmsg 2 "more than once" $SC submit - -
assert_eq 6 "$(count new)" "nothing submitted by a failed submit"

# --id
want=00000000000000000000abcd
assert_eq "$want" "$(out $SC submit --id $want a.json)" "submit --id"
errmsg 4 "already exists" $SC submit --id $want b.json
errmsg 2 "not a valid order id" $SC submit --id xyz a.json
errmsg 2 "exactly one job" $SC submit --id 00000000000000000000abce arr.json
out $SC cancel $want

# --nosync is accepted before and after the command
out $SC --nosync submit a.json >/dev/null
out $SC submit --nosync a.json >/dev/null
assert_eq 8 "$(count new)" "nosync submits"

# --- ls --------------------------------------------------------------------------------
c=$(out $SC ls --json)
assert_eq "8 3 11" "$(echo "$c" | jq_py '"%d %d %d" % (d["new"], d["cancelled"], d["total"])')" "ls --json counts"
assert_eq 8 "$(out $SC ls new | wc -l)" "ls new: a line per order"
assert_eq 2 "$(out $SC ls new --limit 2 | wc -l)" "ls --limit"
assert_match "^$id1 new 0 0 " "$(out $SC ls new | head -1)" "ls new: claim order, id first"
l=$(out $SC ls new --json)
assert_eq 8 "$(echo "$l" | jq_py 'len(d)')" "ls new --json"
assert_eq "$id1 new" "$(echo "$l" | jq_py 'd[0]["_id"] + " " + d[0]["state"]')" "ls --json order shape"
assert_eq 11 "$(out $SC ls all | wc -l)" "ls all"
errmsg 2 "unknown state 'bogus'" $SC ls bogus
errmsg 2 "not a number" $SC ls new --limit x

# priority is claim order
hi=$(job 9 '{"priority":5}' | out $SC submit)
assert_match "^$hi " "$(out $SC ls new | head -1)" "higher priority first"
later=$(job 10 '{"delay":3600}' | out $SC submit)
assert_match "^$later " "$(out $SC ls new | tail -1)" "a delayed job comes last"

# --- show ------------------------------------------------------------------------------
s=$(out $SC show "$id1")
assert_match "^state +new" "$s" "show: state"
assert_match '"scriptName":"nn.py"' "$s" "show: job"
assert_match "^outcome +\(none\)" "$s" "show: no outcome yet"
s=$(out $SC show "$id1" --json)
assert_eq "new nn.py None $id1" "$(echo "$s" | jq_py 'd["order"]["state"], d["job"]["scriptName"], d["outcome"], d["job"]["_id"]' | tr -d "(),'")" "show --json"
assert_eq "(none)" "$(out $SC show "$id1" --log | sed -n '/^log$/{n;p}')" "show --log without logs"
assert_eq None "$(out $SC show "$id1" --json --log | jq_py 'd["log"]')" "show --json --log without logs"
errmsg 2 "needs a directory" $SC --spool
errmsg 3 "no order '0123456789abcdef01234567'" $SC show 0123456789abcdef01234567
errmsg 2 "not a valid order id" $SC show nothex

# --- claim, complete -------------------------------------------------------------------
errmsg 2 "--worker NAME is required" $SC claim
errmsg 2 "not a valid worker name" $SC claim --worker 'a/b'
errmsg 2 "not a number" $SC claim --worker w1 --lease 0
c=$(out $SC claim --worker w1)
read -r cid ctok catt <<<"$(echo "$c" | head -1)"
assert_eq "$hi" "$cid" "claim takes the first in line"
assert_match '^[0-9a-f]{16}$' "$ctok" "claim prints a token"
assert_eq 1 "$catt" "first attempt"
assert_eq "$hi" "$(echo "$c" | tail -n +2 | jq_py 'd["_id"]')" "claim prints the job after the first line"
s=$(out $SC show "$cid")
assert_match "^state +assigned" "$s" "claimed order is assigned"
assert_match "^worker +w1" "$s" "claimed by w1"
echo '{"status":200,"loss":1.5,"metric":2.5}' >outcome.json
errmsg 2 "not a valid claim token" $SC complete "$cid" nothex outcome.json
errmsg 4 "no longer held" $SC complete "$cid" 0000000000000000 outcome.json
errmsg 1 "not valid JSON" $SC complete "$cid" "$ctok" comma.json
out $SC complete "$cid" "$ctok" outcome.json
s=$(out $SC show "$cid" --json)
assert_eq "done 1.5" "$(echo "$s" | jq_py 'd["order"]["state"] + " " + str(d["outcome"]["loss"])')" "completed: done, outcome kept"
# the same claim again: nothing changes, exit 0; the first outcome stands
echo '{"loss":99}' | out $SC complete "$cid" "$ctok" -
assert_eq 1.5 "$(out $SC show "$cid" --json | jq_py 'd["outcome"]["loss"]')" "outcome written once"
assert_eq 1 "$(count done)" "one done"

c=$(out $SC claim --worker w2 --json)
read -r jid jtok jatt <<<"$(echo "$c" | jq_py '"%s %s %d" % (d["id"], d["token"], d["attempt"])')"
assert_eq "$id1 1" "$jid $jatt" "claim --json"
assert_eq "nn.py" "$(echo "$c" | jq_py 'd["job"]["scriptName"]')" "claim --json carries the job"

# --- renew, release, fail ----------------------------------------------------------------
assert_match '^20[0-9-]+T' "$(out $SC renew "$jid" "$jtok" --lease 600)" "renew prints the deadline"
errmsg 4 "no longer held" $SC renew "$jid" 0000000000000000
out $SC release "$jid" "$jtok"
assert_match "^$jid new 0 " "$(out $SC ls new | head -1)" "release: back in line, no attempt counted"
errmsg 4 "no longer held" $SC release "$jid" "$jtok"
read -r jid jtok jatt <<<"$(out $SC claim --worker w2 | head -1)"
assert_eq "$id1 1" "$jid $jatt" "claimed again after release"
assert_eq "$jid new" "$(out $SC fail "$jid" "$jtok" outcome.json)" "fail with attempts left: retried"
s=$(out $SC show "$jid")
assert_match "^state +new" "$s" "failed attempt goes back to new"
assert_match "^attempt +1" "$s" "failed attempt counted"

# --- tags -----------------------------------------------------------------------------
gpu=$(job 11 '{"priority":9,"tags":["gpu"]}' | out $SC submit)
read -r x xt _ <<<"$(out $SC claim --worker cpu1 | head -1)"
[ "$x" != "$gpu" ] || fail "a worker without the tag claimed a gpu job"
out $SC release "$x" "$xt"
read -r x _ <<<"$(out $SC claim --worker gpu1 --tag gpu | head -1)"
assert_eq "$gpu" "$x" "a worker with the tag claims it"

# --- hold, release, cancel, requeue ---------------------------------------------------------
out $SC hold "$id2"
assert_match "^state +held" "$(out $SC show "$id2")" "hold"
errmsg 4 "" $SC hold "$id2"
errmsg 3 "no order" $SC hold 0123456789abcdef01234567
out $SC release "$id2"
assert_match "^state +new" "$(out $SC show "$id2")" "release of a held order"
errmsg 4 "" $SC hold "$cid"	# done: cannot be held
out $SC cancel "$id2"
assert_match "^state +cancelled" "$(out $SC show "$id2")" "cancel"
errmsg 4 "" $SC cancel "$id2"
out $SC requeue "$id2"
s=$(out $SC show "$id2")
assert_match "^state +new" "$s" "requeue a cancelled order"
out $SC requeue "$cid"
assert_match "^attempt +0" "$(out $SC show "$cid")" "requeue: no attempts used"
errmsg 3 "no order" $SC cancel 0123456789abcdef01234567

# --- workers (a record as a worker in another language would write it) ----------
assert_eq "" "$(out $SC workers)" "no workers yet"
printf '{"name":"gpu-box","lastSeen":"2026-01-02T03:04:05.000Z","slots":2}' >spool/tmp/w.json
mv spool/tmp/w.json spool/workers/gpu-box.json
assert_eq "gpu-box 2026-01-02T03:04:05.000Z" "$(out $SC workers)" "workers"
assert_eq 2 "$(out $SC workers --json | jq_py 'd[0]["slots"]')" "workers --json"

# --- reap, fsck, ingest, empty claim -----------------------------------------------------------
assert_eq 0 "$(out $SC reap)" "nothing to reap"
out $SC fsck
out $SC ingest
while $SC claim --worker w9 >/dev/null 2>&1; do :; done
errmsg 3 "nothing to claim" $SC claim --worker w9
errmsg 3 "nothing to claim" $SC claim --worker w9 --wait 1
assert_eq 1 "$(count new)" "only the delayed job is left"
out $SC fsck
echo "ok"
