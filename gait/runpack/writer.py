"""Serialize normalized records into a signed runpack zip, atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gait.canon import canonical_bytes
from gait.runpack import model
from gait.runpack.archive import write_zip
from gait.runpack.build import jsonl, manifest_for, normalize_input
from gait.runpack.manifest import signed_manifest_digest
from gait.runpack.redact import Redactor, redact_record_input

if TYPE_CHECKING:  # the signing modules and libsodium load only when a runpack is signed
    from gait.sign.keys import SigningKey


@dataclass(frozen=True)
class Written:
    path: Path
    run_id: str
    manifest: dict[str, Any]

    @property
    def capture_mode(self) -> str:
        return str(self.manifest["capture_mode"])

    @property
    def manifest_digest(self) -> str:
        return str(self.manifest["manifest_digest"])

    @property
    def ticket_footer(self) -> str:
        return ticket_footer(self.run_id, self.manifest_digest)


def ticket_footer(run_id: str, manifest_digest: str) -> str:
    return f'GAIT run_id={run_id} manifest=sha256:{manifest_digest} verify="gait verify {run_id}"'


def member_bytes(
    run: dict[str, Any],
    intents: list[dict[str, Any]],
    results: list[dict[str, Any]],
    refs: dict[str, Any],
    texts: tuple[list[Any], list[Any]] | None = None,
) -> dict[str, bytes]:
    intent_texts, result_texts = texts if texts is not None else (None, None)
    return {
        model.INTENTS: jsonl(intents, intent_texts),
        model.REFS: canonical_bytes(refs),
        model.RESULTS: jsonl(results, result_texts),
        model.RUN: canonical_bytes(run),
    }


def build_manifest(
    run: dict[str, Any],
    capture_mode: str,
    data: dict[str, bytes],
    signing_keys: list[SigningKey] | None = None,
) -> dict[str, Any]:
    manifest = manifest_for(run, capture_mode, data)
    if signing_keys:
        from gait.sign.signature import sign_digest

        signed = signed_manifest_digest(manifest)
        manifest["signatures"] = [sign_digest(key, signed) for key in signing_keys]
    return manifest


def write_runpack(
    path: str | Path,
    *,
    capture_mode: str,
    run: dict[str, Any],
    intents: list[dict[str, Any]],
    results: list[dict[str, Any]],
    refs: dict[str, Any],
    signing_keys: list[SigningKey] | None = None,
    texts: tuple[list[Any], list[Any]] | None = None,
) -> Written:
    """``texts``: the payloads' canonical bytes from ``normalize_input`` (spliced, not
    serialized again)."""
    _validate_records(run, intents, results, refs)
    data = member_bytes(run, intents, results, refs, texts)
    manifest = build_manifest(run, capture_mode, data, signing_keys)
    data[model.MANIFEST] = canonical_bytes(manifest)
    target = write_zip(path, [(name, data[name]) for name in model.MEMBER_ORDER])
    return Written(path=target, run_id=run["run_id"], manifest=manifest)


def _validate_records(
    run: dict[str, Any],
    intents: list[dict[str, Any]],
    results: list[dict[str, Any]],
    refs: dict[str, Any],
) -> None:
    """The member schemas ``gait verify`` checks, checked before anything is signed or written:
    a signed runpack that its own verify rejects is worse than no runpack (exit 6 instead)."""
    from gait import schema
    from gait.errors import InvalidInput

    checks: list[tuple[str, str, Any]] = [
        (model.RUN, model.RUN, run),
        (model.REFS, model.REFS, refs),
    ]
    # The records of a member in one pass of the compiled check; one by one (to name the
    # first problem) only when that pass finds one.
    if not schema.all_valid(model.SCHEMA_IDS[model.INTENTS], intents):
        checks += [(model.INTENTS, f"{model.INTENTS}:{i}", d) for i, d in enumerate(intents, 1)]
    if not schema.all_valid(model.SCHEMA_IDS[model.RESULTS], results):
        checks += [(model.RESULTS, f"{model.RESULTS}:{i}", d) for i, d in enumerate(results, 1)]
    for member, where, doc in checks:
        problems = schema.errors(model.SCHEMA_IDS[member], doc)
        if problems:
            raise InvalidInput(
                f"record input would make an invalid runpack: {where}: {problems[0]}",
                code="E_RECORD_INPUT_INVALID",
                hint="fix the input; gait verify would refuse this runpack",
            )


def write_record_input(
    doc: Any,
    path: str | Path | None = None,
    *,
    out_dir: str | Path = "gait-out",
    capture_mode: str | None = None,
    signing_keys: list[SigningKey] | None = None,
    evidence_mode_default: str = "best_effort",
    redactor: Redactor | None = None,
) -> Written:
    """The one way from a record input ``{run, intents, results, refs, capture_mode}`` to a
    runpack: redacted first when a ``redactor`` is given (its report says what matched),
    normalized as the reference does, written to ``path`` (default
    ``<out_dir>/runpack_<run_id>.zip``)."""
    if redactor and isinstance(doc, dict):
        doc = redact_record_input(doc, redactor)
    texts: tuple[list[Any], list[Any]] = ([], [])
    mode, run, intents, results, refs = normalize_input(
        doc, capture_mode=capture_mode, evidence_mode_default=evidence_mode_default, texts=texts
    )
    target = Path(path) if path is not None else default_path(run["run_id"], out_dir)
    return write_runpack(
        target,
        capture_mode=mode,
        run=run,
        intents=intents,
        results=results,
        refs=refs,
        signing_keys=signing_keys,
        texts=texts,
    )


def default_path(run_id: str, out_dir: str | Path = "gait-out") -> Path:
    return Path(out_dir) / f"runpack_{run_id}.zip"
