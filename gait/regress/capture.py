"""Capture receipts (``gait capture --from RUN --out FILE``): a small, portable JSON file that
names a verified runpack (or a gate trace) so a later CI step can ``gait regress add --from`` it.

The receipt has the reference's fields (``gait.capture.receipt`` 1.0.0: ``ok``, ``from``,
``artifact_type``, ``artifact_path``, ``run_id``, ``output_path``), so receipts cross between
the two implementations in both directions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait.errors import InvalidInput

RECEIPT_SCHEMA = "gait.capture.receipt"
RECEIPT_VERSION = "1.0.0"
DEFAULT_OUT = "gait-out/capture.json"
CODE = "E_CAPTURE_RECEIPT_INVALID"


@dataclass
class Receipt:
    source: str
    artifact_type: str
    artifact_path: str
    run_id: str = ""
    output_path: str = ""

    def to_json(self) -> dict[str, Any]:
        """The reference's field order; empty optional fields are left out, as it does."""
        out: dict[str, Any] = {
            "schema_id": RECEIPT_SCHEMA,
            "schema_version": RECEIPT_VERSION,
            "ok": True,
            "from": self.source,
            "artifact_type": self.artifact_type,
            "artifact_path": self.artifact_path,
        }
        if self.run_id:
            out["run_id"] = self.run_id
        if self.output_path:
            out["output_path"] = self.output_path
        return out


def resolve_capture(source: str) -> Receipt:
    """A verified runpack (run id or path) or a schema-valid gate trace record."""
    from gait.runpack.reader import verification_error
    from gait.runpack.resolve import resolve
    from gait.runpack.verify import VerifyOptions, verify_runpack

    text = source.strip()
    if not text:
        raise InvalidInput("--from is empty", code="E_USAGE", hint="gait capture --from <run_id>")
    if text.lower().endswith(".json") and Path(text).is_file():
        trace = _trace_record(Path(text))
        if trace:
            return Receipt(text, "trace", Path(text).as_posix())
    path = resolve(text)
    report = verify_runpack(path, VerifyOptions())
    if not report.ok:
        raise verification_error(text, report)
    return Receipt(text, "runpack", Path(path).as_posix(), run_id=report.run_id)


def _trace_record(path: Path) -> bool:
    from gait import schema
    from gait.canon import loads_strict
    from gait.errors import GaitError

    try:
        doc = loads_strict(path.read_bytes(), what=str(path))
    except (GaitError, OSError):
        return False
    if not isinstance(doc, dict) or doc.get("schema_id") != "gait.gate.trace":
        return False
    return not schema.errors("gait.gate.trace", doc)


def write_receipt(receipt: Receipt, out: str | os.PathLike[str]) -> Path:
    from gait.canon import dumps_pretty_struct
    from gait.fsutil import atomic_write

    target = Path(out)
    if not str(out).strip():
        raise InvalidInput("--out is empty", code="E_USAGE", hint=f"--out {DEFAULT_OUT}")
    receipt.output_path = target.as_posix()
    atomic_write(target, dumps_pretty_struct(receipt.to_json()))
    return target


def load_receipt(path: Path) -> Receipt | None:
    """The receipt at ``path``; None when the file is not a capture receipt at all."""
    from gait.canon import loads_strict
    from gait.errors import GaitError

    try:
        doc = loads_strict(path.read_bytes(), what=str(path), code=CODE)
    except (GaitError, OSError):
        return None
    if not isinstance(doc, dict) or doc.get("schema_id") != RECEIPT_SCHEMA:
        return None
    if doc.get("schema_version") != RECEIPT_VERSION:
        raise InvalidInput(
            f"{path}: capture receipt schema_version {doc.get('schema_version')!r} is not "
            f"{RECEIPT_VERSION}",
            code=CODE,
        )
    artifact = str(doc.get("artifact_path") or "").strip()
    if not artifact:
        raise InvalidInput(f"{path}: capture receipt has no artifact_path", code=CODE)
    return Receipt(
        str(doc.get("from") or ""),
        str(doc.get("artifact_type") or ""),
        artifact,
        run_id=str(doc.get("run_id") or ""),
        output_path=str(doc.get("output_path") or ""),
    )
