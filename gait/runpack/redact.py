"""Redaction of tool payloads before anything is written (raw capture's safety net).

Rules are strings so that a CLI flag, a config file and the SDK say the same thing:

``drop:$.args.password``        remove the value at a JSON path (``*``, ``[*]``, ``..key`` allowed)
``mask:$.result.items[*].ssn``  replace it with ``[REDACTED]``
``mask-regex:sk-[A-Za-z0-9]+``  replace every match inside any string value
``drop-regex:^Bearer ``         remove any string value that matches

Paths are rooted at the call: ``$.args...`` for a tool's arguments, ``$.result...`` for its
result. The report says which rule matched where and how often, never the values, so it can be
shared as freely as a reference-capture runpack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gait.errors import InvalidInput

MASK = "[REDACTED]"
ACTIONS = ("drop", "mask", "mask-regex", "drop-regex")
MAX_REPORTED_PATHS = 200
_CODE = "E_REDACTION_RULE_INVALID"
_TOKEN = re.compile(r"\.\.([A-Za-z0-9_\-]+|\*)|\.([A-Za-z0-9_\-]+|\*)|\[(\d+|\*)\]|\['([^']*)'\]")

Hook = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Rule:
    action: str
    pattern: str
    steps: tuple[tuple[str, str], ...] = ()
    regex: re.Pattern[str] | None = None

    @property
    def text(self) -> str:
        return f"{self.action}:{self.pattern}"


def _parse_path(path: str, text: str) -> tuple[tuple[str, str], ...]:
    if not path.startswith("$"):
        raise InvalidInput(f"redaction rule {text!r}: path must start with $", code=_CODE)
    rest, pos, steps = path[1:], 0, []
    while pos < len(rest):
        match = _TOKEN.match(rest, pos)
        if not match:
            raise InvalidInput(
                f"redaction rule {text!r}: cannot parse path at {rest[pos:]!r}",
                code=_CODE,
                hint="use $.args.key, $.result.l[0], $.args.l[*].key, $..key or $.args['a b']",
            )
        deep, key, index, quoted = match.groups()
        if deep is not None:
            steps.append(("deep", deep))
        elif key is not None:
            steps.append(("key", key))
        elif index is not None:
            steps.append(("index", index))
        else:
            steps.append(("key", quoted))
        pos = match.end()
    if not steps:
        raise InvalidInput(f"redaction rule {text!r}: the whole call cannot be dropped", code=_CODE)
    return tuple(steps)


def parse_rule(text: str | Rule) -> Rule:
    """One rule from its text form; a rule that does not parse is exit 6, never ignored."""
    if isinstance(text, Rule):
        return text
    if not isinstance(text, str) or ":" not in text:
        raise InvalidInput(
            f"redaction rule {text!r} must look like ACTION:PATTERN "
            f"(actions: {', '.join(ACTIONS)})",
            code=_CODE,
        )
    action, pattern = text.split(":", 1)
    action = action.strip().lower()
    if action not in ACTIONS:
        raise InvalidInput(
            f"redaction rule {text!r}: unknown action {action!r} (use {', '.join(ACTIONS)})",
            code=_CODE,
        )
    if not pattern:
        raise InvalidInput(f"redaction rule {text!r} has an empty pattern", code=_CODE)
    if action.endswith("regex"):
        try:
            return Rule(action, pattern, regex=re.compile(pattern))
        except re.error as exc:
            raise InvalidInput(f"redaction rule {text!r}: bad regex: {exc}", code=_CODE) from exc
    return Rule(action, pattern, steps=_parse_path(pattern.strip(), text))


def parse_rules(texts: Iterable[str | Rule] | None) -> list[Rule]:
    return [parse_rule(t) for t in (texts or [])]


@dataclass
class Report:
    """What redaction removed: rule texts, counts and paths, never values."""

    counts: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    hooks_applied: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def note(self, rule: str, where: str) -> None:
        self.counts[rule] = self.counts.get(rule, 0) + 1
        if len(self.paths) < MAX_REPORTED_PATHS:
            self.paths.append(where)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "redactions_total": self.total,
            "rules": [{"rule": r, "matches": n} for r, n in sorted(self.counts.items())],
            "paths": list(self.paths),
        }
        if self.total > len(self.paths):
            out["paths_truncated"] = True
        if self.hooks_applied:
            out["hooks_applied"] = self.hooks_applied
        return out


class Redactor:
    """Applies rules (and optional callables) to one call's payloads at a time."""

    def __init__(self, rules: Iterable[str | Rule] | None = None, hooks: Iterable[Hook] = ()):
        self.rules = parse_rules(rules)
        self.hooks = list(hooks)
        self.report = Report()

    def __bool__(self) -> bool:
        return bool(self.rules or self.hooks)

    def apply(self, kind: str, payload: Any, where: str) -> Any:
        """``kind`` is ``args`` or ``result``; ``where`` names the call in the report."""
        if payload is None or not self:
            return payload
        doc = {kind: _copy(payload)}
        for rule in self.rules:
            if rule.regex is not None:
                doc = self._regex(rule, doc, "$", where)
            else:
                self._path(rule, doc, list(rule.steps), "$", where)
        value = doc.get(kind)
        for hook in self.hooks:
            value = hook(kind, value)
            self.report.hooks_applied += 1
        return value

    def _path(self, rule: Rule, node: Any, steps: list[Any], at: str, where: str) -> None:
        if not steps:
            return
        (op, arg), rest = steps[0], steps[1:]
        if op == "deep":
            for key, child, path in _children(node, at):
                self._path(rule, child, steps, path, where)
                if arg in ("*", str(key)):
                    step = ("key" if isinstance(node, dict) else "index", str(key))
                    self._path(rule, node, [step, *rest], at, where)
            return
        targets = [
            (key, path)
            for key, _child, path in _children(node, at)
            if arg == "*" or str(key) == arg
        ]
        if op == "index" and not isinstance(node, list):
            return
        if op == "key" and not isinstance(node, dict):
            return
        for key, path in sorted(targets, key=lambda t: t[0], reverse=True):
            if key not in _keys(node):
                continue
            if rest:
                self._path(rule, node[key], rest, path, where)
                continue
            self.report.note(rule.text, f"{where}:{path}")
            if rule.action == "drop":
                del node[key]
            else:
                node[key] = MASK

    def _regex(self, rule: Rule, node: Any, at: str, where: str) -> Any:
        assert rule.regex is not None
        if isinstance(node, str):
            if rule.action == "drop-regex":
                return _DROP if rule.regex.search(node) else node
            new, count = rule.regex.subn(MASK, node)
            for _ in range(count):
                self.report.note(rule.text, f"{where}:{at}")
            return new
        if isinstance(node, dict):
            out = {}
            for key in node:
                path = _child_path(at, key)
                value = self._regex(rule, node[key], path, where)
                if value is _DROP:
                    self.report.note(rule.text, f"{where}:{path}")
                    continue
                out[key] = value
            return out
        if isinstance(node, list):
            out_list = []
            for i, item in enumerate(node):
                value = self._regex(rule, item, f"{at}[{i}]", where)
                if value is _DROP:
                    self.report.note(rule.text, f"{where}:{at}[{i}]")
                    continue
                out_list.append(value)
            return out_list
        return node


