"""The error-code registry (gait/error_codes.py) against the source and the docs.

Every ``E_*`` string in gait/, pytest_gait/ and graders/ must be registered (prefix-built codes
as a family), every registered code must be used and documented in docs/error-codes.md, and
where a code is raised with one of our exception classes, that class's exit code must be the
one the registry promises. The scan reads the source (AST), so a code added anywhere without a
registry entry fails here, not in a user's shell.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from gait.error_codes import CODES, FAMILIES, lookup
from gait.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("gait", "pytest_gait", "graders")
DOC = ROOT / "docs" / "error-codes.md"
REGISTRY = "gait/error_codes.py"
CODE_RE = re.compile(r"^E_[A-Z0-9_]+$")
# The compat client mirrors the reference's Python SDK, whose own GaitError is not ours.
FOREIGN_CLASS_FILES = {"gait/compat/client.py"}
# Helpers that build one of our exceptions from a ``code=`` argument.
HELPERS = {"loads_strict": "InvalidInput", "_journal_error": "VerificationFailed"}


def _py_files() -> list[Path]:
    return sorted(p for root in SCANNED for p in (ROOT / root).rglob("*.py"))


def _class_exits() -> dict[str, ExitCode]:
    """Exit code of every exception class in the tree, by class name (read from the AST)."""
    bases: dict[str, list[str]] = {}
    exits: dict[str, ExitCode] = {}
    for path in _py_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in FOREIGN_CLASS_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            names = [
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            ]
            bases[node.name] = names
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "exit_code" for t in stmt.targets)
                    and isinstance(stmt.value, ast.Attribute)
                ):
                    exits[node.name] = getattr(ExitCode, stmt.value.attr)
    resolved: dict[str, ExitCode] = {}

    def resolve(name: str, seen: frozenset[str] = frozenset()) -> ExitCode | None:
        if name in exits:
            return exits[name]
        if name in seen or name not in bases:
            return None
        for base in bases[name]:
            found = resolve(base, seen | {name})
            if found is not None:
                return found
        return None

    for name in bases:
        found = resolve(name)
        if found is not None:
            resolved[name] = found
    return resolved


class Scan:
    """Every E_* literal (and prefix literal) in the source, and the raise sites we can type."""

    def __init__(self) -> None:
        self.literals: dict[str, list[str]] = defaultdict(list)
        self.prefixes: dict[str, list[str]] = defaultdict(list)
        self.raised: dict[str, list[tuple[str, str, ExitCode]]] = defaultdict(list)
        class_exits = _class_exits()
        for path in _py_files():
            rel = path.relative_to(ROOT).as_posix()
            if rel == REGISTRY:
                continue  # the registry names every code; a use is anywhere else
            tree = ast.parse(path.read_text(encoding="utf-8"))
            consts = {
                t.id: node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                for t in node.targets
                if isinstance(t, ast.Name)
            }
            # Local helpers that build one of our exceptions (``def _bad() -> VerificationFailed``).
            helpers = dict(HELPERS)
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
                    returned = node.returns
                    name = getattr(returned, "id", "") or getattr(returned, "value", "")
                    if isinstance(name, str) and name in class_exits:
                        helpers[node.name] = name
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value
                    if not text.startswith("E_") or not re.fullmatch(r"E_[A-Z0-9_]*", text):
                        continue
                    where = f"{rel}:{node.lineno}"
                    # "E_X_" + name, f"E_X_{name}": a code built at run time from a prefix.
                    if text.endswith("_"):
                        self.prefixes[text].append(where)
                    else:
                        self.literals[text].append(where)
                if isinstance(node, ast.Call) and rel not in FOREIGN_CLASS_FILES:
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                    cls = helpers.get(name, name)
                    if cls not in class_exits:
                        continue
                    for kw in node.keywords:
                        if kw.arg != "code":
                            continue
                        value = kw.value
                        code = None
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            code = value.value
                        elif isinstance(value, ast.Name) and value.id in consts:
                            code = consts[value.id]
                        if code and CODE_RE.match(code):
                            where = f"{rel}:{node.lineno}"
                            self.raised[code].append((where, cls, class_exits[cls]))


SCAN = Scan()


def test_registry_is_well_formed():
    assert CODES, "the registry is empty"
    for code, entry in {**CODES, **FAMILIES}.items():
        assert code.startswith("E_"), code
        assert isinstance(entry.exit, ExitCode), code
        assert entry.category in {
            "invalid_input",
            "verification_failed",
            "policy_blocked",
            "approval_required",
            "dependency_missing",
            "io_failure",
            "state_contention",
            "network_transient",
            "network_permanent",
            "internal_failure",
        }, (code, entry.category)
        meaning = entry.meaning.strip()
        assert meaning and "\n" not in meaning, code
        # A meaning says what went wrong, not the name spelled out again.
        spelled = code.removeprefix("E_").replace("_", " ").lower().strip()
        assert meaning.lower().rstrip(".") != spelled, code
    for family in FAMILIES:
        assert family.endswith("_"), family
        assert not any(code.startswith(family) for code in CODES), family


def test_every_code_in_the_source_is_registered():
    missing = {code: sites[:3] for code, sites in SCAN.literals.items() if lookup(code) is None}
    assert not missing, f"E_* codes used but not in gait/error_codes.py: {missing}"


def test_every_prefix_built_code_is_a_registered_family():
    unknown = {p: sites for p, sites in SCAN.prefixes.items() if p not in FAMILIES}
    assert not unknown, f"codes built from a prefix need a FAMILIES entry: {unknown}"


def test_no_dead_registry_entries():
    dead = sorted(code for code in CODES if code not in SCAN.literals)
    dead += sorted(f for f in FAMILIES if f not in SCAN.prefixes)
    assert not dead, f"registered but never used (remove them or use them): {dead}"


def test_raise_sites_agree_with_the_registry():
    wrong = []
    for code, sites in sorted(SCAN.raised.items()):
        entry = lookup(code)
        if entry is None:
            continue  # reported by test_every_code_in_the_source_is_registered
        allowed = {entry.exit, *entry.also_exits}
        for where, cls, exit_code in sites:
            if exit_code not in allowed:
                wrong.append(
                    f"{where}: {code} raised as {cls} (exit {int(exit_code)}), "
                    f"registry says {int(entry.exit)}"
                )
    assert not wrong, "\n".join(wrong)


def test_multi_exit_codes_say_why():
    for code, entry in CODES.items():
        if entry.also_exits:
            assert entry.why_multi.strip(), f"{code} has several exit codes but no reason"


def test_every_registered_code_is_documented():
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(E_[A-Z0-9_]+(?:<[A-Z_]+>)?)` \|", text, re.M))
    want = set(CODES) | {f + "<" + entry.suffix_name + ">" for f, entry in FAMILIES.items()}
    assert not want - documented, f"not in docs/error-codes.md: {sorted(want - documented)}"
    assert not documented - want, f"documented but not registered: {sorted(documented - want)}"
    for row in re.findall(r"^\| `(E_[A-Z0-9_<>]+)` \| (\d+) \|", text, re.M):
        code, exit_text = row
        entry = FAMILIES.get(code.split("<")[0]) if "<" in code else lookup(code)
        assert entry is not None and int(entry.exit) == int(exit_text), row


def test_docs_table_is_generated_from_the_registry():
    """The doc's tables are the registry's rendering, so the two cannot drift."""
    from gait.error_codes import render_markdown_tables

    assert render_markdown_tables() in DOC.read_text(encoding="utf-8")


def test_error_codes_is_not_imported_by_the_cli_entry():
    """``gait --version`` stays fast: the registry loads only when something asks for it."""
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, gait.cli.main; print('gait.error_codes' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
