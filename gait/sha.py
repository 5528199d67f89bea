"""SHA-256 without importing ``hashlib`` where nothing else has.

Importing ``hashlib`` loads OpenSSL's libcrypto and asks it for every algorithm it offers: a
tenth of the instructions of a ``gait gate eval`` process (issue 16 item 6), whose digests are
of a few kilobytes. CPython's own SHA-256 module (``_sha256``, ``_sha2`` from 3.12) gives the
same digests and loads in a twentieth of that. Once ``hashlib`` is imported anyway (a verify of
a big runpack hashes members with it), its OpenSSL constructor is used: faster on large inputs.
Either way the bytes of a digest are SHA-256's, so no output depends on which one ran.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from hashlib import _Hash

    from _typeshed import ReadableBuffer

_builtin: Callable[[ReadableBuffer], _Hash] | None
try:
    from _sha2 import sha256 as _builtin  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:
    try:
        from _sha256 import sha256 as _builtin  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:  # a build without CPython's own hashes: hashlib's (OpenSSL's)
        _builtin = None


def sha256(data: ReadableBuffer = b"") -> _Hash:
    """A SHA-256 hash object over ``data`` (``hashlib.sha256``'s interface)."""
    if _builtin is not None and "hashlib" not in sys.modules:
        return _builtin(data)
    import hashlib

    return hashlib.sha256(data)


def sha256_small(data: bytes) -> _Hash:
    """``sha256(data)`` for the few hundred bytes an in-process decision hashes before it
    returns (the intent digest, the trace id): CPython's own SHA-256 even once hashlib is
    loaded, below 1 KiB.

    OpenSSL's hashes faster per byte (SHA instructions), but each new hash object goes
    through its provider layers (context allocation, dispatch, a copy to read the digest):
    code an SDK call finds cold after its caller has waited on anything (a model turn), where
    those two digests cost 9 us more than CPython's (bench/bench_sdk.py's paced case, about a
    tenth of the call; bench/bench_sdk_cold.py). Warm, they cost 2.3 us more through
    CPython's; bulk hashing keeps ``sha256``.
    """
    if _builtin is not None and len(data) < 1024:
        return _builtin(data)
    return sha256(data)


def sha256_hex(data: ReadableBuffer) -> str:
    """Lowercase hex SHA-256 of ``data``."""
    return sha256(data).hexdigest()
