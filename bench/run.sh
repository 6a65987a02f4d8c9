#!/usr/bin/env bash
# bench/run.sh: the driver of `make bench` (and `make bench-quick`).
#
# Starts spoold, beanstalkd and redis (all on loopback), drives them with the
# same generator (bin/bench-gen) and the same jobs, runs the
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
# BENCH_SCALE (orders of the scale part), LIFECYCLE_W ("8": the consumer
# counts of the lifecycle phase; "2 8" adds drain/s at W=2),
# BENCH_DIR (where the spools go: must be on the file system measured),
# BENCH_WRITE=0 (do not touch BENCHMARKS.md), BIN (the build: bin/),
# BENCH_ONLY (the phases to run, of: http latency idle local scale runner;
# all when unset; e.g. BENCH_ONLY=scale BENCH_SCALE=1000000 BENCH_WRITE=0
# runs only the 1M-order part, a few minutes, even with BENCH_QUICK=1).
# BENCH_LAT_DUMP=FILE (read by bench-gen latency): each latency sample as
# "ms since the first submit, latency ms", to see when a tail happens.
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
	LOCAL_N=${BENCH_LOCAL_N:-1000}; NOSYNC_N=${BENCH_NOSYNC_N:-3000}; FLUSH_N=${BENCH_FLUSH_N:-100}
	REPS=${BENCH_REPS:-1}; HTTP_REPS=${BENCH_HTTP_REPS:-1}; SCALE=0
	IDLE=${BENCH_IDLE:-1000}; RUNNER_N=${BENCH_RUNNER_N:-20}
	WRITE=${BENCH_WRITE:-0}
else
	N=${BENCH_N:-20000}; BUDGET=${BENCH_BUDGET:-6}; NLAT=${BENCH_NLAT:-2000}; NF0=${BENCH_NF0:-5000}
	LOCAL_N=${BENCH_LOCAL_N:-4000}; NOSYNC_N=${BENCH_NOSYNC_N:-12000}; FLUSH_N=${BENCH_FLUSH_N:-300}
	REPS=${BENCH_REPS:-3}; HTTP_REPS=${BENCH_HTTP_REPS:-3}; SCALE=${BENCH_SCALE:-1000000}
	IDLE=${BENCH_IDLE:-10000}; RUNNER_N=${BENCH_RUNNER_N:-200}
	WRITE=${BENCH_WRITE:-1}
fi
ONLY=${BENCH_ONLY:-}
# want PHASE: true when PHASE runs (BENCH_ONLY unset or naming it)
want() { [ -z "$ONLY" ] || [[ " ${ONLY//,/ } " == *" $1 "* ]]; }
# BENCH_SCALE applies in a quick run too when the scale part is asked for
if [ "$QUICK" = 1 ] && [ -n "$ONLY" ] && want scale; then SCALE=${BENCH_SCALE:-1000000}; fi
GEN=$BIN/bench-gen
LOCAL=$BIN/bench-local
for b in "$GEN" "$LOCAL" "$BIN/spoold"; do
	[ -x "$b" ] || { echo "bench: $b is missing (make bench builds it)" >&2; exit 1; }
done
command -v beanstalkd >/dev/null || { echo "bench: beanstalkd is missing (make bench-deps)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "bench: redis-server is missing (make bench-deps)" >&2; exit 1; }
# spoold's relaxed mode, when this build has it
INTERVAL=0
"$BIN/spoold" --help 2>&1 | grep -q -- '--sync' && INTERVAL=1

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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }
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

# start_redis: redis-server with a fresh AOF, appendfsync always (an fsync
# before each answer, batched per event-loop turn), no snapshots. Sets RPID,
# RPORT. Redis picks no port itself: try free ones.
start_redis() {
	local dir=$WORK/redis.$RANDOM i p
	mkdir -p "$dir"
	for i in $(seq 1 20); do
		p=$((20000 + RANDOM % 40000))
		(ss -ltnH 2>/dev/null || true) | grep -q "127.0.0.1:$p " && continue
		redis-server --bind 127.0.0.1 --port "$p" --dir "$dir" --appendonly yes \
			--appendfsync always --save '' --daemonize no --logfile "$dir/log" 2>>"$LOG" &
		RPID=$!
		PIDS+=("$RPID")
		for _ in $(seq 1 300); do
			(ss -ltnpH 2>/dev/null || true) | grep -q "pid=$RPID," && { RPORT=$p; return 0; }
			kill -0 "$RPID" 2>/dev/null || break
			sleep 0.01
		done
		stop_pid "$RPID"
	done
	say "bench: cannot start redis-server"; exit 1
}

