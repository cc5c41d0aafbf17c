"""Rate-limit buckets of a SQLite state in shared memory: a table of token buckets on the lock
file's second page onwards, mapped by every process of the state.

A take is a few reads and writes of memory under a lock (this process's threads, then a byte
range of the lock file: `lockf`), where a row in the database cost a write transaction before
the answer, and with it the write lock every process shares. A bucket is a slot: the hash of its
key, the hash of its tenant (a reset empties a tenant's slots), its tokens and its last refill
(on the tenant's scenario clock). Open addressing, linear probing; a reset rebuilds the table
without the tenant's buckets (no tombstones to walk past). A full table answers None: the caller
keeps that key's bucket in the database instead.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct

from mocksrv.ratelimit import refill
from mocksrv.state.board import RangeLock

AT = 4096  # the table's first byte in the lock file (the first page: the signal and board)
SLOTS = 4096  # buckets; 32 bytes each: 128 KiB after the first page
_SLOT = struct.Struct("<QQdd")  # key hash, tenant hash, tokens, last refill
_EMPTY = 0  # the key hash of an empty slot, never given out (`_hash` skips it)
_LOCK_AT = 48  # the byte range locked on the first page (bytes 48-55 are free)


_HASHES: dict[tuple[str, str], tuple[int, int]] = {}  # (tenant, name): its key's and tenant's


def _hash(text: str) -> int:
    value = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return value or 1


class RateTable:
    """Token buckets of every process of a state (see the module)."""

    def __init__(self, fd: int) -> None:
        size = AT + SLOTS * _SLOT.size
        if os.fstat(fd).st_size < size:  # growing keeps what another process wrote
            os.ftruncate(fd, size)
        self._map = mmap.mmap(fd, SLOTS * _SLOT.size, offset=AT)
        self._lock = RangeLock(fd, _LOCK_AT)  # this process's threads, then every process's

    def take(self, tenant: str, name: str, rate: float, cap: float, now: float) -> bool | None:
        """One token from the bucket `name` of `tenant` if it has one, refilled at `rate` per
        second of `now`'s clock up to `cap`; None when the table has no room for a new bucket."""
        hashes = _HASHES.get((tenant, name))
        if hashes is None:
            hashes = (_hash(f"{tenant}\x1f{name}"), _hash(tenant))
            if len(_HASHES) < 4096:  # names come from scenarios and access keys: bounded
                _HASHES[(tenant, name)] = hashes
        key, owner = hashes
        with self._lock:
            if self._map.closed:
                return None
            at = self._find(key)
            if at is None:
                return None
            found, _, tokens, last = _SLOT.unpack_from(self._map, at)
            if found != key:  # a new bucket starts full
                tokens, last = cap, now
            allowed, tokens, last = refill(tokens, last, now, rate, cap)
            _SLOT.pack_into(self._map, at, key, owner, tokens, last)
            return allowed

    def _find(self, key: int) -> int | None:
        """The offset of `key`'s slot, or of the empty slot a new bucket for it takes; None:
        the table is full."""
        start = key % SLOTS
        for step in range(SLOTS):
            at = ((start + step) % SLOTS) * _SLOT.size
            found = _SLOT.unpack_from(self._map, at)[0]
            if found in (key, _EMPTY):
                return at
        return None

    def clear(self, tenant: str) -> None:
        """Every bucket of `tenant` gone (a reset: its limits start full again): the table is
        made again with the other tenants' buckets."""
        owner = _hash(tenant)
        with self._lock:
            if self._map.closed:
                return
            kept = [s for s in _SLOT.iter_unpack(self._map) if s[0] != _EMPTY and s[1] != owner]
            self._map[:] = bytes(len(self._map))
            for slot in kept:
                at = self._find(slot[0])
                if at is not None:
                    _SLOT.pack_into(self._map, at, *slot)

    def close(self) -> None:
        with self._lock:
            self._map.close()
