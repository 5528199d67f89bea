"""``gait doctor``: find what would stop Gait from working here, before a user trips over it.

Every check is a small function returning a ``Check``; the run order is fixed and no message
holds a wall-clock value, free-byte count or other run-to-run noise, so ``--json`` is
byte-identical for an unchanged environment. A check that crashes (a missing dependency breaks
the import it needs) is reported, never raised: doctor must work on the broken installs it is for.

Exit codes follow the reference: 0 unless a check failed that doctor cannot fix (a missing
dependency or a broken installation), which is 7. ``--strict`` turns any failed check into 2.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from gait import __version__

SCHEMA_ID = "gait.doctor.result"
SCHEMA_VERSION = "1.0.0"
PASS, WARN, FAIL = "pass", "warn", "fail"
MIN_PYTHON = (3, 11)
# (distribution, import name, version floor as in pyproject)
REQUIRED: tuple[tuple[str, str, str], ...] = (
    ("pytest", "pytest", ">=8"),
    ("pluggy", "pluggy", ">=1.5"),
    ("pyyaml", "yaml", ">=6"),
    ("jsonschema", "jsonschema", ">=4.20"),
    ("cryptography", "cryptography", ">=42"),  # AES-GCM (gait.guard.crypto), not signatures
    ("rfc8785", "rfc8785", ">=0.1.4"),
    ("junit-xml", "junit_xml", ">=1.9"),
    ("pynacl", "nacl", ">=1.5"),  # Ed25519 (gait.sign.keys)
)
# (distribution, import name, extra that installs it, what it is for)
OPTIONAL: tuple[tuple[str, str, str, str], ...] = (
    ("pytest-xdist", "xdist", "xdist", "parallel regress (pytest --gait -n auto)"),
    ("opentelemetry-sdk", "opentelemetry.sdk", "otel", "the OpenTelemetry exporter"),
)
# Agent-framework integrations: (extra, distribution, top-level import, lowest usable version,
# first unusable version or "", what it gives). Found without importing them (they are slow).
INTEGRATIONS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("langchain", "langchain", "langchain", "1.0", "2", "gait.GaitLangChainMiddleware"),
    ("openai-agents", "openai-agents", "agents", "0.24", "", "gait.integrations.openai_agents"),
    ("pydantic-ai", "pydantic-ai-slim", "pydantic_ai", "2.0", "", "gait.integrations.pydantic_ai"),
)
# Artifacts every v1 command reads or writes; reserved v1.1 ones are checked too, so a
# broken install shows before a pack or snapshot fails to validate.
REQUIRED_SCHEMAS = (
    "gait.runpack.manifest",
    "gait.runpack.run",
    "gait.runpack.intent",
    "gait.runpack.result",
    "gait.runpack.refs",
    "gait.gate.intent_request",
    "gait.gate.result",
    "gait.gate.trace",
    "gait.gate.approval_token",
    "gait.gate.policy",
    "gait.policytest.result",
    "gait.regress.result",
    "gait.regress.config",
    "gait.regress.fixture",
    "gait.doctor.result",
    "gait.scout.inventory_snapshot",
    "gait.guard.pack_manifest",
    "gait.registry.pack",
    "gait.mcp.adapter_contract",
)
# No machine that runs this release can honestly be earlier than its own date.
CLOCK_FLOOR = (1767225600, "2026-01-01")
CLOCK_CEILING = (4102444800, "2100-01-01")
DEFAULT_MIN_FREE_MB = 100


@dataclass
class Check:
    id: str
    status: str
    message: str
    fix: str = ""
    non_fixable: bool = False

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "status": self.status, "message": self.message}
        if self.fix:
            doc["fix"] = self.fix
        if self.non_fixable:
            doc["non_fixable"] = True
        return doc


@dataclass
class Options:
    """What doctor looks at; tests point these at broken environments."""

    mode: str = "dev"
    output_dir: Path = field(default_factory=lambda: Path("gait-out"))
    min_free_mb: int = DEFAULT_MIN_FREE_MB
    required: Sequence[tuple[str, str, str]] = REQUIRED
    optional: Sequence[tuple[str, str, str, str]] = OPTIONAL
    now: Callable[[], float] = time.time
    production_readiness: bool = False  # add the reference's production checks
    workdir: Path = field(default_factory=lambda: Path("."))  # where .gait/config.yaml is


@dataclass
class Report:
    checks: list[Check]
    mode: str

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warned(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARN]

    @property
    def non_fixable(self) -> bool:
        return any(c.non_fixable and c.status == FAIL for c in self.checks)

    @property
    def status(self) -> str:
        return FAIL if self.failed else WARN if self.warned else PASS

    def exit_code(self, *, strict: bool = False, production: bool = False) -> int:
        if production and self.failed:  # the reference: a failed readiness check is exit 2
            return 2
        if self.non_fixable:
            return 7
        if strict and self.failed:
            return 2
        return 0

    def summary(self) -> str:
        return (
            f"doctor: status={self.status} checks={len(self.checks)} failed={len(self.failed)} "
            f"warned={len(self.warned)} non_fixable={str(self.non_fixable).lower()} "
            f"mode={self.mode}"
        )

    def fix_commands(self) -> list[str]:
        return sorted({c.fix for c in self.checks if c.fix and c.status != PASS})

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_id": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "producer_version": __version__,
            "ok": not self.failed,
            "status": self.status,
            "mode": self.mode,
            "non_fixable": self.non_fixable,
            "summary": self.summary(),
            "fix_commands": self.fix_commands(),
            "checks": [c.to_json() for c in self.checks],
        }


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


def _pip(requirement: str) -> str:
    return f"{_q(sys.executable)} -m pip install {_q(requirement)}"


def check_python(version: tuple[int, ...] | None = None) -> Check:
    found = tuple(version or sys.version_info[:3])
    text = ".".join(str(p) for p in found)
    floor = ".".join(str(p) for p in MIN_PYTHON)
    if found[:2] < MIN_PYTHON:
        return Check(
            "python_version",
            FAIL,
            f"Python {text} is older than {floor}; gait needs {floor}+",
            non_fixable=True,
        )
    return Check("python_version", PASS, f"Python {text} ({sys.implementation.name})")


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown version"


def check_dependency(dist: str, module: str, floor: str) -> Check:
    """Import it for real: an installed but broken package (a missing native library) counts."""
    check_id = f"dependency.{dist}"
    try:
        importlib.import_module(module)
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Check(
            check_id,
            FAIL,
            f"{dist} cannot be imported ({reason}); gait needs {dist}{floor}",
            fix=_pip(f"{dist}{floor}"),
            non_fixable=True,
        )
    return Check(check_id, PASS, f"{dist} {_dist_version(dist)}")


def check_optional(dist: str, module: str, extra: str, purpose: str) -> Check:
    check_id = f"optional.{dist}"
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return Check(check_id, PASS, f"{dist} {_dist_version(dist)} (optional: {purpose})")
    return Check(
        check_id,
        PASS,
        f"{dist} not installed (optional: {purpose}; pip install 'pytest-gait[{extra}]')",
    )


def _version_key(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_integration(
    extra: str, dist: str, module: str, low: str, high: str, provides: str
) -> Check:
    """Installed and in the supported version range: then ``provides`` works."""
    check_id = f"integration.{extra}"
    wanted = f"{dist}>={low}" + (f",<{high}" if high else "")
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return Check(
            check_id,
            PASS,
            f"{dist} not installed (optional: {provides}; pip install 'pytest-gait[{extra}]')",
        )
    version = _dist_version(dist)
    key = _version_key(version)
    if not key or key < _version_key(low) or (high and key >= _version_key(high)):
        return Check(
            check_id,
            WARN,
            f"{dist} {version} is installed but {provides} needs {wanted}",
            fix=_pip(wanted),
        )
    return Check(check_id, PASS, f"{dist} {version}: {provides} usable")


def check_otel_export() -> Check:
    """What ``gait export --to otel`` needs: the SDK and the exporter for the OTLP protocol the
    environment selects (an SDK without an exporter used to pass here and fail at export)."""
    import os

    check_id = "otel_export"
    proto = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    exporters = {
        "http/protobuf": (
            "opentelemetry-exporter-otlp-proto-http",
            "opentelemetry.exporter.otlp.proto.http.trace_exporter",
            "otel",
        ),
        "grpc": (
            "opentelemetry-exporter-otlp-proto-grpc",
            "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
            "otel-grpc",
        ),
    }

    def present(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    if proto not in exporters:
        return Check(
            check_id,
            WARN,
            f"OTEL_EXPORTER_OTLP_PROTOCOL={proto} is not supported by gait export --to otel",
            fix="export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        )
    dist, module, extra = exporters[proto]
    sdk = present("opentelemetry.sdk")
    exporter = present(module)
    if sdk and exporter:
        return Check(check_id, PASS, f"gait export --to otel ready ({proto} via {dist})")
    if not sdk and not exporter:
        return Check(
            check_id,
            PASS,
            f"gait export --to otel not installed (optional; pip install 'pytest-gait[{extra}]')",
        )
    missing = dist if sdk else "opentelemetry-sdk"
    return Check(
        check_id,
        WARN,
        f"gait export --to otel ({proto}) needs {missing}",
        fix=_pip(f"pytest-gait[{extra}]"),
    )


def check_pytest_plugin() -> Check:
    """``pytest --gait`` only works when the pytest11 entry point is registered."""
    found = [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "gait"]
    if not found:
        return Check(
            "pytest_plugin",
            FAIL,
            "the gait pytest plugin is not registered (no pytest11 entry point 'gait'); "
            "pip install --force-reinstall pytest-gait so that its entry points are written",
            non_fixable=True,
        )
    return Check("pytest_plugin", PASS, f"pytest plugin registered: {found[0].value}")


def check_cli_on_path() -> Check:
    """The README and every next-command line say ``gait ...``: it must resolve."""
    found = shutil.which("gait")
    if found is None:
        return Check(
            "cli_on_path",
            WARN,
            f"the gait command is not on PATH; run it as {_q(sys.executable)} -m gait, or add "
            "the scripts directory of this Python to PATH",
        )
    return Check("cli_on_path", PASS, f"gait command on PATH: {found}")


def _probe_write(directory: Path) -> str:
    """'' when a file can be created in ``directory``, else why not (written as every Gait
    writer writes, so a probe a kill interrupts is cleaned by the next one)."""
    from gait.fsutil import stage

    try:
        probe = stage(directory / ".gait-doctor-probe", b"", sync=False)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    with contextlib.suppress(OSError):
        probe.unlink()
    return ""


def _creatable(path: Path) -> str:
    """'' when ``path`` (missing) can be made by ``mkdir -p``, else why not."""
    parent = path
    while not parent.exists():
        if parent.parent == parent:
            return "no existing parent directory"
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a directory"
    problem = _probe_write(parent)
    return f"{parent} is not writable ({problem})" if problem else ""


def check_directory(check_id: str, path: Path, what: str, fix_env: str = "") -> Check:
    default = Path.home() / ".gait"
    alt = f'export {fix_env}="$HOME/.gait"' if fix_env and path != default else ""
    if path.exists() and not path.is_dir():
        return Check(check_id, FAIL, f"{what} {path} is a file, not a directory", fix=alt)
    if not path.exists():
        problem = _creatable(path)
        if problem:
            return Check(check_id, FAIL, f"{what} {path} cannot be created: {problem}", fix=alt)
        return Check(
            check_id, PASS, f"{what} {path} does not exist yet; it is created on first use"
        )
    problem = _probe_write(path)
    if problem:
        return Check(check_id, FAIL, f"{what} {path} is not writable ({problem})", fix=alt)
    return Check(check_id, PASS, f"{what} {path} is writable")


def check_gait_home() -> Check:
    from gait.fsutil import gait_home

    home = gait_home()
    loose = _loose_permissions(home)
    if loose:
        return Check(
            "gait_home",
            FAIL,
            f"{loose}: others can plant keys or trust entries there",
            fix=f"chmod 700 {_q(str(home))} {_q(str(home / 'keys'))}",
        )
    return check_directory("gait_home", home, "GAIT_HOME", fix_env="GAIT_HOME")


def _loose_permissions(home: Path) -> str:
    """What about GAIT_HOME lets another user change what gait trusts ("" if nothing)."""
    import stat

    for folder in (home, home / "keys"):
        try:
            info = os.lstat(folder)
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode) and folder != home:
            return f"{folder} is a symlink"
        if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o022:
            return f"{folder} is group/world-writable (mode {stat.S_IMODE(info.st_mode):o})"
    for name in ("dev_private.key", "dev_public.key"):
        key = home / "keys" / name
        if key.is_symlink():
            return f"{key} is a symlink (gait never follows one for a key)"
    return ""


def check_output_dir(path: Path) -> Check:
    return check_directory("output_dir", path, "output directory")


def check_trust_store() -> Check:
    from gait.errors import GaitError
    from gait.sign.keyring import keyring_path, load_keyring

    path = keyring_path()
    try:
        ring = load_keyring()
    except GaitError as exc:
        return Check(
            "trust_store",
            FAIL,
            f"{exc.code}: {exc.message}; move it aside to inspect it (gait keeps no backup), "
            "then re-trust your keys with gait keys trust",
        )
    if not path.exists():
        return Check("trust_store", PASS, f"trust store {path} not created yet (no keys trusted)")
    trusted = [e for e in ring.entries if e.trusted]
    prod = sum(1 for e in trusted if e.mode == "prod")
    return Check(
        "trust_store",
        PASS,
        f"trust store {path} readable: {len(trusted)} trusted keys ({prod} prod, "
        f"{len(trusted) - prod} dev)",
    )


def check_signing_keys(mode: str) -> Check:
    from gait.errors import GaitError
    from gait.sign.keyring import dev_key_paths, load_keyring

    private, _ = dev_key_paths()
    if mode == "dev":
        if private.exists():
            from gait.sign.keys import SigningKey

            try:
                key = SigningKey.from_text(private.read_text(encoding="utf-8"))
            except (GaitError, OSError, UnicodeDecodeError) as exc:
                return Check(
                    "signing_keys",
                    FAIL,
                    f"dev key {private} is unreadable or corrupt ({exc}); move it aside and a "
                    "new one is made on first use",
                )
            return Check(
                "signing_keys", PASS, f"dev mode: dev key {key.key_id[:16]} in {private.parent}"
            )
        return Check(
            "signing_keys",
            PASS,
            "dev mode: no dev key yet; one is made on first signing "
            "(or run: gait keys init --key-mode dev)",
        )
    try:
        ring = load_keyring()
    except GaitError:
        return Check("signing_keys", FAIL, "prod mode: trust store unreadable (see trust_store)")
    prod = [e for e in ring.entries if e.trusted and e.mode == "prod" and e.status == "active"]
    if not prod:
        return Check(
            "signing_keys",
            FAIL,
            "prod mode: no active production key in the trust store; signing commands need "
            "--private-key or --private-key-env",
            fix="gait keys init --key-mode prod --out ./gait-keys",
        )
    return Check(
        "signing_keys",
        PASS,
        f"prod mode: {len(prod)} active production key(s) trusted; pass --private-key to sign",
    )


def check_dev_keys_in_prod(mode: str) -> Check:
    """Production mode must not trust keys the keyring knows as dev keys."""
    if mode != "prod":
        return Check("dev_keys_in_prod", PASS, "not in production mode")
    from gait.errors import GaitError
    from gait.sign.keyring import load_keyring

    try:
        ring = load_keyring()
    except GaitError:
        return Check("dev_keys_in_prod", WARN, "not checked: trust store unreadable")
    dev = sorted(e.key_id for e in ring.entries if e.trusted and e.mode == "dev")
    if dev:
        shown = ", ".join(k[:16] for k in dev)
        return Check(
            "dev_keys_in_prod",
            FAIL,
            f"production mode trusts {len(dev)} dev key(s): {shown}; artifacts signed by "
            "them would pass as trusted",
            fix=" && ".join(f"gait keys untrust {k}" for k in dev),
        )
    return Check("dev_keys_in_prod", PASS, "production mode trusts no dev keys")


def check_clock(now: Callable[[], float]) -> Check:
    """Expiry of approval tokens and trace times depend on it; the message names no time."""
    current = now()
    if current < CLOCK_FLOOR[0]:
        return Check(
            "clock",
            FAIL,
            f"system clock is before {CLOCK_FLOOR[1]}; approval expiry and timestamps would be "
            "wrong: set the clock (NTP)",
        )
    if current >= CLOCK_CEILING[0]:
        return Check("clock", FAIL, f"system clock is after {CLOCK_CEILING[1]}; set the clock")
    return Check(
        "clock",
        PASS,
        f"system clock is plausible (between {CLOCK_FLOOR[1]} and "
        f"{CLOCK_CEILING[1]}, UTC used for artifacts)",
    )


def check_schemas() -> Check:
    import json

    from gait import schema

    try:
        directory = schema._schema_dir()
        ids = set(schema.schema_ids())
    except (OSError, ValueError, RuntimeError) as exc:
        return Check("schemas", FAIL, f"schemas unreadable: {exc}", non_fixable=True)
    missing = [s for s in REQUIRED_SCHEMAS if s not in ids]
    if missing:
        return Check(
            "schemas",
            FAIL,
            f"{len(missing)} schema(s) missing from {directory}: {', '.join(missing[:6])}"
            + (" ..." if len(missing) > 6 else "")
            + "; the installation is incomplete: pip install --force-reinstall pytest-gait",
            non_fixable=True,
        )
    broken = []
    for schema_id in REQUIRED_SCHEMAS:
        try:
            json.loads(schema.schema_path(schema_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            broken.append(schema_id)
    if broken:
        return Check(
            "schemas",
            FAIL,
            f"schema file(s) unreadable or not JSON: {', '.join(broken)}; "
            "pip install --force-reinstall pytest-gait",
            non_fixable=True,
        )
    return Check("schemas", PASS, f"{len(ids)} schemas present ({len(REQUIRED_SCHEMAS)} required)")


def check_disk_space(paths: Sequence[Path], min_free_mb: int) -> Check:
    """Runpacks and fixtures land in the output directory and GAIT_HOME: both need room."""
    short = []
    for path in paths:
        probe = path
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if not probe.is_dir():
            continue
        try:
            free = shutil.disk_usage(probe).free
        except OSError:
            continue
        if free < min_free_mb * 1024 * 1024:
            short.append(str(path))
    if short:
        return Check(
            "disk_space",
            FAIL,
            f"less than {min_free_mb} MiB free for: {', '.join(short)}; free space or point "
            "GAIT_HOME / the output directory elsewhere",
        )
    return Check("disk_space", PASS, f"at least {min_free_mb} MiB free for outputs")


def _guarded(check_id: str, fn: Callable[[], Check]) -> Check:
    """A check that crashes is a finding, not a crash of doctor."""
    try:
        return fn()
    except ImportError as exc:
        return Check(check_id, WARN, f"not checked: a dependency is missing ({exc})")
    except Exception as exc:  # noqa: BLE001 - doctor reports, it never dies
        return Check(check_id, FAIL, f"check crashed: {type(exc).__name__}: {exc}")


def run_doctor(options: Options | None = None) -> Report:
    opts = options or Options()
    from gait.fsutil import gait_home

    home = gait_home()
    plan: list[tuple[str, Callable[[], Check]]] = [("python_version", check_python)]
    plan += [
        (f"dependency.{dist}", partial(check_dependency, dist, mod, floor))
        for dist, mod, floor in opts.required
    ]
    plan += [
        (f"optional.{dist}", partial(check_optional, dist, mod, extra, purpose))
        for dist, mod, extra, purpose in opts.optional
    ]
    plan += [(f"integration.{spec[0]}", partial(check_integration, *spec)) for spec in INTEGRATIONS]
    plan += [
        ("otel_export", check_otel_export),
        ("pytest_plugin", check_pytest_plugin),
        ("cli_on_path", check_cli_on_path),
        ("schemas", check_schemas),
        ("gait_home", check_gait_home),
        ("output_dir", lambda: check_output_dir(opts.output_dir)),
        ("trust_store", check_trust_store),
        ("signing_keys", lambda: check_signing_keys(opts.mode)),
        ("dev_keys_in_prod", lambda: check_dev_keys_in_prod(opts.mode)),
        ("clock", lambda: check_clock(opts.now)),
        ("disk_space", lambda: check_disk_space([opts.output_dir, home], opts.min_free_mb)),
    ]
    checks = [_guarded(check_id, fn) for check_id, fn in plan]
    if opts.production_readiness:
        checks += production_checks(opts.workdir)
    return Report(checks, opts.mode)


def production_checks(workdir: Path) -> list[Check]:
    """``--production-readiness``: the reference's checks of ``.gait/config.yaml`` (present
    and valid, ``gate.profile: oss-prod``, ``gate.key_mode: prod``, retention TTLs, the
    ``mcp_serve`` boundary, a policy for strict context enforcement)."""
    from gait.errors import GaitError
    from gait.projectconfig import DEFAULT_PATH, load

    path = workdir / DEFAULT_PATH
    where = _q(DEFAULT_PATH)
    try:
        config = load(str(path), allow_missing=True)
    except GaitError as exc:
        return [
            Check(
                "production_readiness_config",
                FAIL,
                f"failed to parse {DEFAULT_PATH}: {exc.message}",
                fix=f"edit {where} and fix it (gait gate eval --config {where} names the key)",
            )
        ]
    checks: list[Check] = []
    if config.present:
        checks.append(Check("production_readiness_config", PASS, f"{DEFAULT_PATH} present"))
    else:
        checks.append(
            Check(
                "production_readiness_config",
                FAIL,
                f"missing {DEFAULT_PATH}",
                fix="mkdir -p .gait && printf 'gate:\\n  policy: .gait.yaml\\n' > " + where,
            )
        )
    for name, key, want in (
        ("production_profile", "profile", "oss-prod"),
        ("production_key_mode", "key_mode", "prod"),
    ):
        if config.gate.get(key, "").lower() == want:
            checks.append(Check(name, PASS, f"gate.{key} is {want}"))
        else:
            checks.append(
                Check(
                    name,
                    FAIL,
                    f"gate.{key} must be {want} for production readiness: "
                    f"set gate.{key}={want} in {where}",
                )
            )
    checks.append(_retention_check(config, where))
    checks.append(_service_check(config, where))
    checks.append(_context_check(config, where))
    return checks


def _retention_check(config: Any, where: str) -> Check:
    ttls = {
        key: str(config.retention.get(key) or "").strip()
        for key in ("trace_ttl", "session_ttl", "export_ttl")
    }
    if not all(ttls.values()):
        return Check(
            "production_retention",
            FAIL,
            f"retention.trace_ttl, retention.session_ttl, and retention.export_ttl are required: "
            f"set retention trace/session/export TTLs in {where}",
        )
    from gait.gocompat import parse_duration

    for key, value in ttls.items():
        try:
            parse_duration(value)
        except ValueError as exc:  # the reference's message: Go's time.ParseDuration error
            return Check("production_retention", FAIL, f"invalid retention.{key}: {exc}")
    return Check("production_retention", PASS, "retention TTLs are configured")


def _loopback(listen: str) -> bool:
    """Whether ``host:port`` listens on loopback only; ValueError for a malformed address."""
    import ipaddress

    text = listen.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"invalid listen address: {listen}")
    else:
        host, sep, _ = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"invalid listen address: {listen}")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _service_check(config: Any, where: str) -> Check:
    serve = config.mcp_serve
    name = "production_service_boundary"
    listen = serve.get("listen", "")
    if not serve.get("enabled", False) and not listen:
        return Check(name, PASS, "mcp_serve not configured")
    try:
        loopback = _loopback(listen or "127.0.0.1:8787")
    except ValueError as exc:
        return Check(name, FAIL, f"invalid mcp_serve.listen: {exc}")
    auth = serve.get("auth_mode", "")
    if not loopback and auth != "token":
        return Check(
            name,
            FAIL,
            f"non-loopback mcp_serve.listen requires mcp_serve.auth_mode=token: "
            f"set mcp_serve.auth_mode=token in {where}",
        )
    if auth == "token" and not serve.get("auth_token_env", ""):
        return Check(
            name,
            FAIL,
            f"mcp_serve.auth_mode=token requires mcp_serve.auth_token_env: "
            f"set mcp_serve.auth_token_env in {where}",
        )
    if serve.get("allow_client_artifact_paths", False):
        return Check(
            name,
            FAIL,
            f"mcp_serve.allow_client_artifact_paths must be false in production: "
            f"set mcp_serve.allow_client_artifact_paths=false in {where}",
        )
    size = serve.get("max_request_bytes", 0)
    if size <= 0 or size > 4 << 20:
        return Check(
            name,
            FAIL,
            f"mcp_serve.max_request_bytes must be >0 and <=4194304: "
            f"set mcp_serve.max_request_bytes=1048576 in {where}",
        )
    if serve.get("http_verdict_status", "") != "strict":
        return Check(
            name,
            FAIL,
            f"mcp_serve.http_verdict_status must be strict in production: "
            f"set mcp_serve.http_verdict_status=strict in {where}",
        )
    return Check(name, PASS, "service boundary hardening settings are configured")


def _context_check(config: Any, where: str) -> Check:
    name = "production_context_strictness"
    if config.gate.get("profile", "").lower() != "oss-prod":
        return Check(name, FAIL, "strict context enforcement requires gate.profile=oss-prod")
    if not config.gate.get("policy", ""):
        return Check(
            name,
            FAIL,
            f"gate.policy must be set for strict context enforcement: set gate.policy in {where}",
        )
    return Check(name, PASS, "strict context profile is configured")
