#!/usr/bin/env bash
# bench/run.sh: the driver of `make bench` (and `make bench-quick`).
#
# Starts spoold and beanstalkd (both on loopback, on ports they pick), drives
# them with the same generator (bin/bench-gen) and the same jobs, runs the
# local-spool benchmark (bin/bench-local) against the bare system calls in
# the same run, and prints one table; `make bench` also writes it into
# BENCHMARKS.md between the "bench:begin" and "bench:end" markers.
#
#   bench/run.sh            the full run (N=50,000, the 1M-order scale parts)
#   BENCH_QUICK=1 bench/run.sh   smaller N, no 1M parts, BENCHMARKS.md untouched
#
# Knobs (environment): BENCH_N (jobs per HTTP phase), BENCH_BUDGET (seconds
# after which an HTTP phase stops submitting, and draining: the rate is over
# what was done, so a slow server cannot make the run endless), BENCH_REPS
# (repeats of the local and scale phases, median kept), BENCH_HTTP_REPS,
# BENCH_SCALE (orders of the scale part),
# BENCH_DIR (where the spools go: must be on the file system measured),
# BENCH_WRITE=0 (do not touch BENCHMARKS.md), BIN (the build: bin/).
#
# Files: every phase gets a fresh spool in one work directory, and nothing
# is deleted until the end: on this ext4 (no journal) creating files slows
# down sharply after many recent unlinks, so deleting between phases would
# charge one phase for the last one's clean-up. Before each phase that
# creates files: sync and drop the caches (design.md), which also means a
# drain starts with the queued files no longer in the page cache.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
: "${BIN:=$top/bin}"
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	N=${BENCH_N:-2000}; BUDGET=${BENCH_BUDGET:-3}; NLAT=${BENCH_NLAT:-300}; NF0=${BENCH_NF0:-500}
	LOCAL_N=${BENCH_LOCAL_N:-1000}; NOSYNC_N=${BENCH_NOSYNC_N:-3000}
	REPS=${BENCH_REPS:-1}; HTTP_REPS=${BENCH_HTTP_REPS:-1}; SCALE=0
	IDLE=${BENCH_IDLE:-1000}; RUNNER_N=${BENCH_RUNNER_N:-20}
	WRITE=${BENCH_WRITE:-0}
else
	N=${BENCH_N:-50000}; BUDGET=${BENCH_BUDGET:-10}; NLAT=${BENCH_NLAT:-2000}; NF0=${BENCH_NF0:-5000}
	LOCAL_N=${BENCH_LOCAL_N:-4000}; NOSYNC_N=${BENCH_NOSYNC_N:-12000}
	REPS=${BENCH_REPS:-3}; HTTP_REPS=${BENCH_HTTP_REPS:-1}; SCALE=${BENCH_SCALE:-1000000}
	IDLE=${BENCH_IDLE:-10000}; RUNNER_N=${BENCH_RUNNER_N:-200}
	WRITE=${BENCH_WRITE:-1}
fi
GEN=$BIN/bench-gen
LOCAL=$BIN/bench-local
for b in "$GEN" "$LOCAL" "$BIN/spoold"; do
	[ -x "$b" ] || { echo "bench: $b is missing (make bench builds it)" >&2; exit 1; }
done
command -v beanstalkd >/dev/null || { echo "bench: beanstalkd is missing (make bench-deps)" >&2; exit 1; }

mkdir -p "${BENCH_DIR:-/var/tmp}"
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/spool-bench.XXXXXX")
LOG=$WORK/log
PIDS=()
t_start=$(date +%s)

cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	scale_fs_release
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		say "bench: removing $WORK ..."
		rm -rf "$WORK"
		sync
		drop_quiet
	fi
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }
drop_quiet() { [ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches || true; }
# Between phases that churn files (design.md): write back, forget caches.
drop() { sync; drop_quiet; }
# get KEY < line: the value of KEY=VALUE
get() { sed -n "s/^\(.* \)\{0,1\}$1=\([^ ]*\).*/\2/p" | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN { if (x == "-" || x == "") print "-"; else printf "%.*f\n", d, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }
# run LABEL CMD...: run a measurement, keep its output in the log, echo its last line
run() {
	local label=$1 out; shift
	out=$("$@" 2>>"$LOG") || { say "bench: $label failed: $(tail -n 3 "$LOG")"; echo "$out" | tail -1 >>"$LOG"; return 1; }
	echo "[$label] $out" >>"$LOG"
	printf '%s\n' "$out" | tail -1
}

# --- servers ---------------------------------------------------------------------
# start_spoold SPOOL [ARGS]: sets SPID, SPORT; T0 is its start (ns, realtime)
start_spoold() {
	local dir=$1; shift
	local out=$WORK/spoold.out.$RANDOM i
	T0=$(date +%s%N)
	"$BIN/spoold" --spool "$dir" --listen 127.0.0.1:0 --quiet "$@" >"$out" 2>>"$LOG" &
	SPID=$!
	PIDS+=("$SPID")
	for i in $(seq 1 6000); do
		grep -q '^listening on ' "$out" 2>/dev/null && break
		kill -0 "$SPID" 2>/dev/null || { say "bench: spoold exited: $(tail -n 5 "$LOG")"; exit 1; }
		sleep 0.01
	done
	SPORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
	[ -n "$SPORT" ] || { say "bench: spoold did not say where it listens"; exit 1; }
}
stop_pid() {
	local p=$1 i
	kill "$p" 2>/dev/null || true
	for i in $(seq 1 500); do kill -0 "$p" 2>/dev/null || break; sleep 0.02; done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
# start_bs MODE: beanstalkd with a fresh binlog; MODE def (its default fsync
# interval) or f0 (-f 0: fsync every write). Sets BPID, BPORT.
start_bs() {
	local dir=$WORK/bs.$1.$RANDOM i
	mkdir -p "$dir"
	if [ "$1" = f0 ]; then
		beanstalkd -l 127.0.0.1 -p 0 -b "$dir" -f 0 2>>"$LOG" &
	else
		beanstalkd -l 127.0.0.1 -p 0 -b "$dir" 2>>"$LOG" &
	fi
	BPID=$!
	PIDS+=("$BPID")
	BPORT=
	for i in $(seq 1 500); do
		BPORT=$( (ss -ltnpH 2>/dev/null || true) | sed -n "/pid=$BPID,/s/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p" | head -1)
		[ -n "$BPORT" ] && break
		kill -0 "$BPID" 2>/dev/null || { say "bench: beanstalkd exited"; exit 1; }
		sleep 0.01
	done
	[ -n "$BPORT" ] || { say "bench: cannot find beanstalkd's port"; exit 1; }
}

spool_new() { local d=$WORK/spool.$1.$RANDOM; echo "$d"; }

# --- the measurements ----------------------------------------------------------------
declare -A R	# results: key -> value
declare -A DONE	# jobs each HTTP phase got through, per server

# HTTP lifecycle and mixed, for one server kind: spool | def | f0
http_phase() {
	local kind=$1 rep=$2 n=$N line
	[ "$kind" = f0 ] && n=$NF0
	for w in 2 8; do
		drop
		if [ "$kind" = spool ]; then
			start_spoold "$(spool_new "lc$w")"
			line=$(run "spool lifecycle W=$w" "$GEN" lifecycle --port "$SPORT" -n "$n" -p 4 -w "$w" --budget "$BUDGET" --timeout 600)
			stop_pid "$SPID"
		else
			start_bs "$kind"
			line=$(run "beanstalkd-$kind lifecycle W=$w" "$GEN" lifecycle --proto beanstalk --port "$BPORT" -n "$n" -p 4 -w "$w" --budget "$BUDGET" --timeout 600)
			stop_pid "$BPID"
		fi
		R[$kind.submit.$rep.$w]=$(get submit_rate <<<"$line")
		R[$kind.drain$w.$rep]=$(get drain_rate <<<"$line")
		DONE[$kind]="${DONE[$kind]:-}${DONE[$kind]:+, }lifecycle W=$w: $(get acked <<<"$line")"
	done
	drop
	if [ "$kind" = spool ]; then
		start_spoold "$(spool_new mixed)"
		line=$(run "spool mixed" "$GEN" mixed --port "$SPORT" -n "$n" -p 4 -w 2 --budget "$BUDGET" --timeout 600)
		stop_pid "$SPID"
	else
		start_bs "$kind"
		line=$(run "beanstalkd-$kind mixed" "$GEN" mixed --proto beanstalk --port "$BPORT" -n "$n" -p 4 -w 2 --budget "$BUDGET" --timeout 600)
		stop_pid "$BPID"
	fi
	R[$kind.mixed.$rep]=$(get mixed_rate <<<"$line")
	DONE[$kind]="${DONE[$kind]}, mixed: $(get completed <<<"$line")"
}

latency_phase() {
	local kind=$1 line
	drop
	if [ "$kind" = spool ]; then
		start_spoold "$(spool_new lat)"
		line=$(run "spool latency" "$GEN" latency --port "$SPORT" -n "$NLAT" -p 4 -w 2 --rate 500 --wait 30 --timeout 300)
		stop_pid "$SPID"
	else
		start_bs "$kind"
		line=$(run "beanstalkd-$kind latency" "$GEN" latency --proto beanstalk --port "$BPORT" -n "$NLAT" -p 4 -w 2 --rate 500 --wait 30 --timeout 300)
		stop_pid "$BPID"
	fi
	R[$kind.p50]=$(get p50_ms <<<"$line")
	R[$kind.p99]=$(get p99_ms <<<"$line")
}

idle_phase() {
	local kind=$1 line
	if [ "$kind" = spool ]; then
		start_spoold "$(spool_new idle)" --max-conns $((IDLE + 100))
		# the first answer brings in what any request needs; then the base
		"$GEN" claim --port "$SPORT" -w 1 --timeout 30 >/dev/null 2>>"$LOG"
		line=$(run "spool idle" "$GEN" idle --port "$SPORT" --conns "$IDLE" --pid "$SPID" --timeout 120)
		stop_pid "$SPID"
	else
		start_bs "$kind"
		"$GEN" claim --proto beanstalk --port "$BPORT" -w 1 --timeout 30 >/dev/null 2>>"$LOG"
		line=$(run "beanstalkd-$kind idle" "$GEN" idle --proto beanstalk --port "$BPORT" --conns "$IDLE" --pid "$BPID" --timeout 120)
		stop_pid "$BPID"
	fi
	R[$kind.idle_mb]=$(get rss_kb <<<"$line" | awk '{printf "%.1f", $1/1024}')
	R[$kind.idle_nofile]=$(get server_nofile <<<"$line")
}

local_phase() {
	local rep=$1 nosync=$2 n=$LOCAL_N tag=sync flag="" a b line
	if [ "$nosync" = 1 ]; then n=$NOSYNC_N; tag=nosync; flag=--nosync; fi
	a=$WORK/local.lib.$tag.$rep; b=$WORK/local.floor.$tag.$rep
	mkdir -p "$a" "$b"
	drop
	run "fill $n" "$LOCAL" fill "$a/s" "$n" >/dev/null
	run "fill $n" "$LOCAL" fill "$b/s" "$n" >/dev/null
	drop
	line=$(run "local lib $tag" "$LOCAL" lib "$a/s" 2 $flag --timeout 300)
	R[lib.$tag.$rep]=$(get rate <<<"$line")
	drop
	line=$(run "local floor $tag" "$LOCAL" floor "$b/s" 2 $flag --timeout 300)
	R[floor.$tag.$rep]=$(get rate <<<"$line")
}

# The scale part's 2M files would take minutes to delete from the real file
# system; it gets its own ext4 (no journal, like ours) on a loop device in a
# sparse file, which goes in seconds. Both its 1k and its 1M figures are
# measured there, so their ratio is like for like. Not root: the work dir.
SCALE_MNT=
scale_fs() {
	local img=$WORK/scale.img mnt=$WORK/scale.mnt
	mkdir -p "$mnt"
	if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null &&
	   truncate -s $(( (SCALE / 1000 + 64) * 12 ))M "$img" &&
	   mkfs.ext4 -q -F -O ^has_journal -N $((SCALE * 2 + 200000)) -E lazy_itable_init=1,nodiscard "$img" 2>>"$LOG" &&
	   mount -o loop,noinit_itable "$img" "$mnt" 2>>"$LOG"; then
		SCALE_MNT=$mnt
		SCALE_DIR=$mnt
	else
		say "bench: no loop-mounted scratch file system; the clean-up will take minutes"
		rm -f "$img"
		SCALE_DIR=$WORK
	fi
}
scale_fs_release() {
	if [ -n "$SCALE_MNT" ]; then
		umount "$SCALE_MNT" 2>>"$LOG" || umount -l "$SCALE_MNT" 2>>"$LOG" || true
		rm -f "$WORK/scale.img"
		SCALE_MNT=
	fi
}

scale_phase() {
	local small big line base r1k rbig i
	scale_fs
	small=$SCALE_DIR/scale.1k big=$SCALE_DIR/scale.big
	mkdir -p "$small" "$big"
	# the empty spool's memory is the base of the per-order figure
	drop
	start_spoold "$(spool_new empty)"
	"$GEN" claim --port "$SPORT" -w 1 --timeout 30 >/dev/null 2>>"$LOG"
	base=$(awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status")
	stop_pid "$SPID"
	# 1,000 queued: claim + complete all of them, W=2
	r1k=()
	for i in $(seq 1 "$REPS"); do
		run "fill 1000" "$LOCAL" fill "$small/s$i" 1000 >/dev/null
		drop
		start_spoold "$small/s$i"
		line=$(run "spool claim at 1k" "$GEN" claim --port "$SPORT" -w 2 --count 1000 --timeout 120)
		r1k+=("$(get claim_rate <<<"$line")")
		stop_pid "$SPID"
	done
	# SCALE queued: built once, in place, without fsync (bench-local bigfill)
	say "bench: building a spool of $SCALE queued orders (bench-local bigfill, no fsync) ..."
	line=$(run "bigfill $SCALE" "$LOCAL" bigfill "$big/s" "$SCALE" --procs 2 --timeout 600)
	R[scale.fill_s]=$(get fill_s <<<"$line")
	drop
	start_spoold "$big/s"
	line=$(run "spool start at scale" "$GEN" first --port "$SPORT" --t0 "$T0" --timeout 120)
	R[scale.start_s]=$(awk -v x="$(get serving_ms <<<"$line")" 'BEGIN {printf "%.2f", x/1000}')
	R[scale.listen_s]=$(awk -v x="$(get connect_ms <<<"$line")" 'BEGIN {printf "%.2f", x/1000}')
	R[scale.rss_mb]=$(awk '/^VmRSS:/ {printf "%.0f", $2/1024}' "/proc/$SPID/status")
	R[scale.bytes_per]=$(awk -v b="$base" -v n="$SCALE" '/^VmRSS:/ {printf "%.0f", ($2 - b) * 1024 / n}' "/proc/$SPID/status")
	rbig=()
	for i in $(seq 1 "$REPS"); do
		line=$(run "spool claim at scale" "$GEN" claim --port "$SPORT" -w 2 --count 1000 --timeout 120)
		rbig+=("$(get claim_rate <<<"$line")")
	done
	stop_pid "$SPID"
	R[scale.r1k]=$(median "${r1k[@]}")
	R[scale.rbig]=$(median "${rbig[@]}")
	t=$(date +%s)
	scale_fs_release
	R[scale.release_s]=$(( $(date +%s) - t ))
}

runner_phase() {
	local d=$WORK/runner line t0 t1 per exec_ms
	[ -x "$BIN/runner" ] || { R[runner.ms]="-"; return; }
	mkdir -p "$d/scripts"
	printf '#!/bin/sh\necho '"'"'{"status":200,"loss":0.1}'"'"'\n' >"$d/scripts/trivial"
	chmod +x "$d/scripts/trivial"
	run "fill runner" "$LOCAL" fill "$d/s" "$RUNNER_N" --script trivial >/dev/null
	line=$(run "exec trivial" "$LOCAL" exec "$d/scripts/trivial" "$RUNNER_N")
	exec_ms=$(get per_run_ms <<<"$line")
	drop
	t0=$(date +%s%N)
	timeout 300 "$BIN/runner" --spool "$d/s" --scripts "$d/scripts" --drain --name bench-runner \
		--workdir "$d/work" --poll-ms 50 >>"$LOG" 2>&1 || { say "bench: runner failed"; R[runner.ms]="-"; return; }
	t1=$(date +%s%N)
	left=$(find "$d/s/new" -type f | wc -l)
	[ "$left" = 0 ] || say "bench: runner left $left orders"
	per=$(awk -v a="$t0" -v b="$t1" -v n="$RUNNER_N" 'BEGIN {printf "%.3f", (b - a) / 1e6 / n}')
	R[runner.per_ms]=$per
	R[runner.exec_ms]=$exec_ms
	R[runner.ms]=$(awk -v p="$per" -v e="$exec_ms" 'BEGIN {printf "%.2f", p - e}')
}

# --- the run ----------------------------------------------------------------------------
say "bench: work directory $WORK ($([ "$QUICK" = 1 ] && echo quick || echo full): N=$N, reps=$REPS)"
drop
ulimit -n $((IDLE + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$HTTP_REPS"); do
	say "bench: HTTP lifecycle and mixed, round $rep of $HTTP_REPS ..."
	http_phase spool "$rep"
	http_phase def "$rep"
	[ "$rep" = 1 ] && http_phase f0 "$rep"	# -f 0 is slow: one round, smaller N
done
say "bench: latency ..."
latency_phase spool
latency_phase def
latency_phase f0
say "bench: $IDLE idle long-polls ..."
idle_phase spool
idle_phase def
say "bench: local spool, library against the bare system calls ..."
for rep in $(seq 1 "$REPS"); do
	local_phase "$rep" 0
	local_phase "$rep" 1
done
if [ "$SCALE" -gt 0 ]; then
	say "bench: scale ..."
	scale_phase
fi
say "bench: runner overhead ..."
runner_phase

# --- the table -------------------------------------------------------------------------------
med() { # med PREFIX: the median of every R[PREFIX.*]
	local v=() k
	for k in "${!R[@]}"; do
		case $k in "$1".*) v+=("${R[$k]}");; esac
	done
	median "${v[@]}"
}
declare -A M
for kind in spool def f0; do
	M[$kind.submit]=$(med "$kind.submit")
	M[$kind.drain2]=$(med "$kind.drain2")
	M[$kind.drain8]=$(med "$kind.drain8")
	M[$kind.mixed]=$(med "$kind.mixed")
done
M[lib.sync]=$(med lib.sync); M[floor.sync]=$(med floor.sync)
M[lib.nosync]=$(med lib.nosync); M[floor.nosync]=$(med floor.nosync)

row() { # row WHAT SPOOL DEF F0 GOAL [DIGITS]
	local d=${6:-0}
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$2" "$d")" "$(fmt "$3" "$d")" \
		"$(ratio "$2" "$3")" "$(fmt "$4" "$d")" "$(ratio "$2" "$4")" "$5"
}
lrow() { # lower is better: ratio is theirs / ours
	local d=${6:-2}
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$2" "$d")" "$(fmt "$3" "$d")" \
		"$(ratio "$3" "$2")" "$(fmt "$4" "$d")" "$(ratio "$4" "$2")" "$5"
}
orow() { # a figure with nothing to compare: spool only
	printf '| %s | %s | | | | | %s |\n' "$1" "$2" "$3"
}
TABLE=$WORK/table
{
	echo "| measure | spool | beanstalkd -b (fsync ≤50 ms) | ratio | beanstalkd -b -f 0 | ratio | goal |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	row "HTTP submit/s, 1 producer (4 conns)" "${M[spool.submit]}" "${M[def.submit]}" "${M[f0.submit]}" ""
	row "HTTP drain/s (claim+complete), W=2" "${M[spool.drain2]}" "${M[def.drain2]}" "${M[f0.drain2]}" ""
	row "HTTP drain/s (claim+complete), W=8" "${M[spool.drain8]}" "${M[def.drain8]}" "${M[f0.drain8]}" ""
	row "HTTP mixed/s (1 producer + W=2)" "${M[spool.mixed]}" "${M[def.mixed]}" "${M[f0.mixed]}" "≥1.0x default, ≥3x -f 0"
	lrow "submit→claim p50, ms (500/s paced)" "${R[spool.p50]:-}" "${R[def.p50]:-}" "${R[f0.p50]:-}" "≤ 2 ms"
	lrow "submit→claim p99, ms (500/s paced)" "${R[spool.p99]:-}" "${R[def.p99]:-}" "${R[f0.p99]:-}" "≤ 5 ms"
	lrow "RSS with $IDLE idle long-polls, MB" "${R[spool.idle_mb]:-}" "${R[def.idle_mb]:-}" "-" "< 100 MB" 1
	orow "local claim+complete/s, library, W=2 (fsync)" "$(fmt "${M[lib.sync]}")" ""
	orow "local claim+complete/s, bare syscalls, W=2 (fsync)" "$(fmt "${M[floor.sync]}")" ""
	orow "library / bare syscalls (fsync)" "$(ratio "${M[lib.sync]}" "${M[floor.sync]}")" "≥ 0.90x"
	orow "local claim+complete/s, library, W=2 (nosync)" "$(fmt "${M[lib.nosync]}")" "≥ 37,000/s"
	orow "local claim+complete/s, bare syscalls, W=2 (nosync)" "$(fmt "${M[floor.nosync]}")" ""
	orow "library / bare syscalls (nosync)" "$(ratio "${M[lib.nosync]}" "${M[floor.nosync]}")" ""
	if [ "$SCALE" -gt 0 ]; then
		orow "HTTP claim+complete/s, 1,000 queued (W=2)" "$(fmt "${R[scale.r1k]}")" ""
		orow "HTTP claim+complete/s, $SCALE queued (W=2)" "$(fmt "${R[scale.rbig]}")" ""
		orow "ratio $SCALE / 1,000" "$(ratio "${R[scale.rbig]}" "${R[scale.r1k]}")" "≥ 0.80x"
		orow "spoold start to first claim, $SCALE queued, s" "${R[scale.start_s]} (listening at ${R[scale.listen_s]})" "≤ 5 s"
		orow "RSS per queued order, bytes" "${R[scale.bytes_per]} (${R[scale.rss_mb]} MB in all)" "≤ 200"
	fi
	orow "runner overhead per job, ms (trivial script)" "${R[runner.ms]:-} (${R[runner.per_ms]:-} per job, script ${R[runner.exec_ms]:-})" "≤ 5 ms"
} >"$TABLE"

t_end=$(date +%s)
MACHINE="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, Linux $(uname -r), $(df -T "$WORK" | awk 'NR==2 {print $2}') on $(df "$WORK" | awk 'NR==2 {print $1}') (mount options: $(awk -v m="$(df --output=target "$WORK" | tail -1)" '$2 == m {print $4}' /proc/mounts | head -1))"
{
	echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), $([ "$QUICK" = 1 ] && echo 'make bench-quick' || echo 'make bench'), $((t_end - t_start)) s."
	echo
	echo "Machine: $MACHINE; spoold/lib at $(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$top" && git diff --quiet HEAD -- lib spoold runner 2>/dev/null || echo ' (with uncommitted changes)'); beanstalkd $(beanstalkd -v 2>&1 | awk '{print $2}')."
	echo
	[ "$SCALE" -gt 0 ] && echo "Scale: a spool of $SCALE queued orders written in ${R[scale.fill_s]} s by \`bench-local bigfill\` (the files spool_submit leaves, written in place by 2 processes, no fsync), on a scratch ext4 without a journal on a loop device (the 1,000-order figures too), unmounted and deleted in ${R[scale.release_s]} s." && echo
	echo "Load average (1, 5, 15 min) at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "HTTP: N = $N jobs of about 610 bytes per phase (beanstalkd -f 0: $NF0), each phase cut after $BUDGET s of submitting (and $BUDGET s of draining); jobs done — spool: ${DONE[spool]:-}; beanstalkd: ${DONE[def]:-}; beanstalkd -f 0: ${DONE[f0]:-}. Submit/s is the median of the two lifecycle phases$([ "$HTTP_REPS" -gt 1 ] && echo " over $HTTP_REPS rounds"). Latency over $NLAT jobs. Local: $LOCAL_N orders with fsync, $NOSYNC_N without, medians of $REPS rounds$([ "$SCALE" -gt 0 ] && echo "; scale: medians of $REPS runs of 1,000 claims")."
	echo
	cat "$TABLE"
} >"$WORK/report"
echo
cat "$WORK/report"
echo
if [ "$WRITE" = 1 ]; then
	md=$top/BENCHMARKS.md
	if [ -f "$md" ] && grep -q '<!-- bench:begin -->' "$md"; then
		awk -v rep="$WORK/report" '
			/<!-- bench:begin -->/ { print; while ((getline l < rep) > 0) print l; skip = 1; next }
			/<!-- bench:end -->/ { skip = 0 }
			!skip { print }' "$md" >"$md.tmp" && mv "$md.tmp" "$md"
	else
		{ echo "# Benchmarks"; echo; echo "<!-- bench:begin -->"; cat "$WORK/report"; echo "<!-- bench:end -->"; } >"$md"
	fi
	say "bench: table written to BENCHMARKS.md"
fi
say "bench: log of this run: $LOG (removed at exit; BENCH_KEEP=1 keeps it)"
