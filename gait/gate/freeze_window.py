"""Change-freeze windows on a rule (issue 15, item 6): ``freeze_window``.

While the evaluation time falls inside one of the rule's windows (wall-clock times in the
rule's IANA timezone), a matched intent for the listed environments and risk classes is blocked
or sent for approval. An unknown timezone or a malformed window fails closed (block).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

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
        ctx = intent.context
        if env_set and ctx.get("environment", "").strip().lower() not in env_set:
            return None
        if risk_set and intent.risk_class not in risk_set:
            return None
        zone = _zone(timezone)
        if zone is None:
            return _fail("freeze_window_invalid_timezone")
        moment = now()
        for _, start, end in windows:
            lo, hi = _local(start, zone), _local(end, zone)
            if lo is None or hi is None or not hi > lo:
                return _fail("freeze_window_invalid_window")
            if lo <= moment < hi:
                code = (
                    "freeze_window_active_require_approval"
                    if effect == "require_approval"
                    else "freeze_window_active_block"
                )
                return effect, {code}, {code}, ""
        return None

    return constraint


def _fail(code: str) -> tuple[str, set[str], set[str], str]:
    return "block", {code}, {code}, ""


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
