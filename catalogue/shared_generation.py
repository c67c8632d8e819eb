"""Change counters that the processes on one DATA_DIR share: callers forgotten everywhere at once,
and writes waiting for another process's index commit woken at once.

Each process keeps the callers it has read (users, tokens, sessions:
catalogue/users.py, catalogue/sessions.py) for up to PRINCIPAL_TTL_S. A
revocation, lock, role or password change, sign-in or logout forgets the
caller in the process that made it; it also bumps this counter, a 64-bit
integer in the file DATA_DIR/callers.generation, mapped into memory by every
process that opens the store there (the servers and the CLI). Every lookup
of a kept caller compares the counter with the value it last saw (a read of
mapped memory, no system call and no store read) and, when another process
has bumped it, drops everything it keeps. So a logout in one serving
process, or `leuchtturm user lock` in a shell, holds in every local process
for the very next request.

The file is opened for the embedded store and for MongoDB alike: the
serving processes of one `leuchtturm serve` share a DATA_DIR either way.
Processes on another machine (or in another container with its own
DATA_DIR) do not share the file: for them a change holds after at most
PRINCIPAL_TTL_S, as documented. Without an open file the counter stays 0
and nothing changes.

`INDEX_APPLIED` (DATA_DIR/index.applied) counts the batches the sync worker
has applied (index committed, outbox entries deleted). A write answered by a
serving process without the worker waits for its entries to be applied
(read-your-writes, `SearchSync.wait_applied`); it looks at this counter
every few milliseconds and in the store only when it moved, instead of
looking in the store every WAIT_POLL_S.

`INDEX_RECENT` (DATA_DIR/index.recent) holds the numbers of the outbox
entries the worker applied lately, written as soon as its commit shows them
(before their deletion from the store), and the worker bumps INDEX_APPLIED
then too. A wait in another process finds its entries there without
looking in the store; an entry no longer there (thousands applied since)
is looked up in the store as before.

`OUTBOX_WRITTEN` goes the other way: a process without the worker (another
serving process, the CLI) that has written outbox entries wakes the worker
at once, instead of leaving them for its next poll (`SearchSync.notify`).
It is a datagram on a Unix socket in Linux's abstract namespace, named after
DATA_DIR (no file, gone with the process): the worker listens while it runs,
any local process sends. Without a listener, or off Linux, nothing is sent
and the worker finds the entries at its next poll, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import socket
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

FILE_NAME = "callers.generation"
INDEX_APPLIED_FILE = "index.applied"
INDEX_RECENT_FILE = "index.recent"
_FORMAT = "<Q"
_SIZE = struct.calcsize(_FORMAT)


class SharedGeneration:
    """The counter in one file (see the module docstring); 0 and no-op bumps until `open`."""

    __slots__ = ("_fd", "_map", "name", "path", "single_writer", "size")

    def __init__(self, name: str = FILE_NAME, *, single_writer: bool = False, size: int = _SIZE) -> None:
        """`single_writer`: only one process ever bumps it (the index writer), so a bump takes no file lock
        and no file descriptor is kept open (the mapping stays valid without it). `size`: the file's bytes,
        the counter first (a subclass keeps more after it)."""
        self.name = name
        self.single_writer = single_writer
        self.size = size
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self.path: Path | None = None

    def open(self, data_dir: Path) -> None:
        """Map DATA_DIR's counter (created at 0 if missing); a process opens one at a time."""
        path = (data_dir / self.name).resolve()
        if path == self.path:
            return
        self.close()
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size < self.size:
                    os.ftruncate(fd, self.size)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, self.size)
        except BaseException:
            os.close(fd)
            raise
        if self.single_writer:
            os.close(fd)
            self.path = path
        else:
            self._fd, self.path = fd, path

    def close(self) -> None:
        mapped, fd = self._map, self._fd
        self._map, self._fd, self.path = None, None, None
        if mapped is not None:
            with contextlib.suppress(BufferError):
                mapped.close()
        if fd is not None:
            os.close(fd)

    @property
    def is_open(self) -> bool:
        return self._map is not None

    def value(self) -> int:
        """The counter as it is now (0 when no file is open)."""
        mapped = self._map
        return int(struct.unpack_from(_FORMAT, mapped, 0)[0]) if mapped is not None else 0

    def bump(self) -> None:
        """Count one change (under the file's lock, so bumps of several processes never get lost; a single
        writer's without it)."""
        mapped, fd = self._map, self._fd
        if mapped is None:
            return
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            struct.pack_into(_FORMAT, mapped, 0, (struct.unpack_from(_FORMAT, mapped, 0)[0] + 1) & 0xFFFFFFFFFFFFFFFF)
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)


