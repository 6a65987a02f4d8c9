#!/usr/bin/env bash
# nfsfs, the FUSE file system the NFS tests run on, behaves like NFS where a
# spool cares: two mounts of one directory are two clients (no inotify event
# for the other's change, listings and attributes cached, the own changes
# seen at once), renameat2(RENAME_NOREPLACE) fails with EINVAL while link(2)
# works, and each fault fires when its rule says.
. "$TOP/tests/lib.sh"
. "$TOP/tests/nfsfs/lib.sh"

mkdir back
echo hello >back/f
nfs_mount back a --dir-ms 600000 --attr-ms 600000 --stats "$TESTDIR/a.stats"
nfs_mount back b --ctl "$TESTDIR/b.ctl" --stats "$TESTDIR/b.stats" --seed 7
mkdir a/d

# 1. inotify on one client sees its own changes only
python3 - a/d b/d <<'EOF'
import ctypes, os, struct, sys
a, b = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_CLOEXEC)
assert fd >= 0
assert libc.inotify_add_watch(fd, a.encode(), 0x100 | 0x8 | 0x80) >= 0  # CREATE|CLOSE_WRITE|MOVED_TO
open(os.path.join(b, "from-b"), "w").close()
open(os.path.join(a, "from-a"), "w").close()
seen = []
while "from-a" not in seen:
    buf = os.read(fd, 4096)
    i = 0
    while i < len(buf):
        wd, mask, cookie, ln = struct.unpack_from("iIII", buf, i)
        seen.append(buf[i + 16:i + 16 + ln].rstrip(b"\0").decode())
        i += 16 + ln
assert "from-b" not in seen, "an event for the other client's change: %s" % seen
print("inotify on a saw", sorted(set(seen)))
EOF

# 2. a's listing and attributes come from its cache; its own change refreshes them
ls a/d >/dev/null
stat -c %s a/f >/dev/null
touch b/d/late
echo "more than before" >>b/f
assert_eq "from-a from-b" "$(ls a/d | tr '\n' ' ' | sed 's/ $//')" "a's listing, cached"
assert_eq 6 "$(stat -c %s a/f)" "a's cached size of f"
assert_eq 23 "$(stat -c %s b/f)" "b's size of f"
touch a/d/own
assert_eq "from-a from-b late own" "$(ls a/d | tr '\n' ' ' | sed 's/ $//')" "a's listing after its own change"

# 3. no RENAME_NOREPLACE (EINVAL, as NFS), where the backing ext4 has it; link works
python3 - <<'EOF'
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def noreplace(a, b):
    r = libc.renameat2(-100, a.encode(), -100, b.encode(), 1)
    return 0 if r == 0 else ctypes.get_errno()
open("b/d/n1", "w").close()
assert noreplace("b/d/n1", "b/d/n2") == errno.EINVAL, "renameat2 NOREPLACE on nfsfs"
assert os.path.exists("b/d/n1") and not os.path.exists("back/d/n2")
open("local1", "w").close()
assert noreplace("local1", "local2") == 0, "renameat2 NOREPLACE on the local disk"
os.link("b/d/n1", "b/d/n3")
assert os.stat("back/d/n3").st_ino == os.stat("back/d/n1").st_ino
assert os.stat("b/d/n3").st_ino == os.stat("b/d/n1").st_ino, "the server's inode numbers"
EOF

# 4. faults, armed through b's control file (re-read within 50 ms)
arm() { printf '%s\n' "$@" >b.ctl.tmp; mv b.ctl.tmp b.ctl; }
fired() { awk -v r="$1" '$0 ~ "^" r " fired " { print $NF }' b.stats; }
arm 'rename enoent-after #2' 'link eexist-after #1' 'read estale #1' 'fsync delay #1 400'
loaded() { ls b >/dev/null; grep -q "^$1 fired 0" b.stats; }
wait_for loaded 'rename enoent-after #2'
python3 - <<'EOF'
import errno, os, time
for i in range(3):
    open("b/d/r%d" % i, "w").close()
os.rename("b/d/r0", "b/d/s0")                       # the first rename: fine
try:
    os.rename("b/d/r1", "b/d/s1"); raise SystemExit("2nd rename: no ENOENT")
except FileNotFoundError:
    pass
assert os.path.exists("back/d/s1") and not os.path.exists("back/d/r1"), "made, yet ENOENT"
os.rename("b/d/r2", "b/d/s2")                       # the third: fine again
try:
    os.link("b/d/s2", "b/d/t2"); raise SystemExit("link: no EEXIST")
except FileExistsError:
    pass
assert os.stat("back/d/t2").st_ino == os.stat("back/d/s2").st_ino, "linked, yet EEXIST"
with open("b/f") as f:
    try:
        f.read(); raise SystemExit("read: no ESTALE")
    except OSError as e:
        assert e.errno == errno.ESTALE, e
with open("b/f") as f:
    assert f.read().startswith("hello"), "the second read"
fd = os.open("b/d/s0", os.O_WRONLY)
t = time.monotonic(); os.fsync(fd); slow = time.monotonic() - t
t = time.monotonic(); os.fsync(fd); os.close(fd)
assert slow >= 0.4, "the delayed fsync took %.3f s" % slow
print("delayed fsync %.3f s" % slow)
EOF
assert_eq 1 "$(fired 'rename enoent-after #2')" "rename fault fired"
assert_eq 1 "$(fired 'link eexist-after #1')" "link fault fired"
assert_eq 1 "$(fired 'read estale #1')" "read fault fired"
assert_eq 1 "$(fired 'fsync delay #1')" "fsync fault fired"

# a rate: 1/4 of 400 renames answer ENOENT after they are made (seeded)
arm 'rename enoent-after 1/4'
wait_for loaded 'rename enoent-after 1/4'
python3 - <<'EOF'
import os
lost = 0
for i in range(400):
    open("b/d/p%d" % i, "w").close()
for i in range(400):
    try:
        os.rename("b/d/p%d" % i, "b/d/q%d" % i)
    except FileNotFoundError:
        lost += 1
print("renames answered ENOENT:", lost)
assert 50 <= lost <= 150, lost
made = [i for i in range(400) if os.path.exists("back/d/q%d" % i)]
assert len(made) == 400, "renames made: %d" % len(made)
EOF
arm
nfs_umount_all
echo "a: $(grep -c . a.stats) lines of stats; b: $(tr '\n' ';' <b.stats)"
echo ok
