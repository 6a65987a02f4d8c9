# Mounting nfsfs in a test (sourced after tests/lib.sh).
#
#   nfs_mount BACKING MNT [nfsfs options...]   mount MNT as a client of BACKING
#
# The first call checks that FUSE works here (loads the module if need be);
# if it cannot work at all the test prints a loud SKIP and exits 77. Every
# mount is unmounted when the test exits, failed or not, after the test's
# own processes are stopped (they may hold files open in it).
NFS_MNTS=()
NFS_PIDS=()
NFSFS=${NFSFS:-$BIN/nfsfs}
[ -x "$NFSFS" ] || fail "no $NFSFS (make builds it)"

nfs_skip() { echo "SKIP: FUSE cannot work here: $*" >&2; exit 77; }

nfs_fuse_check() {
	[ -c /dev/fuse ] || modprobe fuse 2>/dev/null || true
	[ -c /dev/fuse ] || nfs_skip "no /dev/fuse (modprobe fuse failed)"
	grep -qw fuse /proc/filesystems || nfs_skip "the kernel has no fuse file system"
}

nfs_mounted() { grep -q " $1 fuse.nfsfs " /proc/mounts; }

nfs_mount() {
	local backing=$1 mnt=$2 i log
	shift 2
	[ ${#NFS_MNTS[@]} -gt 0 ] || nfs_fuse_check
	mkdir -p "$backing" "$mnt"
	mnt=$(cd "$mnt" && pwd)
	log="$TESTDIR/nfsfs.$(basename "$mnt").log"
	# a mount with a control file is the one nfs_arm acts on (below)
	local a prev= ctl= stats=
	for a in "$@"; do
		case $prev in --ctl) ctl=$a;; --stats) stats=$a;; esac
		prev=$a
	done
	[ -n "$ctl" ] && [ -n "$stats" ] && nfs_faults "$mnt" "$ctl" "$stats"
	"$NFSFS" "$backing" "$mnt" "$@" 2>"$log" &
	NFS_PIDS+=($!)
	NFS_MNTS+=("$mnt")
	for i in $(seq 1 200); do
		nfs_mounted "$mnt" && return 0
		kill -0 "${NFS_PIDS[-1]}" 2>/dev/null || break
		sleep 0.05
	done
	[ ${#NFS_MNTS[@]} -gt 1 ] && fail "nfsfs did not mount $mnt: $(cat "$log")"
	nfs_skip "nfsfs cannot mount: $(cat "$log")"
}

# nfs_umount_all: unmount every mount and wait for its nfsfs to end (it
# writes its --stats file last).
nfs_umount_all() {
	local m p i
	for m in "${NFS_MNTS[@]:-}"; do
		[ -n "$m" ] && nfs_mounted "$m" && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
	done
	# a lazily unmounted nfsfs lives while a straggler holds a file there:
	# give it 10 s, then stop it (its mount is cut, its files are closed)
	for p in "${NFS_PIDS[@]:-}"; do
		[ -n "$p" ] || continue
		for i in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	NFS_MNTS=()
	NFS_PIDS=()
}

nfs_cleanup() {
	local rc=$?
	cleanup
	nfs_umount_all
	exit $rc
}
trap nfs_cleanup EXIT

# Fault rules of a mount made with --ctl CTL --stats STATS (tests/nfsfs/nfsfs.c):
#   nfs_faults MNT CTL STATS   the mount nfs_arm and nfs_fired act on (nfs_mount
#                              sets it for a mount with both options)
#   nfs_arm [RULE...]          these rules only (none: no faults), counted from
#                              now; returns once nfsfs has loaded them
#   nfs_fired RULE             how many times RULE fired since it was armed
nfs_faults() { NFS_PROBE=$1/.probe; NFS_CTL=$2; NFS_STATS=$3; }
nfs_arm() {
	if [ $# = 0 ]; then : >"$NFS_CTL.tmp"; else printf '%s\n' "$@" >"$NFS_CTL.tmp"; fi
	mv "$NFS_CTL.tmp" "$NFS_CTL"
	wait_for nfs_loaded "${1:-}"
}
# nfsfs reads its rules again at its next call (a lookup of a missing name is
# one, and not counted by the rules) and writes them to STATS at 0. A
# getattr rule may fire on that very lookup: any count says it is loaded.
nfs_loaded() {
	local at=" 0"
	stat "$NFS_PROBE" >/dev/null 2>&1 || true
	case ${1:-} in getattr*) at="";; esac
	if [ -z "${1:-}" ]; then ! grep -q ' fired ' "$NFS_STATS"; else grep -q "^$1 fired$at" "$NFS_STATS"; fi
}
nfs_fired() { awk -v r="$1" 'index($0, r " fired ") == 1 { print $NF }' "$NFS_STATS"; }
