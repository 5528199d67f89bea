"""gait.cli.fastparse reads a command line without argparse only where argparse reads it the
same way: for every command, on generated command lines, its namespace (attributes, values,
order) equals argparse's whenever it answers, and argparse takes every line it leaves."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gait.cli import fastparse
from gait.cli.main import COMMANDS, SUBROUTES
from gait.cli.parser import ArgumentParser
from gait.errors import InvalidInput

ROUTES = [(name, module) for name, (module, _) in COMMANDS.items()] + [
    (command, module) for (command, _), module in SUBROUTES.items()
]


@cache
def _parsers(name: str, module_name: str) -> tuple[fastparse.Spec | None, ArgumentParser]:
    """Both parsers of one command, built as gait.cli.main builds them."""
    module = importlib.import_module(module_name)
    spec = fastparse.record(name, module.register)
    parser = ArgumentParser(prog="gait")
    sub = parser.add_subparsers(dest="command")
    module.register(sub.add_parser(name, help=COMMANDS[name][1], description=COMMANDS[name][1]))
    return spec, parser


def _leaves(spec: fastparse.Spec, words: tuple[str, ...]) -> list[tuple[tuple[str, ...], object]]:
    """(subcommand words, parser) of every parser at the end of a subcommand path."""
    if spec.subparsers is None:
        return [(words, spec)]
    found = []
    for word, child in spec.subparsers.choices.items():
        found += _leaves(child, (*words, word))
    return found


def test_the_plain_commands_are_read_without_argparse() -> None:
    """The command lines a process per tool call runs take the fast path (else this module
    would be dead weight nobody notices)."""
    for name, module, argv in [
        ("gate", "gait.cli.gate", ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json"]),
        ("policy", "gait.cli.policy", ["policy", "test", "p.yaml", "i.json", "--json"]),
        ("verify", "gait.cli.verify", ["verify", "run_demo", "--json"]),
    ]:
        spec, parser = _parsers(name, module)
        assert spec is not None, name
        fast = fastparse.parse(spec, argv)
        assert fast is not None, argv
        assert list(vars(fast).items()) == list(vars(parser.parse_args(argv)).items())


_ODD = st.sampled_from(
    ["", "-", "--", "-1", "-x", "--json", "--no-such-flag", "--jso", "-h", "a=b", "1.5", "x y"]
)
_TEXT = st.text(alphabet="ab1=,. /", min_size=1, max_size=6)


@st.composite
def _value(draw: st.DrawFn, action: object) -> str:
    """A value for ``action``: mostly one argparse accepts, sometimes not."""
    choices = getattr(action, "choices", None)
    if draw(st.integers(0, 9)) == 0:
        return draw(_ODD)
    if choices is not None:
        return str(draw(st.sampled_from(sorted(choices))))
    if getattr(action, "type", None) is int:
        return str(draw(st.integers(-3, 300)))
    if getattr(action, "type", None) is float:
        return str(draw(st.floats(0, 100, allow_nan=False)))
    return draw(_TEXT)


@st.composite
def _command_lines(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """A command line of one command's leaf parser: its positionals and some of its options
    with values, in any order, now and then damaged (a token dropped, added or abbreviated)."""
    name, module = draw(st.sampled_from(ROUTES))
    spec, _ = _parsers(name, module)
    if spec is None:
        return name, module, [name]
    words, leaf = draw(st.sampled_from(_leaves(spec.subparsers.choices[name], ())))
    actions = [e for e in leaf.entries if isinstance(e, fastparse._Action)]
    options = [a for a in actions if a.option_strings]
    chunks: list[list[str]] = []
    for action in actions:
        if not action.option_strings:
            chunks.append([draw(_value(action))])
    for action in draw(st.lists(st.sampled_from(options), max_size=6)) if options else []:
        flag = draw(st.sampled_from(action.option_strings))
        if action.kind in ("store", "append"):
            value = draw(_value(action))
            chunks.append([f"{flag}={value}"] if draw(st.booleans()) else [flag, value])
        else:
            chunks.append([flag])
    chunks = draw(st.permutations(chunks))
    tokens = [token for chunk in chunks for token in chunk]
    damage = draw(st.integers(0, 5))
    if damage == 0 and tokens:
        del tokens[draw(st.integers(0, len(tokens) - 1))]
    elif damage == 1:
        tokens.insert(draw(st.integers(0, len(tokens))), draw(_ODD))
    elif damage == 2 and tokens and tokens[-1].startswith("--") and len(tokens[-1]) > 4:
        tokens[-1] = tokens[-1][:-1]  # abbreviated
    return name, module, [*words, *tokens]


@settings(max_examples=300, deadline=None)
@given(_command_lines())
def test_fast_namespace_equals_argparse_namespace(line: tuple[str, str, list[str]]) -> None:
    name, module, rest = line
    spec, parser = _parsers(name, module)
    argv = [name, *rest]
    fast = fastparse.parse(spec, argv) if spec is not None else None
    if fast is None:
        return  # argparse reads it, as before
    try:
        expected = parser.parse_args(argv)
    except (InvalidInput, SystemExit) as exc:  # pragma: no cover - the failure being tested
        raise AssertionError(f"fastparse took {argv} that argparse refuses: {exc}") from exc
    assert list(vars(fast).items()) == list(vars(expected).items())


def test_errors_and_usage_stay_argparse_s(tmp_path: Path) -> None:
    """What fastparse leaves goes to argparse: the same E_USAGE errors and help as before."""
    env = {**os.environ, "GAIT_HOME": str(tmp_path / "home")}

    def gait(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gait", *argv], cwd=tmp_path, env=env, capture_output=True,
            text=True,
        )  # fmt: skip

    wrong = gait("gate", "eval", "--policy", "p.yaml", "--no-such-flag", "--json")
    assert wrong.returncode == 6
    out = json.loads(wrong.stdout)
    assert (
        out["error_code"] == "E_USAGE"
        and "unrecognized arguments: --no-such-flag" in (out["error"])
    )
    short = gait("gate", "eval", "--pol", "p.yaml", "--intent", "i.json", "--json")  # abbreviated
    assert json.loads(short.stdout)["error_code"] != "E_USAGE"  # argparse took --pol as --policy
    helped = gait("gate", "eval", "--help")
    assert helped.returncode == 0 and "--approval-token" in helped.stdout
