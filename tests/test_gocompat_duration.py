"""Go's ``time.ParseDuration`` / ``Duration.String``, reproduced once in gait.gocompat.

The table holds Go's own documented and tested results (including int64's edges); the policy
test shows ``mcp_trust.max_age`` is read through it (a malformed age is E_POLICY_PARSE).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gait.cli.main import main
from gait.gocompat import format_duration, parse_duration

HOUR = 3_600_000_000_000


@pytest.mark.parametrize(
    ("text", "nanos", "shown"),
    [
        ("0", 0, "0s"),
        ("+0", 0, "0s"),
        ("5s", 5_000_000_000, "5s"),
        ("30s", 30_000_000_000, "30s"),
        ("1478s", 1_478_000_000_000, "24m38s"),
        ("-5s", -5_000_000_000, "-5s"),
        ("+5s", 5_000_000_000, "5s"),
        ("5.6s", 5_600_000_000, "5.6s"),
        ("5.s", 5_000_000_000, "5s"),
        (".5s", 500_000_000, "500ms"),
        ("1.004s", 1_004_000_000, "1.004s"),
        ("100.00100s", 100_001_000_000, "1m40.001s"),
        ("10ns", 10, "10ns"),
        ("11us", 11_000, "11\u00b5s"),
        ("12\u00b5s", 12_000, "12\u00b5s"),
        ("12\u03bcs", 12_000, "12\u00b5s"),
        ("13ms", 13_000_000, "13ms"),
        ("15m", 15 * 60_000_000_000, "15m0s"),
        ("16h", 16 * HOUR, "16h0m0s"),
        ("-1.5h", -HOUR * 3 // 2, "-1h30m0s"),
        ("3h30m", 7 * HOUR // 2, "3h30m0s"),
        ("10.5s4m", 4 * 60_000_000_000 + 10_500_000_000, "4m10.5s"),
        ("1h2m3s4ms5us6ns", HOUR + 123_004_005_006, "1h2m3.004005006s"),
        ("39h9m14.425s", 140_954_425_000_000, "39h9m14.425s"),
        ("52763797000ns", 52_763_797_000, "52.763797s"),
        ("0.3333333333333333333h", 20 * 60_000_000_000, "20m0s"),
        ("9007199254740993ns", (1 << 53) + 1, "2501h59m59.254740993s"),
        ("9223372036854775807ns", (1 << 63) - 1, "2562047h47m16.854775807s"),
        ("9223372036854775.807us", (1 << 63) - 1, "2562047h47m16.854775807s"),
        ("9223372036s854ms775us807ns", (1 << 63) - 1, "2562047h47m16.854775807s"),
        ("-9223372036854775808ns", -(1 << 63), "-2562047h47m16.854775808s"),
        ("0.100000000000000000000h", 6 * 60_000_000_000, "6m0s"),
    ],
)
def test_go_results(text: str, nanos: int, shown: str) -> None:
    assert parse_duration(text) == nanos
    assert format_duration(nanos) == shown


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "invalid duration"),
        ("3", "missing unit"),
        ("-", "invalid duration"),
        ("s", "invalid duration"),
        (".", "invalid duration"),
        ("-.", "invalid duration"),
        (".s", "invalid duration"),
        ("+.s", "invalid duration"),
        ("1d", 'unknown unit "d"'),
        ("1h1", "missing unit"),
        ("\u0661s", "invalid duration"),  # an Arabic-Indic one: Go reads ASCII digits only
        ("9223372036854775808ns", "invalid duration"),
        ("9223372036854775.808us", "invalid duration"),
        ("9223372036854ms775us808ns", "invalid duration"),
    ],
)
def test_go_refusals(text: str, said: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert said in str(info.value) and str(info.value).startswith("time: ")


def test_mcp_trust_max_age_reads_go_durations(tmp_path: Path, capsys) -> None:
    def validate(max_age: str) -> tuple[int, dict]:
        policy = tmp_path / "p.yaml"
        policy.write_text(
            f"default_verdict: allow\nmcp_trust:\n  snapshot: s.json\n  max_age: {max_age}\n"
        )
        code = main(["policy", "validate", str(policy), "--json"])
        return code, json.loads(capsys.readouterr().out)

    assert validate("1h0.5s")[0] == 0
    assert validate('"90m"')[0] == 0
    for bad in ("1d", "1h1", '"-1h"', '"0"'):
        code, out = validate(bad)
        assert (code, out["error_code"]) == (6, "E_POLICY_PARSE"), (bad, out)
