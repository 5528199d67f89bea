"""``gait pack export``: a verified pack as OTEL-style JSON lines or a PostgreSQL index row.

Both outputs follow the reference's shapes (span ``gait.pack.verify``, one metadata event, six
metrics; an upsert into ``gait_pack_index``), so dashboards built on one work on the other.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.canon import digest, ecmascript_number, loads_strict, sha256_hex
from gait.errors import GaitError, InvalidInput
from gait.pack.spec import (
    EPOCH,
    MANIFEST_NAME,
    SOURCE_RUNPACK,
    inspect_pack,
    is_hex64,
    verify_pack,
)
from gait.pack.zipread import read_zip, read_zip_bytes

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLUMNS = (
    ("pack_id", "TEXT PRIMARY KEY"),
    ("pack_type", "TEXT NOT NULL"),
    ("source_ref", "TEXT NOT NULL"),
    ("manifest_digest", "TEXT NOT NULL"),
    ("files_checked", "INTEGER NOT NULL"),
    ("hash_mismatches", "INTEGER NOT NULL"),
    ("missing_files", "INTEGER NOT NULL"),
    ("undeclared_files", "INTEGER NOT NULL"),
    ("signature_status", "TEXT NOT NULL"),
    ("signatures_total", "INTEGER NOT NULL"),
    ("signatures_valid", "INTEGER NOT NULL"),
    ("tool_calls_total", "INTEGER NOT NULL"),
    ("tool_calls_success", "INTEGER NOT NULL"),
    ("tool_calls_success_rate", "DOUBLE PRECISION NOT NULL"),
    ("policy_blocked", "INTEGER NOT NULL"),
    ("approval_required", "INTEGER NOT NULL"),
    ("regress_failures", "INTEGER NOT NULL"),
    ("created_at", "TIMESTAMPTZ NOT NULL"),
)


def _verdict(result: Any) -> str:
    if not isinstance(result, dict):
        return ""
    raw = result.get("verdict")
    value = raw.strip().lower() if isinstance(raw, str) else ""
    if value in ("allow", "block", "require_approval"):
        return value
    if value in ("approval_required", "needs_approval", "needsapproval"):
        return "require_approval"
    return ""


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return int(value)
    return None


def _regress_failure(result: Any) -> bool:
    if not isinstance(result, dict) or not result:
        return False
    for key in ("regress_failures", "failed"):
        number = _as_int(result.get(key))
        if number is not None and number > 0:
            return True
    for key in ("regress_status", "status", "result_status"):
        value = result.get(key)
        if isinstance(value, str) and value.strip().lower() in ("fail", "failed", "regress_failed"):
            return True
    reasons = result.get("reason_codes")
    texts: list[object] = (
        [r for r in reasons if isinstance(r, str)] if isinstance(reasons, list) else []
    )
    texts += [result.get("reason"), result.get("failure_reason")]
    for text in texts:
        low = text.strip().lower() if isinstance(text, str) else ""
        if low and "regress" in low and ("fail" in low or "drift" in low):
            return True
    return False


def _metrics(path: Path, inspect: dict[str, Any]) -> dict[str, Any]:
    from gait.runpack.reader import runpack_from_members

    members = read_zip(path)
    pack = None
    if SOURCE_RUNPACK in members.data:
        pack = runpack_from_members(read_zip_bytes(members.data[SOURCE_RUNPACK], what="runpack"))
    elif "manifest.json" in members.data and MANIFEST_NAME not in members.data:
        pack = runpack_from_members(members)
    metrics = {
        "tool_calls_total": 0,
        "tool_calls_success": 0,
        "tool_calls_success_rate": 0.0,
        "policy_blocked": 0,
        "approval_required": 0,
        "regress_failures": 0,
    }
    if pack is not None:
        total = len(pack.results) or len(pack.intents)
        metrics["tool_calls_total"] = total
        for res in pack.results:
            status = res.get("status")
            if isinstance(status, str) and status.strip().lower() == "ok":
                metrics["tool_calls_success"] += 1
            verdict = _verdict(res.get("result"))
            if verdict == "block":
                metrics["policy_blocked"] += 1
            elif verdict == "require_approval":
                metrics["approval_required"] += 1
            if _regress_failure(res.get("result")):
                metrics["regress_failures"] += 1
    elif inspect.get("run_lineage"):
        links = inspect["run_lineage"].get("intent_results", [])
        metrics["tool_calls_total"] = len(links)
        metrics["tool_calls_success"] = sum(
            1 for link in links if str(link.get("status", "")).strip().lower() == "ok"
        )
    if metrics["tool_calls_total"]:
        metrics["tool_calls_success_rate"] = (
            metrics["tool_calls_success"] / metrics["tool_calls_total"]
        )
    return metrics


def export_record(path: str | Path) -> dict[str, Any]:
    """The reference's export record: verify counts, metrics and the manifest digest."""
    target = Path(path)
    result = verify_pack(target)
    inspect = inspect_pack(target)
    members = read_zip(target)
    manifest_digest = ""
    for name in (MANIFEST_NAME, "manifest.json"):
        if name in members.data:
            try:
                manifest_digest = digest(loads_strict(members.data[name]))
            except GaitError:
                manifest_digest = ""
            break
    created = EPOCH
    for key in ("manifest", "run_payload", "job_payload", "call_payload"):
        value = inspect.get(key)
        if isinstance(value, dict) and value.get("created_at"):
            created = timefmt.canonical(str(value["created_at"]))
            break
    return {
        "pack_id": result.pack_id or inspect.get("pack_id", ""),
        "pack_type": result.pack_type or inspect.get("pack_type", ""),
        "source_ref": result.source_ref or inspect.get("source_ref", ""),
        "manifest_digest": manifest_digest or result.pack_id,
        "files_checked": result.files_checked,
        "hash_mismatches": len(result.hash_mismatches),
        "missing_files": len(result.missing_files),
        "undeclared_files": len(result.undeclared_files),
        "signature_status": result.signature_status,
        "signatures_total": result.signatures_total,
        "signatures_valid": result.signatures_valid,
        "created_at": created,
        "metrics": _metrics(target, inspect),
    }


