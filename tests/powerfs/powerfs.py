#!/usr/bin/python3
"""powerfs: a FUSE file system that forgets, at a power cut, what was never synced.

    /usr/bin/python3 powerfs.py LIVE DURABLE MOUNTPOINT [--commit-ms LO-HI] [--seed N]

Programs see MOUNTPOINT as an ordinary file system, passed through to the
directory LIVE. DURABLE is what the disk holds: the state a machine would
come back to after losing power. It changes only as ext4 (data=ordered, with
delayed allocation, the file system spool runs on) lets it:

- every fsync or fsyncdir, on any file or directory, commits the journal:
  every metadata change so far (creates, mkdirs, renames, links, unlinks) is
  applied to DURABLE, in order; then the synced file's data is copied;
- the journal also commits by itself, every LO-HI ms at random (jbd2's
  timer): the metadata only;
- the data of a file that was never synced never reaches DURABLE: a file
  created, written and renamed into place without an fsync comes back empty
  (ext4's well-known zero-length files after a crash).

A power cut is: SIGKILL every program using the mount, unmount, and take
DURABLE as the disk. Nothing here knows about spools; tests/t-powercut.sh
checks what spool keeps across such cuts. Needs Debian's python3-fusepy
(libfuse2) and /dev/fuse; runs as root.
"""
import errno
import os
import random
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations


class PowerFS(Operations):
    use_ns = True
    flag_nullpath_ok = 1   # operations on an open file get its handle, not a path

    def __init__(self, live, durable, commit_ms, seed):
        self.live = os.path.realpath(live)
        self.dur = os.path.realpath(durable)
        self.mu = threading.RLock()
        self.log = []              # metadata changes not yet in DURABLE
        self.dpaths = {}           # live inode -> its paths in DURABLE
        self.rand = random.Random(seed)
        self.commit_ms = commit_ms
        self.commits = 0
        for root, dirs, files in os.walk(self.live):
            for f in files:
                p = os.path.join(root, f)
                rel = os.path.relpath(p, self.live)
                self.dpaths.setdefault(os.lstat(p).st_ino, set()).add(rel)
        threading.Thread(target=self._timer, daemon=True).start()

    # ---- the journal -------------------------------------------------------
    def _L(self, path):
        return os.path.join(self.live, path.lstrip('/'))

    def _D(self, rel):
        return os.path.join(self.dur, rel)

    def _rel(self, path):
        return path.lstrip('/')

    def _apply(self, op):
        kind = op[0]
        try:
            if kind == 'create':
                _, rel, ino, mode = op
                fd = os.open(self._D(rel), os.O_CREAT | os.O_WRONLY, mode)
                os.close(fd)
                self.dpaths.setdefault(ino, set()).add(rel)
            elif kind == 'mkdir':
                os.makedirs(self._D(op[1]), exist_ok=True)
            elif kind == 'rmdir':
                os.rmdir(self._D(op[1]))
            elif kind == 'unlink':
                _, rel, ino = op
                os.unlink(self._D(rel))
                self.dpaths.get(ino, set()).discard(rel)
            elif kind == 'link':
                _, src, dst, ino = op
                os.link(self._D(src), self._D(dst))
                self.dpaths.setdefault(ino, set()).add(dst)
            elif kind == 'rename':
                _, src, dst, ino, old = op
                os.rename(self._D(src), self._D(dst))
                if old is not None:
                    self.dpaths.get(old, set()).discard(dst)
                s = self.dpaths.setdefault(ino, set())
                s.discard(src)
                s.add(dst)
        except OSError as e:
            print('powerfs: replaying %r: %s' % (op, e), file=sys.stderr, flush=True)

    def _commit(self, fh=None):
        with self.mu:
            for op in self.log:
                self._apply(op)
            self.log = []
            self.commits += 1
            if fh is None:
                return
            ino = os.fstat(fh).st_ino
            paths = self.dpaths.get(ino)
            if not paths:
                return          # not in DURABLE (unlinked everywhere)
            size = os.fstat(fh).st_size
            data = os.pread(fh, size, 0) if size else b''
            fd = os.open(self._D(sorted(paths)[0]), os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def _timer(self):
        lo, hi = self.commit_ms
        while True:
            time.sleep(self.rand.uniform(lo, hi) / 1000.0)
            self._commit()

    # ---- metadata ----------------------------------------------------------
    def getattr(self, path, fh=None):
        try:
            st = os.fstat(fh) if fh is not None else os.lstat(self._L(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in ('st_mode', 'st_nlink', 'st_size', 'st_uid',
                                            'st_gid', 'st_atime_ns', 'st_mtime_ns',
                                            'st_ctime_ns', 'st_ino')} | {
            'st_atime': st.st_atime_ns, 'st_mtime': st.st_mtime_ns, 'st_ctime': st.st_ctime_ns}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._L(path))

    def access(self, path, amode):
        if not os.access(self._L(path), amode):
            raise FuseOSError(errno.EACCES)

    def statfs(self, path):
        s = os.statvfs(self._L(path))
        return {k: getattr(s, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize',
                                           'f_favail', 'f_ffree', 'f_files', 'f_flag',
                                           'f_frsize', 'f_namemax')}

    def mkdir(self, path, mode):
        with self.mu:
            os.mkdir(self._L(path), mode)
            self.log.append(('mkdir', self._rel(path)))

    def rmdir(self, path):
        with self.mu:
            os.rmdir(self._L(path))
            self.log.append(('rmdir', self._rel(path)))

    def unlink(self, path):
        with self.mu:
            ino = os.lstat(self._L(path)).st_ino
            os.unlink(self._L(path))
            self.log.append(('unlink', self._rel(path), ino))

    def link(self, target, source):
        with self.mu:
            ino = os.lstat(self._L(source)).st_ino
            os.link(self._L(source), self._L(target))
            self.log.append(('link', self._rel(source), self._rel(target), ino))

    def rename(self, old, new):
        with self.mu:
            ino = os.lstat(self._L(old)).st_ino
            try:
                prev = os.lstat(self._L(new)).st_ino
            except FileNotFoundError:
                prev = None
            os.rename(self._L(old), self._L(new))
            self.log.append(('rename', self._rel(old), self._rel(new), ino, prev))

    def chmod(self, path, mode):
        os.chmod(self._L(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._L(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._L(path), ns=times)

    def readlink(self, path):
        return os.readlink(self._L(path))

    def symlink(self, target, source):
        raise FuseOSError(errno.EPERM)   # a spool makes none

    # ---- files -------------------------------------------------------------
    def open(self, path, flags):
        try:
            # read-write, and no O_APPEND: the kernel gives every write's
            # offset, and a commit reads the file through its handle
            acc = os.O_RDWR if flags & os.O_ACCMODE != os.O_RDONLY else os.O_RDONLY
            return os.open(self._L(path), (flags & ~(os.O_CREAT | os.O_APPEND | os.O_ACCMODE |
                                                   os.O_TRUNC)) | acc |
                           (flags & os.O_TRUNC))
        except OSError as e:
            raise FuseOSError(e.errno)

    def create(self, path, mode, fi=None):
        with self.mu:
            try:
                fd = os.open(self._L(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
            except OSError as e:
                raise FuseOSError(e.errno)
            self.log.append(('create', self._rel(path), os.fstat(fd).st_ino, mode))
            return fd

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._L(path), length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        self._commit(fh)

    def fsyncdir(self, path, datasync, fh):
        self._commit()


def main():
    args = sys.argv[1:]
    commit_ms, seed = (20, 300), 1
    if '--commit-ms' in args:
        i = args.index('--commit-ms')
        lo, hi = args[i + 1].split('-')
        commit_ms = (float(lo), float(hi))
        del args[i:i + 2]
    if '--seed' in args:
        i = args.index('--seed')
        seed = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    live, durable, mnt = args
    FUSE(PowerFS(live, durable, commit_ms, seed), mnt, foreground=True, nothreads=False,
         hard_remove=True, allow_other=True, default_permissions=True)


if __name__ == '__main__':
    main()
