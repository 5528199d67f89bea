"""Argument constraints: ``match.args`` (an extension of this project, not in the reference).

A rule may require an argument, found by a small JSON path (``$.a.b``, ``$.a[0]``,
``$["a b"]``), to equal a value, be one of several, match a regular expression, lie between
bounds, have a given digest H(value), or exist. Each compiles once to a predicate over the
intent's args; its digest payload (``ArgConstraints`` in the Match struct) is omitted when a
rule has none, so reference policies digest alike.
"""

from __future__ import annotations

from gait.canon import digest
from gait.errors import InvalidInput
from gait.gate.policy_keys import err
from gait.plain import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class ArgConstraint(Frozen):
    """One argument constraint (an extension of this project): ``path`` plus one test."""

    __slots__ = _fields = ("path", "check", "payload")
    path: tuple[str | int, ...]
    check: Callable[[Any], bool]
    payload: dict[str, Any]

    def __init__(
        self, path: tuple[str | int, ...], check: Callable[[Any], bool], payload: dict[str, Any]
    ) -> None:
        _set = object.__setattr__
        _set(self, "path", path)
        _set(self, "check", check)
        _set(self, "payload", payload)


def _arg_path(text: str, where: str) -> tuple[str | int, ...]:
    path = text.strip()
    if not path.startswith("$"):
        raise err(f"{where}.path must be a JSON path starting with '$'")
    import re  # only a rule with match.args: a decision process does not import re for it

    parts: list[str | int] = []
    rest = path[1:]
    token = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")
    pos = 0
    while pos < len(rest):
        m = token.match(rest, pos)
        if not m:
            raise err(f"{where}.path {path!r} is not a supported JSON path ($.a.b, $.a[0])")
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            parts.append(m.group(3) if m.group(3) is not None else m.group(4))
        pos = m.end()
    if not parts:
        raise err(f"{where}.path must name an argument")
    return tuple(parts)


MISSING = object()


def compile_arg_constraint(raw: dict[str, Any], where: str) -> ArgConstraint:
    if not raw or not raw.get("path"):
        raise err(f"{where}.path is required")
    path = _arg_path(raw["path"], where)
    tests = [
        key
        for key in ("equals", "in", "regex", "min", "max", "digest", "exists")
        if raw.get(key) is not None
    ]
    if not tests:
        raise err(f"{where} needs one of equals, in, regex, min, max, digest, exists")
    if len(tests) > 1 and set(tests) - {"min", "max"}:
        raise err(f"{where}: use one test per constraint (min and max may pair)")
    payload: dict[str, Any] = {
        "Path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    }
    kind = tests[0]
    if kind == "equals":
        expected = raw["equals"]
        expected = expected.strip() if isinstance(expected, str) else expected
        payload["Equals"] = expected

        def check(value: Any) -> bool:
            return value is not MISSING and _json_equal(value, expected)
    elif kind == "in":
        options = [o.strip() if isinstance(o, str) else o for o in raw["in"]]
        if not options:
            raise err(f"{where}.in must not be empty")
        payload["In"] = options

        def check(value: Any) -> bool:
            return value is not MISSING and any(_json_equal(value, o) for o in options)
    elif kind == "regex":
        import re

        from gait.gate.linear_regex import UnsupportedPattern, compile_linear

        if not isinstance(raw["regex"], str):
            raise err(f"{where}.regex must be a string")
        try:
            regex = compile_linear(raw["regex"])
        except re.error as exc:
            raise err(f"{where}.regex is not a valid regular expression: {exc}") from exc
        except UnsupportedPattern as exc:
            # Matched without backtracking (an argument cannot make the gate hang), so what
            # needs backtracking is refused, as Go's RE2 (the reference's regexp) refuses it.
            raise err(
                f"{where}.regex uses {exc}, which a linear-time matcher (RE2, Go's regexp) "
                "cannot run: rewrite it without that construct"
            ) from exc
        payload["Regex"] = raw["regex"]

        def check(value: Any) -> bool:
            return isinstance(value, str) and regex.fullmatch(value)
    elif kind in ("min", "max"):
        low = raw.get("min")
        high = raw.get("max")
        if low is not None and high is not None and low > high:
            raise err(f"{where}: min is greater than max")
        if low is not None:
            payload["Min"] = low
        if high is not None:
            payload["Max"] = high

        def check(value: Any) -> bool:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return (low is None or value >= low) and (high is None or value <= high)
    elif kind == "digest":
        import re

        wanted = raw["digest"].strip().lower()
        if not re.fullmatch(r"[a-f0-9]{64}", wanted):
            raise err(f"{where}.digest must be 64 lowercase hex characters (H(value))")
        payload["Digest"] = wanted

        def check(value: Any) -> bool:
            if value is MISSING:
                return False
            try:
                return bool(digest(value) == wanted)
            except InvalidInput:
                return False
    else:
        present = bool(raw["exists"])
        payload["Exists"] = present

        def check(value: Any) -> bool:
            return (value is not MISSING) == present

    return ArgConstraint(path=path, check=check, payload=payload)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and bool(a == b)
    return bool(a == b)


def lookup_arg(args: Any, path: tuple[str | int, ...]) -> Any:
    value = args
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return MISSING
            value = value[part]
        else:
            if not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
    return value
