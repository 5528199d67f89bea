"""gait.yaml and fixture.json: load, validate, resolve (FORMATS.md section 6.4).

Everything a regress run can refuse is refused here, before any grader runs, as one InvalidInput
(exit 6) naming the file and the problem: the reference's gait.yaml (JSON text) loads as is, and
our additions are optional keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gait.errors import InvalidInput

CONFIG_NAME = "gait.yaml"
FIXTURE_FILE = "fixture.json"
FIXTURES_DIR = "fixtures"
RUNPACK_FILE = "runpack.zip"
CONFIG_SCHEMA = "gait.regress.config"
FIXTURE_SCHEMA = "gait.regress.fixture"
SCHEMA_VERSION = "1.0.0"
DEFAULT_FIXTURE_SET = "default"
DEFAULT_TIMEOUT = 300.0
CODE = "E_REGRESS_CONFIG_INVALID"
FIXTURE_CODE = "E_REGRESS_FIXTURE_INVALID"


@dataclass(frozen=True)
class FixtureSpec:
    """One fixture: its gait.yaml entry, its fixture.json, and where its files are."""

    name: str
    run_id: str
    runpack: str
    root: Path
    meta: Mapping[str, Any]
    grader_options: Mapping[str, Any] = field(default_factory=dict)
    match_on: Any = None  # gait.yaml's per-fixture match_on, if any

    @property
    def runpack_path(self) -> Path:
        return self.root / self.runpack

    @property
    def dir(self) -> Path:
        return self.runpack_path.parent

    @property
    def meta_path(self) -> Path:
        return self.dir / FIXTURE_FILE

    @property
    def node_path(self) -> str:
        """The fixture directory relative to gait.yaml, with ``/``: the test id's first part."""
        return PurePosixPath(self.runpack).parent.as_posix()


@dataclass(frozen=True)
class RegressConfig:
    path: Path
    root: Path
    doc: Mapping[str, Any]
    fixture_set: str
    fixtures: tuple[FixtureSpec, ...]
    grader_options: Mapping[str, Any]
    candidate: str = ""
    command: tuple[str, ...] = ()
    timeout_seconds: float = DEFAULT_TIMEOUT
    pins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    record_mode: str = "none"
    match_on: Any = None
    allow_tools: tuple[str, ...] = ()
    gate_state: str = ""
    pytest_plugins: tuple[str, ...] = ()

    @property
    def live(self) -> bool:
        """Whether fixtures are graded against something other than their own runpacks."""
        return bool(self.command or self.candidate)

    def fixture(self, name: str) -> FixtureSpec:
        index = self.__dict__.get("_index")
        if index is None:
            index = {spec.name: spec for spec in self.fixtures}
            object.__setattr__(self, "_index", index)
        found_spec: FixtureSpec = index[name]
        return found_spec


def _fail(message: str, code: str = CODE, hint: str = "") -> InvalidInput:
    return InvalidInput(message.replace("\n", " "), code=code, hint=hint)


def load_yaml_text(text: str, what: str) -> Any:
    """gait.yaml through the one bounded, strict YAML reader (the reference's JSON text is YAML)."""
    from gait import yamlload

    def fail(message: str, line: int | None) -> InvalidInput:
        where = f" (line {line})" if line is not None else ""
        return _fail(f"{what} is not valid YAML{where}: {message}")

    return yamlload.load(text, fail)


def _load_text(text: str, what: str) -> Any:
    """gait.yaml is JSON text as the reference writes it (JSON is YAML, and parses 50x faster
    than PyYAML's pure-Python loader); anything else goes through the YAML loader."""
    if text.lstrip().startswith("{"):
        from gait.canon import loads_strict

        try:
            return loads_strict(text, what=what, code=CODE)
        except InvalidInput as exc:
            if "duplicate key" in exc.message:
                raise
    return load_yaml_text(text, what)


def find_config(explicit: str | os.PathLike[str] | None, *search: Path) -> Path:
    """``explicit`` if given, else the first ``gait.yaml`` among ``search`` directories."""
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            path = path / CONFIG_NAME
        if not path.is_file():
            raise _fail(
                f"{path} not found",
                code="E_REGRESS_CONFIG_MISSING",
                hint="gait regress init --from <run_id|path>",
            )
        return path
    for folder in search:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    where = ", ".join(dict.fromkeys(str(f) for f in search)) or "."  # rootdir is often cwd
    raise _fail(
        f"no {CONFIG_NAME} found (looked in {where})",
        code="E_REGRESS_CONFIG_MISSING",
        hint="make a fixture set from a run: gait demo && gait regress init --from run_demo "
        "(or point at one: --gait-config PATH)",
    )