_DROP = object()


def redact_record_input(doc: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """A record input ``{run, intents, results, ...}`` with every ``args``/``result`` redacted.

    Redaction happens before digesting, so a digest the input gives for a payload that the
    rules changed is dropped (it would name, and so confirm, the unredacted value); the writer
    computes the digest of what is kept. Digests of payloads the rules left alone stay.
    """
    if not redactor:
        return doc
    out = dict(doc)
    for list_key, kind in (("intents", "args"), ("results", "result")):
        items = doc.get(list_key)
        if not isinstance(items, list):
            continue
        new_items = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get(kind) is not None:
                item = dict(item)
                where = str(item.get("intent_id") or f"{list_key}[{i}]")
                redacted = redactor.apply(kind, item[kind], where)
                if redacted != item[kind]:
                    item.pop(f"{kind}_digest", None)
                item[kind] = redacted
            new_items.append(item)
        out[list_key] = new_items
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _keys(node: Any) -> Any:
    if isinstance(node, dict):
        return node
    if isinstance(node, list):
        return range(len(node))
    return ()


def _child_path(at: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{at}[{key}]"
    return f"{at}.{key}" if re.fullmatch(r"[A-Za-z0-9_\-]+", key) else f"{at}['{key}']"


def _children(node: Any, at: str) -> list[tuple[Any, Any, str]]:
    if isinstance(node, dict):
        return [(k, node[k], _child_path(at, k)) for k in list(node)]
    if isinstance(node, list):
        return [(i, v, f"{at}[{i}]") for i, v in enumerate(node)]
    return []
