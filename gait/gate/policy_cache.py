"""A cache of parsed policies under GAIT_HOME, so a repeated policy skips YAML entirely.

A process per tool call (``gait gate eval``, ``gait policy test``) spends much of its time
importing and running the YAML parser for a policy that has not changed. The cache keeps the
parser's plain output (JSON, never pickle: loading it runs no code) under
``GAIT_HOME/cache/policy/<sha256 of the policy bytes>.json``; compilation, checks and the policy
digest still run on every load, exactly as for a fresh parse.

GAIT_HOME is writable by the agent the gate is judging, so an entry is used only when:

- its name and its ``source_sha256`` equal the SHA-256 of the policy bytes read now;
- ``parsed_sha256`` equals the SHA-256 of the parsed value it carries (a torn or edited file is
  a miss, and is rewritten);
- it was written by the same parser: this gait version and the same parser sources (size and
  modification time of the policy and YAML modules), so a changed parser never reads an old
  entry;
- the file and its directory belong to this user and are not writable by group or others
  (entries are written 0600 in a 0700 directory).

Anything else is a miss: the policy is parsed from its YAML as if there were no cache.
``GAIT_POLICY_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gait.canon import dumps_compact, loads_strict
from gait.errors import InvalidInput
from gait.sha import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

FORMAT = "gait.policy_cache/1"
ENV = "GAIT_POLICY_CACHE"


def _parser_fingerprint() -> str:
    from gait import __version__

    parts = [__version__]
    here = Path(__file__).resolve().parent
    parser_sources = (  # the policy's key shapes (policy.py, policy_keys.py) and the YAML readers
        here / "policy.py",
        here / "policy_keys.py",
        here.parent / "yamlload.py",
        here.parent / "yamlshape.py",
    )
    for path in parser_sources:
        try:
            st = path.stat()
            parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{path.name}:absent")
    return "|".join(parts)


def _safe_owner(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _digest(value: Any) -> str:
    return sha256(dumps_compact(value).encode("utf-8")).hexdigest()


def cache_dir() -> Path:
    from gait.fsutil import gait_home

    return gait_home() / "cache" / "policy"


def _read(path: Path, key: str, fingerprint: str) -> Any:
    try:
        dir_st = os.stat(path.parent)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) and _safe_owner(st) and _safe_owner(dir_st)):
            return None
        if st.st_mode & 0o077:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(16 * 1024 * 1024)
    except OSError:  # an unreadable entry is a miss
        return None
    finally:
        os.close(fd)
    try:
        doc = loads_strict(raw, what="policy cache entry")
    except InvalidInput:  # a corrupt or hostile entry is a miss too
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None
    if doc.get("source_sha256") != key or doc.get("parser") != fingerprint:
        return None
    parsed = doc.get("parsed")
    if _digest(parsed) != doc.get("parsed_sha256"):
        return None
    return parsed


def _write(path: Path, key: str, fingerprint: str, parsed: Any) -> None:
    from gait.fsutil import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _safe_owner(os.stat(path.parent)):
            return
        doc = {
            "format": FORMAT,
            "source_sha256": key,
            "parser": fingerprint,
            "parsed_sha256": _digest(parsed),
            "parsed": parsed,
        }
        data = dumps_compact(doc)
        # No fsync: a lost entry is a miss, never a wrong answer.
        atomic_write(path, data.encode("utf-8"), mode=0o600, sync=False)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; never fail a load for it
        return


def parsed_policy(data: bytes, parse: Callable[[bytes], Any]) -> Any:
    """``parse(data)``, from the cache when a valid entry for these exact bytes exists."""
    if os.environ.get(ENV, "").strip().lower() in ("0", "off", "false", "no"):
        return parse(data)
    key = sha256(data).hexdigest()
    fingerprint = _parser_fingerprint()
    try:
        path = cache_dir() / f"{key}.json"
    except Exception:  # noqa: BLE001 - no usable GAIT_HOME: no cache
        return parse(data)
    cached = _read(path, key, fingerprint)
    if cached is not None:
        return cached
    parsed = parse(data)
    import json  # a miss: the YAML parser has just cost far more

    try:
        plain = json.loads(json.dumps(parsed, sort_keys=True))
    except (TypeError, ValueError):
        return parsed  # not plain JSON data: never cached
    if plain == parsed:
        _write(path, key, fingerprint, parsed)
    return parsed
