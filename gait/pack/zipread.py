"""Reading pack zips with the runpack container's safety checks (names, sizes, bombs)."""

from __future__ import annotations

import io
from pathlib import Path

from gait.errors import InvalidInput, VerificationFailed
from gait.runpack.archive import Members, read_members, read_members_from


def read_zip(path: str | Path, *, what: str = "pack") -> Members:
    """Members of a zip, refusing any member a hostile zip could use (named in the error)."""
    target = Path(path)
    if not target.exists():
        raise InvalidInput(
            f"{what} not found: {path}",
            code="E_PACK_NOT_FOUND",
            hint="gait pack build --type run --from <run_id>  (or give the zip's path)",
        )
    try:
        members = read_members(target, keep=None)  # a pack's members are all parsed
    except InvalidInput as exc:
        exc.hint = exc.hint or f"pass a zip gait wrote (pack, evidence pack or runpack), not {path}"
        raise
    return _checked(members, f"{what} {path}")


def read_zip_bytes(data: bytes, *, what: str) -> Members:
    """Members of an embedded zip (a pack's ``source/runpack.zip``), with the same checks,
    read from memory: no temp file that a crash could leave behind."""
    try:
        members = read_members_from(io.BytesIO(data), what, keep=None)
    except InvalidInput as exc:
        exc.hint = exc.hint or "rebuild the pack from its sources"
        raise
    return _checked(members, what)


def _checked(members: Members, label: str) -> Members:
    if members.problems:
        first = members.problems[0]
        raise VerificationFailed(
            f"{label}: member {first.path or '?'}: {first.message}",
            code="E_PACK_UNSAFE_MEMBER",
            hint="rebuild the pack from its sources; do not trust this file",
        )
    if members.unreadable:
        name = sorted(members.unreadable)[0]
        raise VerificationFailed(
            f"{label}: member {name}: {members.unreadable[name]}",
            code="E_PACK_MEMBER_CORRUPT",
            hint="rebuild the pack from its sources",
        )
    return members
