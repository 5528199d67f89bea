"""Change-freeze windows on a rule (issue 15, item 6): ``freeze_window``.

While the evaluation time falls inside one of the rule's windows (wall-clock times in the
rule's IANA timezone), a matched intent for the listed environments and risk classes is blocked
or sent for approval. An unknown timezone or a malformed window fails closed (block).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from gait import timefmt

EFFECTS = frozenset({"block", "require_approval"})
_LAYOUT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def compile_rule(raw: dict[str, Any], payload: dict[str, Any], name: str) -> Any:
    from gait.gate.policy_keys import err, norm

    cfg = raw.get("freeze_window") or {}
    timezone = (cfg.get("timezone") or "").strip()
    effect = (cfg.get("effect") or "").strip().lower()
    reason = (cfg.get("reason") or "").strip()
    environments = norm(cfg.get("environments"), lower=True)
    risk_classes = norm(cfg.get("risk_classes"), lower=True)
    windows_raw = cfg.get("windows") or []
    configured = (
        cfg.get("enabled")
        or timezone
        or effect
        or reason
        or environments
        or risk_classes
        or windows_raw
    )
    if not configured:
        return None
    if not timezone:
        raise err(f"freeze_window.timezone is required for {name}")
    effect = effect or "block"
    if effect not in EFFECTS:
        raise err(f"unsupported freeze_window.effect {effect!r} for {name}")
    if not windows_raw:
        raise err(f"freeze_window.windows is required for {name}")
    windows = []
    for index, window in enumerate(windows_raw):
        window = window or {}
        wname = (window.get("name") or "").strip() or f"window-{index + 1}"
        start = (window.get("start") or "").strip()
        end = (window.get("end") or "").strip()
        if not start or not end:
            raise err(f"freeze_window window start and end are required for {name}")
        windows.append((wname, start, end))
    payload["FreezeWindow"] = {
        "Enabled": True,
        "Timezone": timezone,
        "Effect": effect,
        "Reason": reason,
        "Environments": environments,
        "RiskClasses": risk_classes,
        "Windows": [{"Name": n, "Start": s, "End": e} for n, s, e in windows],
    }
    env_set, risk_set = frozenset(environments), frozenset(risk_classes)

    def constraint(intent: Any, now: Any) -> Any:
        # The decision record is reported whether or not a window is active (as the
        # reference's trace ``freeze_window``): status, effect, timezone, evaluation time.
        moment = now()
        record = _record("inactive", effect, timezone, moment)
        ctx = intent.context
        if env_set and ctx.get("environment", "").strip().lower() not in env_set:
            return _quiet(record)
        if risk_set and intent.risk_class not in risk_set:
            return _quiet(record)
        zone = _zone(timezone)
        if zone is None:
            record.update(
                status="invalid",
                reason="freeze window timezone could not be loaded",
                reason_code="freeze_window_invalid_timezone",
            )
            return _fail("freeze_window_invalid_timezone", record)
        for wname, start, end in windows:
            lo, hi = _local(start, zone), _local(end, zone)
            if lo is None or hi is None or not hi > lo:
                record.update(
                    status="invalid",
                    window_name=wname,
                    reason="freeze window has an invalid range",
                    reason_code="freeze_window_invalid_window",
                )
                return _fail("freeze_window_invalid_window", record)
            if lo <= moment < hi:
                code = (
                    "freeze_window_active_require_approval"
                    if effect == "require_approval"
                    else "freeze_window_active_block"
                )
                record.update(
                    status="active",
                    window_name=wname,
                    window_start=timefmt.from_datetime(lo),
                    window_end=timefmt.from_datetime(hi),
                    reason=reason or wname,
                    reason_code=code,
                )
                return effect, {code}, {code}, "", ("freeze_window", _ordered(record))
        return _quiet(record)

    return constraint


# The reference's record: its time fields are always written (the zero time when unset),
# its strings only when set; keys in its order.
_RECORD_KEYS = (
    "status",
    "effect",
    "timezone",
    "evaluated_at",
    "window_name",
    "window_start",
    "window_end",
    "reason",
    "reason_code",
)


def _record(status: str, effect: str, timezone: str, moment: datetime) -> dict[str, Any]:
    return {
        "status": status,
        "effect": effect,
        "timezone": timezone,
        "evaluated_at": timefmt.from_datetime(moment),
        "window_start": timefmt.ZERO_TIME,
        "window_end": timefmt.ZERO_TIME,
    }


def _ordered(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in _RECORD_KEYS if record.get(k)}


def _quiet(record: dict[str, Any]) -> tuple[str, set[str], set[str], str, Any]:
    return "", set(), set(), "", ("freeze_window", _ordered(record))


def _fail(code: str, record: dict[str, Any]) -> tuple[str, set[str], set[str], str, Any]:
    return "block", {code}, {code}, "", ("freeze_window", _ordered(record))


_FREEZE_RANK = {"invalid": 3, "active": 2, "inactive": 1}
_EFFECT_RANK = {"block": 2, "require_approval": 1}


def pick(current: dict[str, Any] | None, candidate: dict[str, Any] | None) -> Any:
    """Of two rules' (or steps') freeze-window records, the one the reference reports: the
    higher status (invalid, active, inactive), then the stronger effect, then the window name
    first in order."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    a = _FREEZE_RANK.get(current.get("status", ""), 0)
    b = _FREEZE_RANK.get(candidate.get("status", ""), 0)
    if a != b:
        return candidate if b > a else current
    a = _EFFECT_RANK.get(current.get("effect", ""), 0)
    b = _EFFECT_RANK.get(candidate.get("effect", ""), 0)
    if a != b:
        return candidate if b > a else current
    if candidate.get("window_name", "").strip() < current.get("window_name", "").strip():
        return candidate
    return current


def _zone(name: str) -> Any:
    if name == "UTC":
        from datetime import UTC

        return UTC
    # zoneinfo (and the sysconfig it reads) only for a policy that names a timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(text: str, zone: Any) -> datetime | None:
    if not _LAYOUT.match(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        return None
