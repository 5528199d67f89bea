"""``gait regress init``: turn a verified runpack into a fixture in one command.

The fixture holds the runpack (copied byte for byte) and fixture.json with the expectations read
from that run: tool sequence, verdict sequence, stub-replay exit code, and the default graders.
gait.yaml is created or extended in place: entries and optional keys already there are kept.
Nothing is half-written: a new fixture directory appears complete or not at all.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from gait.canon import dumps_pretty_struct
from gait.errors import InvalidInput
from gait.fsutil import commit_files
from gait.regress.config import (
    CONFIG_NAME,
    CONFIG_SCHEMA,
    DEFAULT_FIXTURE_SET,
    FIXTURE_FILE,
    FIXTURE_SCHEMA,
    FIXTURES_DIR,
    RUNPACK_FILE,
    SCHEMA_VERSION,
    load_yaml_text,
)

if TYPE_CHECKING:
    from gait.runpack.archive import Limits

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# The reference writes fixture.json in its struct's order; ours (graders) come last.
META_ORDER = (
    "schema_id",
    "schema_version",
    "name",
    "run_id",
    "runpack",
    "expected_replay_exit_code",
    "expected_tool_sequence",
    "expected_verdict_sequence",
    "candidate_runpack",
    "context_conformance",
    "allow_context_runtime_drift",
    "expected_context_set_digest",
    "diff_allow_changed_files",
    "graders",
)
CONFIG_ORDER = ("schema_id", "schema_version", "fixture_set", "fixtures")
ENTRY_ORDER = ("name", "run_id", "runpack", "match_on")


@dataclass
class InitResult:
    run_id: str
    fixture_name: str
    fixture_dir: str
    runpack_path: str
    config_path: str
    replaced: bool
    graders: list[str] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)
    command: str | list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": True,
            "config_path": self.config_path,
            "fixture_dir": self.fixture_dir,
            "fixture_name": self.fixture_name,
            "run_id": self.run_id,
            "runpack_path": self.runpack_path,
            "replaced": self.replaced,
            "graders": self.graders,
            "live_agent": bool(self.command),
            "next_commands": ["gait regress run --json", "pytest --gait"],
        }
        if self.command:
            out["command"] = self.command
        return out


def sanitize_name(run_id: str) -> str:
    """FORMATS.md 6.4: lowercased, other characters than ``[a-z0-9._-]`` to ``-``, trimmed."""
    out: list[str] = []
    for char in run_id.lower():
        if char.isascii() and (char.isalnum() or char in "._-"):
            out.append(char)
        elif not out or out[-1] != "-":
            out.append("-")
    name = "".join(out).strip("-._")
    return name or "fixture"


def ordered_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    known = [k for k in META_ORDER if k in meta]
    return {k: meta[k] for k in known + sorted(set(meta) - set(META_ORDER))}


def validate_meta(meta: Mapping[str, Any], what: str) -> None:
    from gait import schema

    problems = schema.errors(FIXTURE_SCHEMA, dict(meta))
    if problems:
        raise InvalidInput(f"{what}: {problems[0]}", code="E_REGRESS_FIXTURE_INVALID")


def expectations(run: Any) -> dict[str, Any]:
    """What init reads from a run: replay exit code, tool and verdict sequences, and the
    context evidence a run recorded with one must keep. ``run`` is a ``RunOutline`` (init
    streams its source) or a loaded ``Runpack`` (a grader's candidate): one reading of both."""
    from gait.runpack.outline import RunOutline, outline_of

    outline = run if isinstance(run, RunOutline) else outline_of(run)
    out: dict[str, Any] = {
        # a stub replay exits 2 when an intent has no recorded result (replay.stub_replay)
        "expected_replay_exit_code": 2 if outline.missing_result_ids() else 0,
        "expected_tool_sequence": outline.tool_sequence(),
        "expected_verdict_sequence": list(outline.verdicts),
    }
    # A run recorded with context evidence: its context must conform (as the reference's init).
    context_digest = str(outline.refs.get("context_set_digest") or "").strip()
    if context_digest:
        out["context_conformance"] = "required"
        out["expected_context_set_digest"] = context_digest
    return out


def init_fixture(
    source: str,
    *,
    name: str | None = None,
    directory: str | os.PathLike[str] = ".",
    force: bool = False,
    command: str | None = None,
    limits: Limits | None = None,
) -> InitResult:
    """Verify ``source``, copy it into ``fixtures/<name>/`` with its expectations, and list it
    in gait.yaml; ``command`` (the agent to replay against it) is written there too.

    ``source`` may also be a PackSpec run or call pack (``gait pack build``, ``gait voice pack
    build``): the runpack it carries as ``source/runpack.zip`` becomes the fixture, as in the
    reference (a voice call becomes a regression in one command)."""
    from gait.runpack.resolve import resolve

    path = resolve(source)
    carried = _pack_runpack(path)
    if carried is None:
        return _init_from(path, source, name, directory, force, command, limits)
    try:
        return _init_from(carried, source, name, directory, force, command, limits)
    finally:
        carried.unlink(missing_ok=True)


def _pack_runpack(path: Path) -> Path | None:
    """A temp copy of the runpack a run or call pack carries, or None for anything else (a
    runpack, or a file that is not a pack: verify then says what is wrong with it)."""
    import tempfile
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "pack_manifest.json" not in names or "manifest.json" in names:
                return None
            manifest = zf.read("pack_manifest.json")
    except (OSError, zipfile.BadZipFile, KeyError):
        return None
    from gait.canon import loads_strict
    from gait.pack.spec import extract_runpack

    kind = loads_strict(manifest, what="pack_manifest.json").get("pack_type")
    if kind not in ("run", "call"):
        raise InvalidInput(
            f"{path} is a {kind} pack: only run and call packs carry a runpack",
            code="E_PACK_SOURCE_INVALID",
            hint="gait regress init --from <runpack.zip | run pack | call pack>",
        )
    data = extract_runpack(path)
    handle, name = tempfile.mkstemp(prefix="gait-regress-source-", suffix=".zip")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return Path(name)


def _init_from(
    path: Path,
    source: str,
    name: str | None,
    directory: str | os.PathLike[str],
    force: bool,
    command: str | None,
    limits: Limits | None,
) -> InitResult:
    from gait.regress.manager import get_registry
    from gait.runpack.archive import Limits
    from gait.runpack.outline import read_outline
    from gait.runpack.reader import verification_error
    from gait.runpack.verify import VerifyOptions, verify_runpack

    options = VerifyOptions(limits=limits or Limits())  # gait verify's hostile-zip limits
    report = verify_runpack(path, options)
    if not report.ok:
        raise verification_error(source, report)
    # Streamed, as verify was: a fixture's source is never held as records (issue 11 item 11).
    runpack = read_outline(path, options.limits)
    fixture_name = name if name is not None else sanitize_name(runpack.run_id)
    if not NAME_PATTERN.match(fixture_name):
        raise InvalidInput(
            f"fixture name {fixture_name!r} must match {NAME_PATTERN.pattern}",
            code="E_REGRESS_FIXTURE_NAME",
            hint="--name with lower case letters, digits, . _ -",
        )
    root = Path(directory)
    config_path = root / CONFIG_NAME
    existing = _read_config(config_path)
    target = root / FIXTURES_DIR / fixture_name
    listed = any(e.get("name") == fixture_name for e in existing.get("fixtures", []))
    occupied = target.exists() and any(target.iterdir())
    if (occupied or listed) and not force:
        raise InvalidInput(
            f"fixture {fixture_name!r} already exists ({FIXTURES_DIR}/{fixture_name}); "
            "--force replaces it",
            code="E_REGRESS_FIXTURE_EXISTS",
            hint=f"gait regress init --from {source} --name <other-name>",
        )
    if command is not None and not command.strip():
        raise InvalidInput("--command is empty", code="E_USAGE", hint="--command 'python agent.py'")
    if command or existing.get("command"):
        require_results(runpack, source, command=command or existing.get("command"))
    graders = get_registry().default_names()
    meta = {
        "schema_id": FIXTURE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "name": fixture_name,
        "run_id": runpack.run_id,
        "runpack": RUNPACK_FILE,
        **expectations(runpack),
        "graders": {grader: True for grader in graders},
    }
    validate_meta(meta, f"{FIXTURES_DIR}/{fixture_name}/{FIXTURE_FILE}")
    entry = {
        "name": fixture_name,
        "run_id": runpack.run_id,
        "runpack": f"{FIXTURES_DIR}/{fixture_name}/{RUNPACK_FILE}",
    }
    if command:
        _check_command(command)
        existing = {**existing, "command": command}
    config_bytes = _config_bytes(existing, {fixture_name: entry}, config_path)
    files: dict[str, bytes | Callable[[BinaryIO], object]] = {
        # copied as a stream: the source is never held whole (issue 11 item 11)
        RUNPACK_FILE: lambda out: _copy_into(path, out),
        FIXTURE_FILE: dumps_pretty_struct(ordered_meta(meta)),
    }
    if occupied:
        commit_files([(target / n, data) for n, data in files.items()])
    else:
        _create_dir(target, files)
    commit_files([(config_path, config_bytes)])
    return InitResult(
        run_id=runpack.run_id,
        fixture_name=fixture_name,
        fixture_dir=f"{FIXTURES_DIR}/{fixture_name}",
        runpack_path=entry["runpack"],
        config_path=CONFIG_NAME,
        replaced=occupied or listed,
        graders=graders,
        expected={k: meta[k] for k in meta if k.startswith("expected_")},
        command=existing.get("command"),
    )


NEEDS_RESULTS = "E_REGRESS_REPLAY_NEEDS_RESULTS"


def missing_results(run: Any) -> str:
    """Why ``run`` (a ``RunOutline`` or a ``Runpack``) cannot serve a ``command:`` agent its
    tool results ('' when it can)."""
    from gait.runpack.outline import RunOutline, outline_of

    outline = run if isinstance(run, RunOutline) else outline_of(run)
    if outline.capture_mode != "raw":
        return (
            f"run {outline.run_id} was recorded in reference capture, which keeps only digests "
            "of tool results: an agent replaying it would get digest markers, not results"
        )
    absent = outline.missing_result_ids()
    if absent:
        return f"run {outline.run_id} has no recorded result for {', '.join(absent[:3])}"
    no_payload = sum(1 for has_payload in outline.results.values() if not has_payload)
    if no_payload:
        return f"run {outline.run_id}: {no_payload} recorded result(s) carry no payload to replay"
    return ""


def require_results(runpack: Any, source: str, *, command: Any) -> None:
    why = missing_results(runpack)
    if why:
        shown = command if isinstance(command, str) else " ".join(command or [])
        raise InvalidInput(
            f"cannot replay {source} to command {shown!r}: {why}",
            code=NEEDS_RESULTS,
            hint='record the run with raw capture (gait.record(..., capture_mode="raw") or '
            "gait run record --capture-mode raw; redaction rules still apply to what is kept), "
            "then init from that run",
        )


def _check_command(command: str) -> None:
    import shlex

    try:
        parts = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(
            f"--command cannot be parsed: {exc}", code="E_USAGE", hint="quote it as in a shell"
        ) from None
    if not parts:
        raise InvalidInput("--command is empty", code="E_USAGE")


def _read_config(path: Path) -> dict[str, Any]:
    """The gait.yaml being extended (as parsed), or a fresh skeleton; an invalid one refuses."""
    if not path.exists():
        return {}
    from gait import schema

    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return {}
    doc = load_yaml_text(text, str(path))
    problems = schema.errors(CONFIG_SCHEMA, doc) if isinstance(doc, dict) else ["not a mapping"]
    if problems:
        raise InvalidInput(
            f"{path} exists but is not a valid gait.yaml ({problems[0]}); fix or remove it first",
            code="E_REGRESS_CONFIG_INVALID",
        )
    config_doc: dict[str, Any] = doc
    return config_doc


def _config_bytes(
    existing: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]], path: Path
) -> bytes:
    doc = dict(existing)
    doc.setdefault("schema_id", CONFIG_SCHEMA)
    doc.setdefault("schema_version", SCHEMA_VERSION)
    doc.setdefault("fixture_set", DEFAULT_FIXTURE_SET)
    merged = {e["name"]: dict(e) for e in doc.get("fixtures", [])}
    for name, entry in entries.items():
        merged[name] = {**merged.get(name, {}), **entry}
    doc["fixtures"] = [
        {k: merged[name][k] for k in ENTRY_ORDER if k in merged[name]} for name in sorted(merged)
    ]
    ordered = {k: doc[k] for k in CONFIG_ORDER}
    ordered.update({k: doc[k] for k in doc if k not in CONFIG_ORDER})
    from gait import schema

    problems = schema.errors(CONFIG_SCHEMA, ordered)
    if problems:
        raise InvalidInput(f"{path}: {problems[0]}", code="E_REGRESS_CONFIG_INVALID")
    return dumps_pretty_struct(ordered)


