"""Load a runpack for use (replay, diff, regress): verified first, then parsed."""

from __future__ import annotations

from pathlib import Path

from gait.canon import loads_strict
from gait.errors import VerificationFailed
from gait.runpack import model
from gait.runpack.archive import read_members
from gait.runpack.model import Runpack
from gait.runpack.verify import VerifyOptions, VerifyReport, verify_runpack


def default_options() -> VerifyOptions:
    from gait.sign.keyring import load_keyring

    keyring = load_keyring()
    return VerifyOptions(keys=tuple(keyring.trusted_keys()), keyring=keyring)


def load_runpack(
    path: str | Path, *, verify: bool = True, options: VerifyOptions | None = None
) -> Runpack:
    """Parse a runpack's members; with ``verify`` (the default) refuse one that fails verify.

    Refusal is a VerificationFailed (exit 2) naming the first failing check, so nothing is
    replayed, diffed or graded from bytes the manifest does not vouch for.
    """
    if verify:
        report = verify_runpack(path, options or default_options())
        if not report.ok:
            raise verification_error(path, report)
    members = read_members(path)
    data = members.data
    manifest = loads_strict(data[model.MANIFEST], what="manifest.json")
    return Runpack(
        manifest=manifest,
        run=loads_strict(data.get(model.RUN, b"{}"), what="run.json"),
        intents=_lines(data.get(model.INTENTS, b""), model.INTENTS),
        results=_lines(data.get(model.RESULTS, b""), model.RESULTS),
        refs=loads_strict(data.get(model.REFS, b"{}"), what="refs.json"),
        members=dict(data),
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


def _lines(raw: bytes, name: str) -> list[dict]:
    return [
        loads_strict(line, what=f"{name} line {i}")
        for i, line in enumerate(raw.splitlines(), start=1)
        if line.strip()
    ]
