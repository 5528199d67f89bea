"""``gait policy fmt``: one canonical layout per policy, without changing its meaning.

Keys are written in the order FORMATS.md documents them, scalar lists in flow style, strings
quoted only when YAML would read them as something else. Values are kept as authored (not
normalised), so formatting never changes what a reviewer reads, and the digest is checked to
be unchanged before anything is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from gait.gate import policy_yaml
from gait.gate.policy import PolicyInvalid, compile_policy, parse_policy_text

_PLAIN = re.compile(r"^[A-Za-z0-9_./@$*+-][A-Za-z0-9_./@$*+:\- ]*$")
_RISKY_WORDS = frozenset({"yes", "no", "on", "off", "y", "n", "true", "false", "null", "~"})


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    plain = (
        _PLAIN.match(text) is not None
        and text == text.strip()
        and text.lower() not in _RISKY_WORDS
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
    )
    if plain:
        try:
            plain = yaml.safe_load(text) == text
        except yaml.YAMLError:
            plain = False
    return text if plain else json.dumps(text, ensure_ascii=False)


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


def _emit(value: dict[str, Any], spec: dict[str, Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key in spec:
        if key not in value or value[key] is None:
            continue
        item = value[key]
        sub = spec[key]
        if isinstance(item, dict):
            if not item:
                continue
            out.append(f"{pad}{key}:")
            _emit(item, sub if isinstance(sub, dict) else {k: None for k in item}, indent + 2, out)
        elif _is_scalar_list(item):
            out.append(f"{pad}{key}: [{', '.join(_scalar(v) for v in item)}]")
        elif isinstance(item, list):
            out.append(f"{pad}{key}:")
            element_spec = sub[1] if isinstance(sub, tuple) else {}
            for element in item:
                lines: list[str] = []
                if isinstance(element, dict):
                    _emit(element, element_spec or {k: None for k in element}, indent + 4, lines)
                    if lines:
                        lines[0] = f"{pad}  - " + lines[0][indent + 4 :]
                    else:
                        lines = [f"{pad}  - {{}}"]
                else:
                    lines = [f"{pad}  - {_scalar(element)}"]
                out.extend(lines)
        else:
            out.append(f"{pad}{key}: {_scalar(item)}")


def format_policy(text: bytes | str) -> tuple[bytes, str]:
    """(formatted YAML bytes, policy digest). Raises ``PolicyInvalid`` for a bad policy."""
    data = parse_policy_text(text)
    before = compile_policy(data).digest
    lines: list[str] = []
    _emit(data, policy_yaml._POLICY_SPEC, 0, lines)
    formatted = ("\n".join(lines) + "\n").encode("utf-8")
    after = compile_policy(parse_policy_text(formatted)).digest
    if after != before:
        raise PolicyInvalid(
            "policy fmt would change the policy digest; file left unchanged",
            code="E_POLICY_FMT",
        )
    return formatted, before
