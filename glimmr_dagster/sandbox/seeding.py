"""Deterministic randomness for the sandbox.

Everything the sandbox generates is a pure function of the world seed and a few labels, so the
same seed gives the same hospitals, ids and file bytes on every machine and every run. Python's
`hash()` is salted per process, so derivation goes through BLAKE2b instead.
"""

from __future__ import annotations

import hashlib
import random
import uuid


def _digest(parts: tuple[object, ...], size: int) -> bytes:
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).digest()


def derive_seed(*parts: object) -> int:
    """A 64-bit integer that depends only on `parts`."""
    return int.from_bytes(_digest(parts, 8), "big")


def derive_rng(*parts: object) -> random.Random:
    """A private random generator for one purpose (one facility, one file version, ...)."""
    return random.Random(derive_seed(*parts))


def stable_uuid(*parts: object) -> str:
    """A version-4-shaped UUID string that depends only on `parts`."""
    return str(uuid.UUID(bytes=_digest(parts, 16), version=4))


def stable_hex(length: int, *parts: object) -> str:
    """A lowercase hex string of `length` characters that depends only on `parts`."""
    return _digest(parts, (length + 1) // 2).hex()[:length]