def config_bytes_with_run_ids(root: Path, run_ids: Mapping[str, str]) -> bytes:
    """gait.yaml's bytes with the given fixtures' run ids replaced (other keys kept)."""
    path = root / CONFIG_NAME
    existing = _read_config(path)
    updates = {
        entry["name"]: {**entry, "run_id": run_ids[entry["name"]]}
        for entry in existing.get("fixtures", [])
        if entry["name"] in run_ids
    }
    return _config_bytes(existing, updates, path)


def _copy_into(source: Path, out: BinaryIO) -> None:
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, out, 1 << 20)


def _create_dir(target: Path, files: Mapping[str, bytes | Callable[[BinaryIO], object]]) -> None:
    """The fixture directory appears whole or not at all: staged beside it (cleaned by the
    next writer when a kill leaves it), then renamed into place."""
    from gait.fsutil import make_temp_dir

    staging: Path | None = None
    try:
        staging = make_temp_dir(target)
        for name, data in files.items():
            if isinstance(data, bytes):
                (staging / name).write_bytes(data)
            else:
                with open(staging / name, "wb") as out:
                    data(out)
            os.chmod(staging / name, 0o644)
        os.chmod(staging, 0o755)
        if target.exists():
            target.rmdir()  # empty (checked by the caller)
        os.rename(staging, target)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        from gait.errors import IOFailure

        raise IOFailure(f"cannot create {target}: {exc.strerror}", code="E_IO_WRITE") from exc
