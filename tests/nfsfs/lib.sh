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
