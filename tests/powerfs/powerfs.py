#!/usr/bin/python3
"""powerfs: a FUSE file system that forgets, at a power cut, what was never synced.

    /usr/bin/python3 powerfs.py LIVE DURABLE MOUNTPOINT [--model ext4|posix]
                                [--commit-ms LO-HI] [--seed N]

Programs see MOUNTPOINT as an ordinary file system, passed through to the
directory LIVE (which starts as a copy of DURABLE). powerfs also keeps, in
memory, what the disk would hold if the machine lost power now, and writes
that image into DURABLE when it is unmounted: a power cut is SIGKILL of
every program using the mount, then the unmount, then DURABLE is the disk.

What reaches the disk, by --model:

ext4 (default; data=ordered with delayed allocation, what spool runs on):
  every fsync or fsyncdir, on any file or directory, commits the journal:
  every change of names so far (creates, mkdirs, renames, links, unlinks)
  reaches the disk, in order; the synced file's data too. The journal also
  commits by itself every LO-HI ms at random (jbd2's timer): names only.
posix (what POSIX promises and no more, as on file systems that give less
  than ext4): fsync of a file makes its data durable, not its name;
  fsyncdir of a directory makes the changes of names in that directory
  durable (a rename between two directories is two changes, one in each);
  at random moments one directory's changes reach the disk by themselves.

In both, the data of a file that was never synced never reaches the disk: a
file created, written and renamed into place without an fsync comes back
empty (ext4's well-known zero-length files after a crash). Nothing here
knows about spools; tests/t-powercut.sh checks what spool keeps across such
cuts. Needs Debian's python3-fusepy (libfuse2) and /dev/fuse; runs as root.
"""
import errno
import os
import random
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

DIR = 'dir'


class Disk:
    """What the disk holds: a name table per directory, data per inode."""

    def __init__(self, root):
        self.dirs = {'': {}}        # rel dir -> {name: inode number or DIR}
        self.data = {}              # inode -> bytes
        self.mode = {}              # inode -> mode
        for dp, dns, fns in os.walk(root):
            rel = os.path.relpath(dp, root)
            rel = '' if rel == '.' else rel
            t = self.dirs.setdefault(rel, {})
            for d in dns:
                t[d] = DIR
                self.dirs.setdefault(os.path.join(rel, d), {})
            for f in fns:
                st = os.lstat(os.path.join(dp, f))
                t[f] = st.st_ino
                self.mode[st.st_ino] = st.st_mode & 0o7777
                if st.st_ino not in self.data:
                    with open(os.path.join(dp, f), 'rb') as fh:
                        self.data[st.st_ino] = fh.read()

    def apply(self, op):
        """One change of names, in one directory: ('add', dir, name, ino|DIR)
        or ('del', dir, name)."""
        kind, d, name = op[0], op[1], op[2]
        # a directory synced before its own name is: its table is kept,
        # and found once its name reaches the disk
        t = self.dirs.setdefault(d, {})
        if kind == 'add':
            t[name] = op[3]
            if op[3] == DIR:
                self.dirs.setdefault(os.path.join(d, name), {})
        else:
            t.pop(name, None)

    def dump(self, root):
        """Write the image into root (emptied first)."""
        for dp, dns, fns in os.walk(root, topdown=False):
            for f in fns:
                os.unlink(os.path.join(dp, f))
            for d in dns:
                os.rmdir(os.path.join(dp, d))
        first = {}
        # directories reachable from the root only
        todo = ['']
        while todo:
            d = todo.pop()
            for name, ino in sorted(self.dirs.get(d, {}).items()):
                p = os.path.join(root, d, name)
                if ino == DIR:
                    os.mkdir(p)
                    todo.append(os.path.join(d, name))
                elif ino in first:
                    os.link(first[ino], p)
                else:
                    with open(p, 'wb') as fh:
                        fh.write(self.data.get(ino, b''))
                    os.chmod(p, self.mode.get(ino, 0o644))
                    first[ino] = p