spool_new() { local d=$WORK/spool.$1.$RANDOM; echo "$d"; }

# serve KIND [SPOOL-LABEL]: start the server of KIND; sets SPROTO, SP (port)
# and SVPID. Kinds: spool (spoold, its default durability), spoolint (spoold
# --sync interval=50), spoolns (spoold --no-sync), def (beanstalkd -b, fsync
# at most every 50 ms), f0 (beanstalkd -b -f 0, fsync every write), redis
# (appendfsync always).
serve() {
	case $1 in
	spool|spoolint|spoolns)
		local extra=()
		[ "$1" = spoolint ] && extra=(--sync interval=50)
		[ "$1" = spoolns ] && extra=(--no-sync)
		start_spoold "$(spool_new "${2:-x}")" "${extra[@]}"
		SPROTO=http SP=$SPORT SVPID=$SPID;;
	def|f0) start_bs "$1"; SPROTO=beanstalk SP=$BPORT SVPID=$BPID;;
	redis) start_redis; SPROTO=redis SP=$RPORT SVPID=$RPID;;
	esac
}
# cpu_ms PID: user + system CPU the process used so far, ms (its getrusage,
# as /proc/PID/stat reports it)
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }

# --- the measurements ----------------------------------------------------------------
declare -A R	# results: key -> value
declare -A DONE	# jobs each HTTP phase got through, per server

# HTTP lifecycle and mixed, for one server kind (see serve)
http_phase() {
	local kind=$1 rep=$2 n=$N line cpu
	[ "$kind" = f0 ] && n=$NF0
	# lifecycle at W=8 only (submit/s and drain/s); the mixed load at both
	for w in ${LIFECYCLE_W:-8}; do
		drop
		serve "$kind" "lc$w"
		line=$(run "$kind lifecycle W=$w" "$GEN" lifecycle --proto "$SPROTO" --port "$SP" -n "$n" -p 4 -w "$w" --budget "$BUDGET" --timeout 600)
		stop_pid "$SVPID"
		R[$kind.submit.$rep.$w]=$(get submit_rate <<<"$line")
		R[$kind.drain$w.$rep]=$(get drain_rate <<<"$line")
		if [ "$rep" = 1 ]; then DONE[$kind]="${DONE[$kind]:-}${DONE[$kind]:+, }lifecycle W=$w: $(get acked <<<"$line")"; fi
	done
	for w in 2 8; do
		drop
		serve "$kind" "mixed$w"
		line=$(run "$kind mixed W=$w" "$GEN" mixed --proto "$SPROTO" --port "$SP" -n "$n" -p 4 -w "$w" --budget "$BUDGET" --timeout 600)
		# CPU per job: all the server used (it started for this phase)
		# over the jobs completed
		cpu=$(cpu_ms "$SVPID")
		stop_pid "$SVPID"
		R[$kind.mixed$w.$rep]=$(get mixed_rate <<<"$line")
		R[$kind.cpu$w.$rep]=$(awk -v c="$cpu" -v n="$(get completed <<<"$line")" 'BEGIN {if (n > 0) printf "%.0f", c * 1000 / n; else print "-"}')
		# (an if, not &&: a false test as a loop's last word would end the run)
		if [ "$rep" = 1 ]; then DONE[$kind]="${DONE[$kind]}, mixed W=$w: $(get completed <<<"$line")"; fi
	done
}

