"""How :mod:`fastnn.io` opens files for reading and writes them.

Reading: only regular files are opened, and the size found on opening bounds
every later read (a pipe, device or socket is refused).  Writing: all or none of
several files, each through a synced temporary file renamed over its target,
the folders fsynced; devices and ``/dev/stdout``-like paths written through.
The public entry points and their documentation are in :mod:`fastnn.io`.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat

from ._errors import _display

# ----------------------------------------------------------------------------
# reading

_FILE_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind_of(mode):
    """What a non-regular file is, in words."""
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def _open_regular(path, make_error, what):
    """Open a regular file for reading; return ``(file object, size in bytes)``.

    Pipes, devices and sockets are refused (they could block, or never end); every
    later read is bounded by the size found here.  Opening does not block on a
    FIFO (``O_NONBLOCK``).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise make_error(f"cannot read the {what}: it does not exist") from None
    except IsADirectoryError:
        raise make_error(f"cannot read the {what}: it is a directory") from None
    except PermissionError:
        raise make_error(f"cannot read the {what}: permission denied") from None
    except OSError as exc:
        raise make_error(f"cannot read the {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise make_error(f"cannot read the {what}: it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise make_error(
                f"cannot read the {what}: it is {_kind_of(info.st_mode)}, not a regular file;"
                " save the data to a file first"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return fh, info.st_size


def _open_for_reading(path, make_error, what):
    """:func:`_open_regular` without the size (the caller closes the file)."""
    return _open_regular(path, make_error, what)[0]


# ----------------------------------------------------------------------------
# writing files

#: Bytes handed to one ``os.write`` call.
_WRITE_BLOCK = 2**20
# Paths that name a descriptor this process already has open: written through
# that descriptor (as a shell redirection would), never replaced or reopened.
_STD_STREAMS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_FD_PATH_RE = re.compile(r"/(?:dev/fd|proc/self/fd)/([0-9]+)")


def _write_all(fd, data):
    """Write every byte of ``data`` to ``fd``: the one place where output bytes go."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view[:_WRITE_BLOCK])
        view = view[written:]


class _Target:
    """Where one output goes: a regular file replaced by rename, or written through."""

    def __init__(self, path):
        self.display = _display(path)
        given = os.fspath(path)
        self.fd = _STD_STREAMS.get(os.fsdecode(given))
        match = _FD_PATH_RE.fullmatch(os.fsdecode(given))
        if match:
            self.fd = int(match.group(1))
        self.tmp = None
        self.backup = None
        self.published = False
        self.mode = None
        self.existed = False
        if self.fd is not None:
            self.real, self.through = given, True
            return
        # a symlink is followed: its target is written and the link is kept
        self.real = os.path.realpath(given) if os.path.islink(given) else given
        try:
            info = os.stat(self.real)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise _named(exc, self.display)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory; give a file name", self.display)
        # a device, FIFO or socket is written to as it is (-o /dev/null works)
        self.through = info is not None and not stat.S_ISREG(info.st_mode)
        if info is not None and not self.through:
            self.existed = True
            self.mode = stat.S_IMODE(info.st_mode)

    def prepare(self, data):
        """Write ``data`` to a synced temporary file next to the target."""
        folder = os.path.dirname(os.path.abspath(self.real))
        base = os.path.basename(self.real)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        # a new file gets 0o666 less the umask (applied by the system, never read
        # here); a replaced file keeps its mode, and the temporary is private until then
        create_mode = 0o666 if self.mode is None else 0o600
        try:
            while True:
                tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
                try:
                    fd = os.open(tmp, flags, create_mode)
                    break
                except FileExistsError:
                    continue
            self.tmp = tmp
            try:
                if self.mode is not None and hasattr(os, "fchmod"):
                    os.fchmod(fd, self.mode)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _named(exc, self.display) from None

    def write_through(self, data):
        try:
            if self.fd is not None:
                _write_all(self.fd, data)
                return
            fd = os.open(self.real, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _named(exc, self.display) from None

    def discard(self):
        for name in (self.tmp, self.backup):
            if name is not None:
                try:
                    os.unlink(name)
                except OSError:
                    pass
        self.tmp = self.backup = None


def _writes_through(path):
    """:func:`fastnn.io.writes_through`."""
    try:
        return _Target(path).through
    except OSError:
        return False


def _named(exc, display):
    """The OSError ``exc`` naming the file as the user wrote it."""
    exc.filename = display
    exc.filename2 = None
    return exc


def _write_files(outputs):
    """:func:`fastnn.io.write_files`: all or none of ``outputs`` published."""
    items = []
    for path, data in outputs:
        if isinstance(data, str):
            data = data.encode("utf-8")
        items.append((_Target(path), data))
    seen = {}
    for target, _ in items:
        if target.through:  # several outputs may well go to /dev/null
            continue
        key = os.path.realpath(target.real)
        if key in seen:
            raise ValueError(f"{target.display}: two outputs name the same file ({seen[key]})")
        seen[key] = target.display
    targets = [target for target, _ in items]
    try:
        for target, data in items:
            if not target.through:
                target.prepare(data)
        for target, data in items:
            if target.through:
                target.write_through(data)
        _publish([t for t in targets if not t.through])
    finally:
        for target in targets:
            target.discard()


def _publish(targets):
    """Rename the prepared temporaries over their targets, all or none."""
    try:
        for target in targets:
            if target.existed:
                backup = f"{target.tmp[:-len('.tmp')]}.bak"
                try:
                    os.link(target.real, backup)
                    target.backup = backup
                except OSError:
                    target.backup = None
        for target in targets:
            try:
                os.replace(target.tmp, target.real)
            except OSError as exc:
                raise _named(exc, target.display) from None
            target.tmp = None
            target.published = True
    except BaseException:
        for target in reversed(targets):
            if not target.published:
                continue
            try:
                if target.backup is not None:
                    os.replace(target.backup, target.real)
                    target.backup = None
                elif not target.existed:
                    os.unlink(target.real)
            except OSError:
                pass
        raise
    for folder in {os.path.dirname(os.path.abspath(t.real)) for t in targets}:
        _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the renames in ``folder`` durable (best effort: not every system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