class SharedRecent(SharedGeneration):
    """The entry numbers the index writer applied lately (see the module docstring): a ring of `slots`
    unsigned 64-bit slots in mapped memory, each number stored plus one (0: empty), after the counter of
    numbers written. One writer at a time (the sync worker, by its lease); any number of readers."""

    __slots__ = ("slots",)

    def __init__(self, name: str, slots: int = 4096) -> None:
        super().__init__(name, single_writer=True, size=_SIZE * (1 + slots))
        self.slots = slots

    def add(self, numbers: Iterable[int], tag: int = 0) -> None:
        """Record applied entry numbers (the sync worker, once its commit shows them); `tag` names the database
        (24 bits), so numbers of another database on the same DATA_DIR never count."""
        mapped = self._map
        if mapped is None:
            return
        count = self.value()
        for number in numbers:
            at = _SIZE * (1 + count % self.slots)
            mapped[at : at + _SIZE] = struct.pack(_FORMAT, _slot(number, tag))  # the slot in one 8-byte copy
            count += 1
        struct.pack_into(_FORMAT, mapped, 0, count & 0xFFFFFFFFFFFFFFFF)

    def clear(self) -> None:
        """Forget every number (a worker taking over: numbers from before cannot mislead anyone)."""
        mapped = self._map
        if mapped is not None:
            mapped[:] = bytes(len(mapped))

    def contains(self, number: int, tag: int = 0) -> bool:
        """Whether the worker applied this entry lately (False when no file is open)."""
        mapped = self._map
        if mapped is None:
            return False
        needle = struct.pack(_FORMAT, _slot(number, tag))
        at = mapped.find(needle, _SIZE)
        while at != -1:
            # a whole slot, not bytes straddling two; read again, as one value: a slot being rewritten while `find`
            # compared it byte by byte may have shown a mix of its old and new bytes
            if at % _SIZE == 0 and mapped[at : at + _SIZE] == needle:
                return True
            at = mapped.find(needle, at + 1)
        return False


def _slot(number: int, tag: int) -> int:
    return ((tag & 0xFFFFFF) << 40) | ((number + 1) & 0xFFFFFFFFFF)


class WakeChannel:
    """A wake-up any local process sends and one process receives at once (see the module docstring)."""

    __slots__ = ("_sender", "address", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.address: bytes | None = None
        self._sender: socket.socket | None = None

    def open(self, data_dir: Path) -> None:
        """Name the channel after DATA_DIR (Linux only: elsewhere it stays closed and sends nothing)."""
        if not sys.platform.startswith("linux"):
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        found = data_dir.stat()  # the directory itself, not only its path: another mount at the same path differs
        digest = hashlib.sha256(f"{data_dir.resolve()}\0{found.st_dev}\0{found.st_ino}".encode()).hexdigest()[:32]
        self.address = f"\0leuchtturm-{self.name}-{digest}".encode()

    def close(self) -> None:
        sender, self._sender, self.address = self._sender, None, None
        if sender is not None:
            sender.close()

    def ring(self) -> None:
        """Wake the listener, if one listens; never blocks and never fails (a full queue: it is awake anyway)."""
        address = self.address
        if address is None:
            return
        with contextlib.suppress(OSError):  # no listener (ECONNREFUSED), its queue is full (EAGAIN)
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
            self._sender.sendto(b"!", address)

    def listen(self) -> socket.socket | None:
        """A non-blocking socket that receives the rings, or None (not open, or another process listens)."""
        if self.address is None:
            return None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            sock.bind(self.address)
        except OSError:
            sock.close()
            return None
        return sock


def drain(listener: socket.socket, most: int = 256) -> int:
    """Read the rings waiting on a listener (at most `most`, so a flood cannot hold the caller); returns how many."""
    count = 0
    with contextlib.suppress(OSError):  # BlockingIOError: none left
        while count < most:
            listener.recv(16)
            count += 1
    return count


CALLERS = SharedGeneration(FILE_NAME)  # this process's counter of caller changes (opened by catalogue.storage.connect)
INDEX_APPLIED = SharedGeneration(INDEX_APPLIED_FILE)  # batches applied by the sync worker of any local process (likewise)
INDEX_RECENT = SharedRecent(INDEX_RECENT_FILE)  # entries the sync worker of any local process applied lately (likewise)
OUTBOX_WRITTEN = WakeChannel("outbox")  # outbox entries written by a process without the worker (likewise)


def open_shared(data_dir: Path) -> None:
    """Map DATA_DIR's counters (catalogue.storage.connect, whatever the store)."""
    CALLERS.open(data_dir)
    INDEX_APPLIED.open(data_dir)
    INDEX_RECENT.open(data_dir)
    OUTBOX_WRITTEN.open(data_dir)


__all__ = [
    "CALLERS",
    "FILE_NAME",
    "INDEX_APPLIED",
    "INDEX_APPLIED_FILE",
    "INDEX_RECENT",
    "INDEX_RECENT_FILE",
    "OUTBOX_WRITTEN",
    "SharedGeneration",
    "SharedRecent",
    "WakeChannel",
    "drain",
    "open_shared",
]
