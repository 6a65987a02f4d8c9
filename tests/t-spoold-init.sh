#!/usr/bin/env bash
# spoold --spool DIR: a directory that holds other files and is not a spool
# is refused unless --init (a typo must not turn a home directory into a
# spool); a new or empty directory becomes a spool; a busy port leaves no
# new spool behind; --version.
. "$TOP/tests/lib.sh"
mkdir notes && echo "my thesis" >notes/chapter1.txt
set +e; timeout 20 "$BIN/spoold" --spool notes --listen 127.0.0.1:0 >out 2>err; rc=$?; set -e
[ "$rc" != 0 ] || fail "spoold made a spool of a directory of other files"
grep -q -- "--init" err || fail "the refusal says how to go on: $(cat err)"
assert_eq "chapter1.txt" "$(ls notes)" "the directory is left as it was"
# with --init it is made a spool
start_spoold "$TESTDIR/notes" --init
[ -d notes/new ] && [ -d notes/jobs ] || fail "--init made no spool"
kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
# an empty directory, and a missing one, need no --init
mkdir empty
start_spoold "$TESTDIR/empty"; kill "$SPOOLD_PID"; wait "$SPOOLD_PID" 2>/dev/null || true
[ -d empty/new ] || fail "an empty directory became no spool"
# a busy port: nothing is created
start_spoold "$TESTDIR/empty"
set +e; timeout 20 "$BIN/spoold" --spool fresh --listen "127.0.0.1:$PORT" >out2 2>err2; rc=$?; set -e
[ "$rc" != 0 ] || fail "a second spoold on a busy port started"
[ ! -e fresh ] || fail "a busy port left a new spool behind: $(ls fresh | head -3)"
grep -q "cannot listen" err2 || fail "it says why: $(cat err2)"
assert_match '^spoold [0-9]' "$("$BIN/spoold" --version)" "spoold --version"