class PowerFS(Operations):
    use_ns = True
    flag_nullpath_ok = 1   # operations on an open file get its handle, not a path

    def __init__(self, live, durable, model, commit_ms, seed):
        self.live = os.path.realpath(live)
        self.dur = os.path.realpath(durable)
        self.model = model
        self.mu = threading.RLock()
        self.disk = Disk(self.live)
        self.pending = []          # ext4: changes of names, in order
        self.pend_dir = {}         # posix: dir -> its changes, in order
        self.rand = random.Random(seed)
        self.commit_ms = commit_ms
        threading.Thread(target=self._timer, daemon=True).start()

    # ---- what reaches the disk ---------------------------------------------
    def _L(self, path):
        return os.path.join(self.live, path.lstrip('/'))

    @staticmethod
    def _split(path):
        d, n = os.path.split(path.lstrip('/'))
        return d, n

    def _change(self, op):
        if self.model == 'ext4':
            self.pending.append(op)
        else:
            self.pend_dir.setdefault(op[1], []).append(op)

    def _commit_names(self, d=None):
        """ext4: every change so far; posix: directory d's (None: none)."""
        if self.model == 'ext4':
            for op in self.pending:
                self.disk.apply(op)
            self.pending = []
        elif d is not None:
            for op in self.pend_dir.pop(d, []):
                self.disk.apply(op)

    def _timer(self):
        lo, hi = self.commit_ms
        while True:
            time.sleep(self.rand.uniform(lo, hi) / 1000.0)
            with self.mu:
                if self.model == 'ext4':
                    self._commit_names()
                elif self.pend_dir:
                    self._commit_names(self.rand.choice(sorted(self.pend_dir)))

    def destroy(self, path):
        with self.mu:
            self.disk.dump(self.dur)

    # ---- names -------------------------------------------------------------
    def getattr(self, path, fh=None):
        try:
            st = os.fstat(fh) if fh is not None else os.lstat(self._L(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        r = {k: getattr(st, k) for k in ('st_mode', 'st_nlink', 'st_size', 'st_uid',
                                         'st_gid', 'st_ino')}
        r.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
        return r

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
            self._change(('add',) + self._split(path) + (DIR,))

    def rmdir(self, path):
        with self.mu:
            os.rmdir(self._L(path))
            self._change(('del',) + self._split(path))

    def unlink(self, path):
        with self.mu:
            os.unlink(self._L(path))
            self._change(('del',) + self._split(path))

    def link(self, target, source):
        with self.mu:
            ino = os.lstat(self._L(source)).st_ino
            os.link(self._L(source), self._L(target))
            self._change(('add',) + self._split(target) + (ino,))

    def rename(self, old, new):
        with self.mu:
            st = os.lstat(self._L(old))
            os.rename(self._L(old), self._L(new))
            isdir = (st.st_mode & 0o170000) == 0o040000
            if isdir:
                raise FuseOSError(errno.EXDEV)   # a spool renames no directory
            self._change(('del',) + self._split(old))
            self._change(('add',) + self._split(new) + (st.st_ino,))

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
        # read-write, and no O_APPEND: the kernel gives every write's
        # offset, and an fsync reads the file through its handle
        acc = os.O_RDONLY if flags & os.O_ACCMODE == os.O_RDONLY else os.O_RDWR
        keep = flags & ~(os.O_CREAT | os.O_APPEND | os.O_ACCMODE)
        try:
            return os.open(self._L(path), keep | acc)
        except OSError as e:
            raise FuseOSError(e.errno)

    def create(self, path, mode, fi=None):
        with self.mu:
            try:
                fd = os.open(self._L(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
            except OSError as e:
                raise FuseOSError(e.errno)
            ino = os.fstat(fd).st_ino
            self.disk.mode[ino] = mode & 0o7777
            self._change(('add',) + self._split(path) + (ino,))
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
        with self.mu:
            st = os.fstat(fh)
            self._commit_names()     # ext4: the journal; posix: nothing
            self.disk.data[st.st_ino] = os.pread(fh, st.st_size, 0) if st.st_size else b''

    def fsyncdir(self, path, datasync, fh):
        with self.mu:
            self._commit_names(path.lstrip('/'))


def main():
    args = sys.argv[1:]
    opts = {'--model': 'ext4', '--commit-ms': '20-300', '--seed': '1'}
    for k in list(opts):
        if k in args:
            i = args.index(k)
            opts[k] = args[i + 1]
            del args[i:i + 2]
    if len(args) != 3 or opts['--model'] not in ('ext4', 'posix'):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    lo, hi = opts['--commit-ms'].split('-')
    live, durable, mnt = args
    FUSE(PowerFS(live, durable, opts['--model'], (float(lo), float(hi)), int(opts['--seed'])),
         mnt, foreground=True, nothreads=False, hard_remove=True, allow_other=True,
         default_permissions=True)


if __name__ == '__main__':
    main()