latency_phase() {
	local kind=$1 line
	drop
	serve "$kind" lat
	line=$(run "$kind latency" "$GEN" latency --proto "$SPROTO" --port "$SP" -n "$NLAT" -p 4 -w 2 --rate 500 --wait 30 --timeout 300)
	stop_pid "$SVPID"
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

# The cost of one durable write on this disk, the way each server makes one:
# the limit the layout sets, whatever spoold's code does (BENCHMARKS.md).
flush_phase() {
	local rep=$1 d=$WORK/flush.$rep line k
	drop
	line=$(run "flush" "$LOCAL" flush "$d" "$FLUSH_N" --timeout 300) || return 0
	for k in append create rename batch; do R[flush.$k.$rep]=$(get "${k}_us" <<<"$line"); done
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

# settle PID: wait (at most 300 s) until the process has used no CPU for
# a second; SETTLED is when it last did (ns, realtime)
settle() {
	local last now quiet=0 i
	last=$(cpu_ms "$1")
	SETTLED=$(date +%s%N)
	for i in $(seq 1 1500); do
		sleep 0.2
		now=$(cpu_ms "$1")
		if [ "$now" = "$last" ]; then
			quiet=$((quiet + 1))
			[ "$quiet" -ge 5 ] && return 0
		else
			quiet=0
			last=$now
			SETTLED=$(date +%s%N)
		fi
	done
}

# warm_tools: after a drop, bring the measuring side (curl and its ~30
# libraries, bench-gen, the shell's helpers) back into the page cache, so
# that a cold start measures spoold's start and not curl's: curl alone took
# 94 ms cold on a quiet disk here, and far more on a busy one. spoold, its
# libraries and the spool stay cold.
warm_tools() {
	curl -s -o /dev/null --max-time 2 http://127.0.0.1:1/ 2>/dev/null || true
	"$GEN" --help >/dev/null 2>&1 || true
	{ grep -q x /dev/null; sed -n 1p /dev/null; awk 'BEGIN {}' </dev/null
	  sleep 0.01; date +%s%N >/dev/null; } || true
}

scale_phase() {
	local small big line base r1k rbig i bpid bport
	scale_fs
	small=$SCALE_DIR/scale.1k big=$SCALE_DIR/scale.big
	mkdir -p "$small" "$big"
	# the empty spool's memory is the base of the per-order figure
	drop
	start_spoold "$(spool_new empty)"
	"$GEN" claim --port "$SPORT" -w 1 --timeout 30 >/dev/null 2>>"$LOG"
	base=$(awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status")
	stop_pid "$SPID"
	# SCALE queued: built once, in place, without fsync (bench-local bigfill)
	say "bench: building a spool of $SCALE queued orders (bench-local bigfill, no fsync) ..."
	line=$(run "bigfill $SCALE" "$LOCAL" bigfill "$big/s" "$SCALE" --procs 2 --timeout 600)
	R[scale.fill_s]=$(get fill_s <<<"$line")
	# the start, cold: the spool and spoold read from disk, the measuring
	# tools warm (the same alone, BENCH_ONLY=scale, as in the full run)
	drop
	warm_tools
	start_spoold "$big/s"
	# /healthz: the first 200 after the start (start_spoold returns once
	# spoold says it listens)
	for _ in $(seq 1 12000); do
		curl -fsS -o /dev/null "http://127.0.0.1:$SPORT/healthz" 2>/dev/null && break
		sleep 0.005
	done
	R[scale.health_s]=$(awk -v a="$T0" -v b="$(date +%s%N)" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
	line=$(run "spool start at scale" "$GEN" first --port "$SPORT" --t0 "$T0" --timeout 120)
	R[scale.start_s]=$(awk -v x="$(get serving_ms <<<"$line")" 'BEGIN {printf "%.2f", x/1000}')
	R[scale.listen_s]=$(awk -v x="$(get connect_ms <<<"$line")" 'BEGIN {printf "%.2f", x/1000}')
	# the index loads in the background: memory and the claim rate are
	# measured once it is all in (spoold idle: its CPU time stops growing)
	settle "$SPID"
	R[scale.loaded_s]=$(awk -v a="$T0" -v b="$SETTLED" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
	R[scale.rss_mb]=$(awk '/^VmRSS:/ {printf "%.0f", $2/1024}' "/proc/$SPID/status")
	R[scale.bytes_per]=$(awk -v b="$base" -v n="$SCALE" '/^VmRSS:/ {printf "%.0f", ($2 - b) * 1024 / n}' "/proc/$SPID/status")
	bpid=$SPID bport=$SPORT
	# the claim rates, 1,000 queued against SCALE queued, interleaved (a
	# round of each in turn) so that a slow minute of the shared machine
	# falls on both alike; before, the 1k rounds ran minutes before the
	# SCALE ones (and the fill between them), and their ratio was the
	# machine's mood (0.49x to 1.91x in three runs of one build at load 5)
	r1k=() rbig=()
	for i in $(seq 1 "$REPS"); do
		# 1,000 queued, a fresh spool, cold: claim + complete all, W=2
		run "fill 1000" "$LOCAL" fill "$small/s$i" 1000 >/dev/null
		drop
		start_spoold "$small/s$i"
		line=$(run "spool claim at 1k" "$GEN" claim --port "$SPORT" -w 2 --count 1000 --timeout 120)
		r1k+=("$(get claim_rate <<<"$line")")
		stop_pid "$SPID"
		# SCALE queued: 1,000 of them, from the spoold loaded above
		line=$(run "spool claim at scale" "$GEN" claim --port "$bport" -w 2 --count 1000 --timeout 120)
		rbig+=("$(get claim_rate <<<"$line")")
	done
	stop_pid "$bpid"
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
KINDS=(spool redis f0 def spoolns)
[ "$INTERVAL" = 1 ] && KINDS+=(spoolint)
# the rounds interleave the servers, so that a slow minute of the machine
# falls on all of them alike; each figure is the median over the rounds
if want http; then
	for rep in $(seq 1 "$HTTP_REPS"); do
		say "bench: HTTP lifecycle and mixed, round $rep of $HTTP_REPS ..."
		for k in "${KINDS[@]}"; do http_phase "$k" "$rep"; done
	done
fi
if want latency; then
	say "bench: latency ..."
	for k in spool redis f0 def; do latency_phase "$k"; done
fi
if want idle; then
	say "bench: $IDLE idle long-polls ..."
	idle_phase spool
	idle_phase def
fi
if want local; then
	say "bench: local spool, library against the bare system calls ..."
	for rep in $(seq 1 "$REPS"); do
		local_phase "$rep" 0
		local_phase "$rep" 1
		flush_phase "$rep"
	done
fi
if [ "$SCALE" -gt 0 ] && want scale; then
	say "bench: scale ..."
	scale_phase
else
	SCALE=0
fi
if want runner; then
	say "bench: runner overhead ..."
	runner_phase
fi

# --- the table -------------------------------------------------------------------------------
med() { # med PREFIX: the median of every R[PREFIX.*]
	local v=() k
	for k in "${!R[@]}"; do
		case $k in "$1".*) v+=("${R[$k]}");; esac
	done
	median "${v[@]}"
}
declare -A M
for kind in spool spoolint spoolns def f0 redis; do
	M[$kind.submit]=$(med "$kind.submit")
	M[$kind.drain2]=$(med "$kind.drain2")
	M[$kind.drain8]=$(med "$kind.drain8")
	M[$kind.mixed2]=$(med "$kind.mixed2")
	M[$kind.mixed8]=$(med "$kind.mixed8")
	M[$kind.cpu2]=$(med "$kind.cpu2")
	M[$kind.cpu8]=$(med "$kind.cpu8")
done
M[lib.sync]=$(med lib.sync); M[floor.sync]=$(med floor.sync)
M[lib.nosync]=$(med lib.nosync); M[floor.nosync]=$(med floor.nosync)
for k in append create rename batch; do M[flush.$k]=$(med "flush.$k"); done
# The disk's floor under mixed load, at best. beanstalkd -f 0 fdatasyncs its
# binlog twice per job (put, delete), one after another. spool makes 3 files
# durable per job (job, order, outcome) and answers only after a second round
# (the renames): with C completes and C submits in each batch (C = min(W, 4),
# the producer has 4 connections), a batch is 3C new files fsynced at once
# and then one rename round, C jobs a batch. CPU, network and all but one
# directory sync are counted as free: a bound in spool's favour.
floor_f0() { awk -v a="$1" 'BEGIN { if (a == "-" || a == "") print "-"; else printf "%.0f\n", 1e6 / (2 * a) }'; }
floor_spool() { awk -v f="$1" -v r="$2" -v c="$3" 'BEGIN { if (f == "-" || r == "-" || f == "" || r == "") print "-"; else printf "%.0f\n", 1e6 * c / (3 * c * f + r) }'; }
M[floor.f0]=$(floor_f0 "${M[flush.append]}")
M[floor.spool2]=$(floor_spool "${M[flush.batch]}" "${M[flush.rename]}" 2)
M[floor.spool8]=$(floor_spool "${M[flush.batch]}" "${M[flush.rename]}" 4)

# The first table: the durable servers side by side, one column each.
trow() { # trow WHAT KEY [DIGITS]: one figure per server, and spoold's ratios
	local d=${3:-0}
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
		"$(fmt "${M[spool.$2]}" "$d")" "$(fmt "${M[f0.$2]}" "$d")" "$(fmt "${M[redis.$2]}" "$d")" \
		"$(ratio "${M[spool.$2]}" "${M[f0.$2]}")" "$(ratio "${M[spool.$2]}" "${M[redis.$2]}")" \
		"$(fmt "${M[def.$2]}" "$d")" "$(fmt "${M[spoolint.$2]:--}" "$d")" "$(ratio "${M[spoolint.$2]:--}" "${M[def.$2]}")" \
		"$(fmt "${M[spoolns.$2]}" "$d")"
}
lrow() { # lrow WHAT KEY: latency, lower is better (ratio: theirs / ours)
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "${R[spool.$2]:-}" 2)" \
		"$(fmt "${R[f0.$2]:-}" 2)" "$(fmt "${R[redis.$2]:-}" 2)" \
		"$(ratio "${R[f0.$2]:-}" "${R[spool.$2]:-}")" "$(ratio "${R[redis.$2]:-}" "${R[spool.$2]:-}")" \
		"$(fmt "${R[def.$2]:-}" 2)"
}
orow() { # a figure with nothing to compare: spool only
	printf '| %s | %s | %s |\n' "$1" "$2" "$3"
}
TABLE=$WORK/table
{
	echo "| measure | spoold (default: acked = on disk) | beanstalkd -f 0 | redis always | vs beanstalkd -f 0 | vs redis | beanstalkd -b (fsync ≤50 ms) | spoold --sync interval=50 | interval vs beanstalkd -b | spoold --no-sync |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	trow "HTTP submit/s, 1 producer (4 conns)" submit
	[ -n "${M[spool.drain2]:-}" ] && [ "${M[spool.drain2]}" != - ] && trow "drain/s (claim+complete), W=2" drain2
	trow "drain/s (claim+complete), W=8" drain8
	trow "mixed/s (1 producer + W=2)" mixed2
	trow "mixed/s (1 producer + W=8)" mixed8
	trow "server CPU per job, µs (mixed W=2; lower is better)" cpu2
	trow "server CPU per job, µs (mixed W=8; lower is better)" cpu8
	echo
	echo "| latency, 500 jobs/s paced, consumers waiting | spoold | beanstalkd -f 0 | redis always | vs beanstalkd -f 0 | vs redis | beanstalkd -b |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	lrow "submit→claim p50, ms" p50
	lrow "submit→claim p99, ms" p99
	echo
	echo "| measure | value | goal |"
	echo "|---|---:|---|"
	orow "RSS with $IDLE idle long-polls, MB: spoold / beanstalkd" "${R[spool.idle_mb]:-} / ${R[def.idle_mb]:-} ($(ratio "${R[def.idle_mb]:-}" "${R[spool.idle_mb]:-}"))" "no more than beanstalkd"
	orow "local claim+complete/s, library, W=2 (fsync)" "$(fmt "${M[lib.sync]}")" ""
	orow "local claim+complete/s, bare syscalls, W=2 (fsync)" "$(fmt "${M[floor.sync]}")" ""
	orow "library / bare syscalls (fsync)" "$(ratio "${M[lib.sync]}" "${M[floor.sync]}")" "≥ 0.90x"
	orow "local claim+complete/s, library, W=2 (nosync)" "$(fmt "${M[lib.nosync]}")" ""
	orow "local claim+complete/s, bare syscalls, W=2 (nosync)" "$(fmt "${M[floor.nosync]}")" ""
	orow "library / bare syscalls (nosync)" "$(ratio "${M[lib.nosync]}" "${M[floor.nosync]}")" ""
	orow "one durable write, µs: a 610-byte append + fdatasync (beanstalkd -f 0's, binlog preallocated)" "$(fmt "${M[flush.append]}")" ""
	orow "one durable write, µs: a new 610-byte file + fsync, alone / per file of 8 fsynced at once / a rename + its directory's fsync" "$(fmt "${M[flush.create]}") / $(fmt "${M[flush.batch]}") / $(fmt "${M[flush.rename]}")" ""
	orow "the disk's floor of mixed/s, W=2: beanstalkd -f 0 (2 appends a job, in turn) / spool (batches of 2 submits + 2 completes: 6 new files at once, then a rename round)" "$(fmt "${M[floor.f0]}") / $(fmt "${M[floor.spool2]}") ($(ratio "${M[floor.spool2]}" "${M[floor.f0]}"))" "measured: spool $(ratio "${M[spool.mixed2]}" "${M[floor.spool2]}") of its floor, beanstalkd $(ratio "${M[f0.mixed2]}" "${M[floor.f0]}")"
	orow "the disk's floor of mixed/s, W=8: beanstalkd -f 0 / spool (4 + 4 a batch: 12 files, then a rename round)" "$(fmt "${M[floor.f0]}") / $(fmt "${M[floor.spool8]}") ($(ratio "${M[floor.spool8]}" "${M[floor.f0]}"))" "measured: spool $(ratio "${M[spool.mixed8]}" "${M[floor.spool8]}") of its floor, beanstalkd $(ratio "${M[f0.mixed8]}" "${M[floor.f0]}")"
	if [ "$SCALE" -gt 0 ]; then
		orow "HTTP claim+complete/s, 1,000 queued (W=2)" "$(fmt "${R[scale.r1k]}")" ""
		orow "HTTP claim+complete/s, $SCALE queued (W=2)" "$(fmt "${R[scale.rbig]}")" ""
		orow "ratio $SCALE / 1,000" "$(ratio "${R[scale.rbig]}" "${R[scale.r1k]}")" "≥ 0.80x"
		orow "spoold with $SCALE queued: /healthz answers, s after start" "${R[scale.health_s]:--}" "≤ 0.5 s"
		orow "spoold with $SCALE queued: first claim, s after start" "${R[scale.start_s]} (connected at ${R[scale.listen_s]})" "≤ 2 s"
		orow "spoold with $SCALE queued: index loaded (idle), s after start" "${R[scale.loaded_s]:--}" ""
		orow "RSS per queued order, bytes (once loaded)" "${R[scale.bytes_per]} (${R[scale.rss_mb]} MB in all)" "≤ 100"
	fi
	orow "runner overhead per job, ms (trivial script)" "${R[runner.ms]:-} (${R[runner.per_ms]:-} per job, script ${R[runner.exec_ms]:-})" "≤ 5 ms"
} >"$TABLE"

t_end=$(date +%s)
MACHINE="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, Linux $(uname -r), $(df -T "$WORK" | awk 'NR==2 {print $2}') on $(df "$WORK" | awk 'NR==2 {print $1}') (mount options: $(awk -v m="$(df --output=target "$WORK" | tail -1)" '$2 == m {print $4}' /proc/mounts | head -1))"
{
	echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), $([ "$QUICK" = 1 ] && echo 'make bench-quick' || echo 'make bench'), $((t_end - t_start)) s."
	echo
	echo "Machine: $MACHINE; spoold/lib at $(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$top" && git diff --quiet HEAD -- lib spoold runner 2>/dev/null || echo ' (with uncommitted changes)'); beanstalkd $(beanstalkd -v 2>&1 | awk '{print $2}'); $(redis-server --version | awk '{print $1, $2, $3}')."
	echo
	[ "$SCALE" -gt 0 ] && echo "Scale: a spool of $SCALE queued orders written in ${R[scale.fill_s]} s by \`bench-local bigfill\` (the files spool_submit leaves, written in place by 2 processes, no fsync), on a scratch ext4 without a journal on a loop device (the 1,000-order figures too), unmounted and deleted in ${R[scale.release_s]} s." && echo
	echo "Load average (1, 5, 15 min) at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "HTTP: N = $N jobs of about 610 bytes per phase (beanstalkd -f 0: $NF0), each phase cut after $BUDGET s of submitting (and $BUDGET s of draining); $HTTP_REPS rounds, the servers interleaved within each round, medians over the rounds; jobs done in round 1 — spoold: ${DONE[spool]:-}; redis: ${DONE[redis]:-}; beanstalkd -f 0: ${DONE[f0]:-}; beanstalkd -b: ${DONE[def]:-}. Submit/s is that of the lifecycle phase (W=8). CPU per job: the server's user + system time over the phase (it is started for each phase) over the jobs completed. Latency over $NLAT jobs. Local: $LOCAL_N orders with fsync, $NOSYNC_N without, medians of $REPS rounds$([ "$SCALE" -gt 0 ] && echo "; scale: medians of $REPS runs of 1,000 claims")."
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
