# Shared helpers for the shell tests (sourced by tests/t-*.sh).
# Each test runs in its own empty directory ($TESTDIR, also the cwd) with
# $BIN pointing at the build under test and $TOP at the repository.
set -euo pipefail
: "${BIN:?BIN must be set (tests/run sets it)}"
: "${TESTDIR:=$(pwd)}"
PIDS=()

fail() { echo "FAIL: $*" >&2; exit 1; }
# assert_eq EXPECTED ACTUAL WHAT
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"; }
# (a here-string, not a pipe: grep -q closing early would trip pipefail)
assert_match() { grep -Eq -- "$1" <<<"$2" || fail "$3: expected /$1/ in '$2'"; }
# run a command that must fail with exit code $1
assert_exit() { local want=$1; shift; set +e; "$@"; local rc=$?; set -e; [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want"; }

# wait_for CMD...: retry CMD until it succeeds (WAIT_S, default 30 s, at most),
# never a fixed sleep.
wait_for() {
	local i
	for i in $(seq 1 $(( ${WAIT_S:-30} * 20 ))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
	fail "timed out waiting for: $*"
}

# http METHOD PATH [CURL ARGS...]: a request to $URL; sets CODE (the status)
# and BODY. Fails the test when curl cannot reach the server.
http() {
	local m=$1 p=$2 out; shift 2
	out=$(curl -sS -X "$m" -w '\n%{http_code}' "$@" "$URL$p") || fail "curl $m $p"
	CODE=${out##*$'\n'}; BODY=${out%$'\n'*}
}
# js EXPR: EXPR (Python, the JSON of $BODY as d) printed
js() { python3 -c 'import json,sys; d=json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$BODY"; }

# start_spoold SPOOLDIR [ARGS...]: start the daemon on a free port; sets
# SPOOLD_PID, PORT and URL. The daemon prints "listening on HOST:PORT" first.
start_spoold() {
	local dir=$1; shift
	local out; out=$(mktemp "$TESTDIR/spoold.out.XXXX")
	"$BIN/spoold" --spool "$dir" --listen 127.0.0.1:0 "$@" >"$out" 2>>"$TESTDIR/spoold.log" &
	SPOOLD_PID=$!
	PIDS+=("$SPOOLD_PID")
	local i
	for i in $(seq 1 200); do
		if grep -q '^listening on ' "$out"; then break; fi
		kill -0 "$SPOOLD_PID" 2>/dev/null || fail "spoold exited: $(cat "$TESTDIR/spoold.log")"
		sleep 0.05
	done
	PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
	[ -n "$PORT" ] || fail "spoold did not report its port"
	URL="http://127.0.0.1:$PORT"
}

# Stop every process a test started, by PID (a stopped one is woken, or the
# wait for it would never end).
# Only a process that is still this test's is stopped: a PID whose process
# ended may be another test's by now (pid_max is 32768 here), so it must be
# this shell's child or run with this test's directory in its arguments.
ours() {
	local pp
	pp=$(awk '{print $4}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$pp" = "$$" ] || tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$TESTDIR"
}
cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		if [ -n "$p" ] && ours "$p"; then
			kill "$p" 2>/dev/null || true
			kill -CONT "$p" 2>/dev/null || true
		fi
	done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && reap "$p"; done
	[ -z "${CLEANUP_RC:-}" ] || exit 1
	return 0
}
# reap PID: wait for a stopped process, but not for ever: one still there
# 30 s after its SIGTERM is a hang, whose threads' stacks are kept in
# hung.PID.txt (gdb) before it is killed. Under ASan (the one place it was
# seen, once the program had said "stopped": LeakSanitizer's exit check
# under heavy load) that is said loudly; in the plain build it fails the test.
reap() {
	local i
	for i in $(seq 1 300); do
		ours "$1" && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || break
		sleep 0.1
	done
	if ours "$1" && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; then
		{ tr '\0' ' ' <"/proc/$1/cmdline"; echo; grep -E '^(State|Threads)' "/proc/$1/status"
		  timeout 60 gdb -q -batch -p "$1" -ex 'thread apply all bt' 2>&1; } >"$TESTDIR/hung.$1.txt" 2>&1 || true
		kill -KILL "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
		echo "HUNG: process $1 did not exit within 30 s of SIGTERM; its stacks: $TESTDIR/hung.$1.txt" >&2
		[ -n "${ASAN:-}" ] || { CLEANUP_RC=1; return 0; }
	fi
	wait "$1" 2>/dev/null || true
}
trap cleanup EXIT
