"""The manifest's two digests, shared by the writers (which sign) and verify (which checks):
neither side should reach into the other for them.
"""

from __future__ import annotations

from collections.abc import Mapping

from gait import timefmt
from gait.canon import canonical_bytes_floatless, digest
from gait.errors import InvalidInput
from gait.runpack import model
from gait.sha import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def known_keys(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's known keys without signatures, its time re-printed in canonical form
    (as the reference does when it re-reads a manifest)."""
    known = {k: manifest[k] for k in model.MANIFEST_KEYS if k in manifest and k != "signatures"}
    if isinstance(known.get("created_at"), str):
        try:
            known["created_at"] = timefmt.canonical(known["created_at"])
        except InvalidInput:
            pass
    return known


def manifest_digest(
    manifest: Mapping[str, Any], *, known: dict[str, Any] | None = None, plain: bool = False
) -> str:
    """``H(manifest)`` over the known keys, ``manifest_digest`` blank, no signatures (a caller
    that needs both digests passes ``known_keys(manifest)`` to each: taken once; and
    ``plain=canon.is_plain(known)``: walked once)."""
    value = {**(known_keys(manifest) if known is None else known), "manifest_digest": ""}
    return _digest(value, plain)


def signed_manifest_digest(
    manifest: Mapping[str, Any], *, known: dict[str, Any] | None = None, plain: bool = False
) -> str:
    """``H(stored manifest minus signatures)``: the digest a manifest signature covers."""
    value = known_keys(manifest) if known is None else known
    return _digest(value, plain)


def _digest(value: dict[str, Any], plain: bool) -> str:
    """``digest(value)``; for a ``plain`` value without ``canonical_bytes``' walk, and hashed
    as ``digest`` hashes (``digest_floatless`` hashes small inputs with CPython's own SHA-256,
    which costs a manifest's few hundred bytes more than OpenSSL's once hashlib is loaded)."""
    return sha256(canonical_bytes_floatless(value)).hexdigest() if plain else digest(value)
