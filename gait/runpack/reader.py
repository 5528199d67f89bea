"""Load a runpack for use (replay, diff, regress): verified first, then parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gait.canon import loads_strict
from gait.errors import VerificationFailed
from gait.runpack import model
from gait.runpack.archive import Members, read_members
from gait.runpack.lines import (
    is_canonical,
    member_document,
    member_records,
    member_strict_records,
)
from gait.runpack.model import Runpack
from gait.runpack.verify import VerifyOptions, VerifyReport, verify_members


def default_options() -> VerifyOptions:
    from gait.sign.keyring import load_keyring

    keyring = load_keyring()
    return VerifyOptions(keys=tuple(keyring.trusted_keys()), keyring=keyring)


def load_runpack(
    path: str | Path,
    *,
    verify: bool = True,
    options: VerifyOptions | None = None,
    prove_canonical: bool = False,
) -> Runpack:
    """Parse a runpack's members; with ``verify`` (the default) refuse one that fails verify.

    Refusal is a VerificationFailed (exit 2) naming the first failing check, so nothing is
    replayed, diffed or graded from bytes the manifest does not vouch for.
    """
    members = read_members(path)
    if prove_canonical:  # diff needs the proof; one parse gives records and proof together
        for name in (model.INTENTS, model.RESULTS):
            member_records(members, name)
    if verify:
        if options is None:
            # No signature to check, no trust store to load (nor libsodium): an
            # unsigned runpack verifies the same either way.
            unsigned = b'"signatures"' not in members.data.get(model.MANIFEST, b"")
            options = VerifyOptions() if unsigned else default_options()
        report = verify_members(path, members, options)
        if not report.ok:
            raise verification_error(path, report)
    return runpack_from_members(members)


def runpack_from_members(members: Members) -> Runpack:
    """Parse members already read (and verified) by the caller, each parsed only once."""
    data = members.data
    canonical: dict[str, bytes] = {}  # members proven canonical while parsed (diff skips them)

    def document(name: str) -> Any:
        if name not in data and name != model.MANIFEST:  # a missing manifest is a KeyError
            return loads_strict(b"{}", what=name)
        value = member_document(members, name)
        if is_canonical(value, data[name]):
            canonical[name] = data[name]
        return value

    def records(name: str) -> list[dict[str, Any]]:
        if name not in data:
            return []
        if members.parsed.get(name) is not None:  # proven canonical (``prove_canonical``)
            canonical[name] = data[name]
        fast = member_strict_records(members, name)
        return fast if fast is not None else _lines(data[name], name)

    return Runpack(
        manifest=document(model.MANIFEST),
        run=document(model.RUN),
        intents=records(model.INTENTS),
        results=records(model.RESULTS),
        refs=document(model.REFS),
        members=dict(data),
        canonical_members=canonical,
    )


def verification_error(path: str | Path, report: VerifyReport) -> VerificationFailed:
    failing = [c for c in report.checks if c.status == "fail"]
    first = failing[0] if failing else None
    detail = f"{first.name}: {first.detail}" if first else "verification failed"
    return VerificationFailed(
        f"runpack {path} failed verification ({detail})",
        code=first.code if first else "E_VERIFY_FAILED",
        hint=f"gait verify {path} --json",
    )


def _lines(raw: bytes, name: str) -> list[dict[str, Any]]:
    return [
        loads_strict(line, what=f"{name} line {i}")
        for i, line in enumerate(raw.splitlines(), start=1)
        if line.strip()
    ]