def _unix_nanos(stamp: str) -> int:
    moment, nanos = timefmt.parse(stamp)
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def _otel_ids(record: dict[str, Any]) -> tuple[str, str]:
    seed = str(record.get("pack_id", "")).strip().lower()
    if not is_hex64(seed):
        seed = str(record.get("manifest_digest", "")).strip().lower()
    if not is_hex64(seed):
        seed = sha256_hex(f"{record.get('pack_type', '')}|{record.get('source_ref', '')}".encode())
    return seed[:32], seed[32:48]


def _go_json(value: Any) -> str:
    """Go's encoding/json for maps: sorted keys, compact, doubles in shortest form."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, float):
        return ecmascript_number(value)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def otel_lines(record: dict[str, Any]) -> list[str]:
    nanos = _unix_nanos(record["created_at"])
    trace_id, span_id = _otel_ids(record)
    metrics = record["metrics"]
    integrity_ok = not (
        record["hash_mismatches"] or record["missing_files"] or record["undeclared_files"]
    )
    attrs = {
        "gait.pack_id": record["pack_id"],
        "gait.pack_type": record["pack_type"],
        "gait.source_ref": record["source_ref"],
        "gait.manifest_digest": record["manifest_digest"],
        "gait.files_checked": record["files_checked"],
        "gait.hash_mismatches": record["hash_mismatches"],
        "gait.missing_files": record["missing_files"],
        "gait.undeclared_files": record["undeclared_files"],
        "gait.signature_status": record["signature_status"],
        "gait.signatures_total": record["signatures_total"],
        "gait.signatures_valid": record["signatures_valid"],
        "gait.integrity_ok": integrity_ok,
        "gait.tool_calls_total": metrics["tool_calls_total"],
        "gait.tool_calls_ok": metrics["tool_calls_success"],
        "gait.policy_blocked": metrics["policy_blocked"],
        "gait.approval_required": metrics["approval_required"],
        "gait.regress_failures": metrics["regress_failures"],
    }
    records: list[dict[str, Any]] = [
        {
            "record_type": "span",
            "trace_id": trace_id,
            "span_id": span_id,
            "name": "gait.pack.verify",
            "start_time_unix_nano": nanos,
            "end_time_unix_nano": nanos,
            "status": {"code": "ok" if integrity_ok else "error"},
            "attributes": attrs,
            "instrumentation_scope": "gait.pack.export",
        },
        {
            "record_type": "event",
            "time_unix_nano": nanos,
            "severity_text": "INFO",
            "body": "gait.pack.export.metadata",
            "trace_id": trace_id,
            "span_id": span_id,
            "attributes": attrs,
        },
    ]
    for name, key, unit in (
        ("gait.pack.tool_calls_total", "tool_calls_total", "1"),
        ("gait.pack.tool_calls_success_total", "tool_calls_success", "1"),
        ("gait.pack.tool_calls_success_rate", "tool_calls_success_rate", "ratio"),
        ("gait.pack.policy_blocked_total", "policy_blocked", "1"),
        ("gait.pack.approval_required_total", "approval_required", "1"),
        ("gait.pack.regress_failures_total", "regress_failures", "1"),
    ):
        metric: dict[str, Any] = {
            "record_type": "metric",
            "time_unix_nano": nanos,
            "name": name,
            "unit": unit,
            "attributes": attrs,
        }
        value = metrics[key]
        metric["value_double" if unit == "ratio" else "value_int"] = (
            float(value) if unit == "ratio" else value
        )
        records.append(metric)
    return [_go_json(r) for r in records]


def append_otel(path: str | Path, record: dict[str, Any]) -> Path:
    """Append the lines (the reference appends too, so one file can collect many packs)."""
    target = Path(path)
    data = "".join(line + "\n" for line in otel_lines(record)).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)  # one O_APPEND write: concurrent exporters never interleave lines
    finally:
        os.close(fd)
    return target


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def postgres_sql(
    record: dict[str, Any], *, table: str = "gait_pack_index", ddl: bool = True
) -> str:
    parts = (table.strip() or "gait_pack_index").split(".")
    if len(parts) > 2 or not all(_IDENT.match(p.strip()) for p in parts):
        raise InvalidInput(
            "--postgres-table must be <table> or <schema.table> of [A-Za-z_][A-Za-z0-9_]*",
            code="E_USAGE",
        )
    quoted = ".".join(_quote_ident(p.strip()) for p in parts)
    prefix = parts[-1].strip().lower()
    metrics = record["metrics"]
    out: list[str] = []
    if ddl:
        out.append(f"CREATE TABLE IF NOT EXISTS {quoted} (\n")
        out.append(",\n".join(f"  {name} {kind}" for name, kind in _COLUMNS) + "\n);\n")
        out.append(
            f"CREATE INDEX IF NOT EXISTS {_quote_ident(f'idx_{prefix}_pack_type_created_at')} "
            f"ON {quoted} (pack_type, created_at DESC);\n"
        )
        out.append(
            f"CREATE INDEX IF NOT EXISTS {_quote_ident(f'idx_{prefix}_source_ref')} "
            f"ON {quoted} (source_ref);\n\n"
        )
    values = [
        _literal(str(record["pack_id"]).strip()),
        _literal(str(record["pack_type"]).strip()),
        _literal(str(record["source_ref"]).strip()),
        _literal(str(record["manifest_digest"]).strip()),
        str(record["files_checked"]),
        str(record["hash_mismatches"]),
        str(record["missing_files"]),
        str(record["undeclared_files"]),
        _literal(str(record["signature_status"]).strip()),
        str(record["signatures_total"]),
        str(record["signatures_valid"]),
        str(metrics["tool_calls_total"]),
        str(metrics["tool_calls_success"]),
        f"{metrics['tool_calls_success_rate']:.6f}",
        str(metrics["policy_blocked"]),
        str(metrics["approval_required"]),
        str(metrics["regress_failures"]),
        _literal(record["created_at"]) + "::timestamptz",
    ]
    names = [name for name, _ in _COLUMNS]
    out.append(f"INSERT INTO {quoted} (\n")
    out.append(",\n".join(f"  {n}" for n in names) + "\n) VALUES (\n")
    out.append(",\n".join(f"  {v}" for v in values) + "\n)\n")
    out.append("ON CONFLICT (pack_id) DO UPDATE SET\n")
    out.append(",\n".join(f"  {n} = EXCLUDED.{n}" for n in names[1:]) + ";\n")
    return "".join(out)