def _schema_check(schema_id: str, doc: Any, what: str, code: str) -> None:
    from gait import schema

    problems = schema.errors(schema_id, doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise _fail(f"{what}: {problems[0]}{more}", code=code)


def _safe_relative(text: str, what: str) -> str:
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise _fail(f"{what} must be a relative path inside the fixture set, not {text!r}")
    if len(text) > 1024 or any(len(part.encode()) > 255 for part in pure.parts):
        raise _fail(f"{what} is too long (a path of at most 1024 characters, names of 255 bytes)")
    return pure.as_posix()


def load_config(path: str | os.PathLike[str]) -> RegressConfig:
    """Read and validate gait.yaml and every fixture.json it names."""
    config_path = Path(path)
    what = str(config_path)
    try:
        raw = config_path.read_bytes()
    except FileNotFoundError:
        raise _fail(
            f"{what} not found",
            code="E_REGRESS_CONFIG_MISSING",
            hint="gait regress init --from <run_id|path>",
        ) from None
    except OSError as exc:
        raise _fail(f"cannot read {what}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(f"{what} is not UTF-8 text") from None
    if not text.strip():
        raise _fail(f"{what} is empty", hint="gait regress init --from <run_id|path>")
    doc = _load_text(text, what)
    if not isinstance(doc, dict):
        raise _fail(f"{what} must be a mapping (got {type(doc).__name__})")
    _schema_check(CONFIG_SCHEMA, doc, what, CODE)
    root = config_path.parent
    names: set[str] = set()
    fixtures = []
    for entry in doc["fixtures"]:
        name = entry["name"]
        if name in names:
            raise _fail(f"{what}: fixture name {name!r} is listed twice")
        names.add(name)
        fixtures.append(_load_fixture(root, entry, what))
    fixtures.sort(key=lambda spec: spec.name)
    command = doc.get("command") or ()
    if isinstance(command, str):
        import shlex

        try:
            command = shlex.split(command)
        except ValueError as exc:
            raise _fail(f"{what}: command cannot be parsed: {exc}") from exc
    return RegressConfig(
        path=config_path,
        root=root,
        doc=doc,
        fixture_set=doc.get("fixture_set") or DEFAULT_FIXTURE_SET,
        fixtures=tuple(fixtures),
        grader_options=dict(doc.get("graders") or {}),
        candidate=doc.get("candidate") or "",
        command=tuple(command),
        timeout_seconds=float(doc.get("timeout_seconds") or DEFAULT_TIMEOUT),
        pins=dict(doc.get("pins") or {}),
        record_mode=str(doc.get("record_mode") or "none"),
        match_on=doc.get("match_on"),
        allow_tools=tuple(doc.get("allow_tools") or ()),
        gate_state=str(doc.get("gate_state") or ""),
        pytest_plugins=tuple(doc.get("pytest_plugins") or ()),
    )


def _load_fixture(root: Path, entry: Mapping[str, Any], what: str) -> FixtureSpec:
    name = entry["name"]
    runpack = _safe_relative(entry["runpack"], f"{what}: fixture {name!r} runpack")
    runpack_path = root / runpack
    fixture_dir = runpack_path.parent
    if not fixture_dir.is_dir():
        raise _fail(
            f"{what}: fixture {name!r}: directory {PurePosixPath(runpack).parent} does not exist",
            code=FIXTURE_CODE,
        )
    meta = load_fixture_meta(fixture_dir / FIXTURE_FILE)
    meta_what = f"{PurePosixPath(runpack).parent}/{FIXTURE_FILE}"
    if meta["name"] != name:
        raise _fail(
            f"{meta_what}: name {meta['name']!r} is not the fixture's name {name!r}",
            code=FIXTURE_CODE,
        )
    if entry.get("run_id") and meta["run_id"] != entry["run_id"]:
        raise _fail(
            f"{meta_what}: run_id {meta['run_id']!r} differs from gait.yaml's {entry['run_id']!r}",
            code=FIXTURE_CODE,
        )
    if PurePosixPath(meta["runpack"]).name != meta["runpack"]:
        raise _fail(
            f"{meta_what}: runpack must be a file name, not {meta['runpack']!r}", code=FIXTURE_CODE
        )
    if not runpack_path.is_file():
        raise _fail(
            f"{what}: fixture {name!r}: runpack {runpack} does not exist", code=FIXTURE_CODE
        )
    return FixtureSpec(
        name=name,
        run_id=meta["run_id"],
        runpack=runpack,
        root=root,
        meta=meta,
        grader_options=dict(meta.get("graders") or {}),
        match_on=entry.get("match_on"),
    )


def load_fixture_meta(path: Path) -> dict[str, Any]:
    """fixture.json, strictly parsed and schema-checked."""
    from gait.canon import loads_strict

    shown = f"{path.parent.name}/{path.name}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _fail(
            f"{shown} not found in {path.parent}",
            code=FIXTURE_CODE,
            hint="gait regress init --from <run_id|path> --name <name> --force",
        ) from None
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}", code=FIXTURE_CODE) from exc
    meta = loads_strict(raw, what=shown, code=FIXTURE_CODE)
    if not isinstance(meta, dict):
        raise _fail(f"{shown} must be a JSON object", code=FIXTURE_CODE)
    _schema_check(FIXTURE_SCHEMA, meta, shown, FIXTURE_CODE)
    return meta
