"""Turn a run (the reference's record input) into runpack member bytes.

``{run, intents, results, refs, capture_mode}`` is the one input shape: the CLI's
``run record --input``, the SDK recorder, the log importers and the demo all end here, so the
same run gives the same bytes whichever way it was captured, here and in the reference.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from typing import Any

from gait import __version__, timefmt
from gait.canon import canonical_bytes, digest, sha256_hex
from gait.errors import InvalidInput
from gait.runpack import model
from gait.runpack.manifest import manifest_digest
from gait.runpack.model import SCHEMA_VERSION

RECEIPT_KEYS = (
    "ref_id",
    "source_type",
    "source_locator",
    "query_digest",
    "content_digest",
    "retrieved_at",
    "redaction_mode",
    "immutability",
    "freshness_sla_seconds",
    "sensitivity_label",
    "retrieval_params",
)
IMMUTABILITY = ("unknown", "mutable", "immutable")
EVIDENCE_MODES = ("best_effort", "required")
_CODE = "E_RECORD_INPUT_INVALID"


def _fail(message: str) -> InvalidInput:
    return InvalidInput(message, code=_CODE)


def _obj(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"{what} must be an object")
    return dict(value)


def _text(value: Any, what: str, *, default: str = "") -> str:
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise _fail(f"{what} must be a string")
    return value


def _time(value: Any, what: str, default: str) -> str:
    text = _text(value, what, default=default)
    try:
        return timefmt.canonical(text)
    except InvalidInput as exc:
        raise _fail(f"{what}: {exc.message}") from exc


def _hex(value: Any, what: str) -> str:
    text = _text(value, what)
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise _fail(f"{what} must be 64 hex characters")
    return text.lower()


def host_env() -> dict[str, str]:
    return {
        "os": sys.platform if sys.platform != "darwin" else "darwin",
        "arch": platform.machine().lower() or "unknown",
        "runtime": "python",
    }


def _envelope(
    record: dict[str, Any], schema_id: str, run: dict[str, Any], what: str
) -> dict[str, Any]:
    given = record.get("schema_id")
    if given not in (None, "", schema_id):
        raise _fail(f"{what}.schema_id must be {schema_id}, not {given!r}")
    version = record.get("schema_version")
    if version not in (None, "", SCHEMA_VERSION):
        raise _fail(f"{what}.schema_version {version!r} is not supported (only {SCHEMA_VERSION})")
    run_id = _text(record.get("run_id"), f"{what}.run_id", default=run["run_id"])
    if run_id != run["run_id"]:
        raise _fail(f"{what}.run_id {run_id!r} differs from the run's {run['run_id']!r}")
    created_at = record.get("created_at")
    return {
        "schema_id": schema_id,
        "schema_version": SCHEMA_VERSION,
        # The run's time is canonical already (most records have none of their own).
        "created_at": run["created_at"]
        if created_at is None or created_at == ""
        else _time(created_at, f"{what}.created_at", run["created_at"]),
        "producer_version": _text(
            record.get("producer_version"),
            f"{what}.producer_version",
            default=run["producer_version"],
        ),
        "run_id": run_id,
    }


def normalize_run(raw: Any, *, producer_version: str = __version__) -> dict[str, Any]:
    run = _obj(raw, "run")
    run_id = _text(run.get("run_id"), "run.run_id")
    if not run_id:
        raise _fail("run.run_id is required")
    if not run_id.startswith("run_") or not all(
        (c.isascii() and c.isalnum()) or c in "_-" for c in run_id
    ):  # isalnum alone passes "run_é", which the schema (and verify) refuse
        error = _fail(f"run.run_id {run_id!r} must match ^run_[A-Za-z0-9_-]+$")
        suggestion = "run_" + "".join(
            c if (c.isascii() and c.isalnum()) or c in "_-" else "_"
            for c in run_id.removeprefix("run_")
        )
        error.hint = f"use a run id such as {suggestion}"  # a bare uuid, say: prefix it
        raise error
    base = {
        "run_id": run_id,
        "created_at": _time(run.get("created_at"), "run.created_at", timefmt.now()),
        "producer_version": _text(
            run.get("producer_version"), "run.producer_version", default=producer_version
        ),
    }
    out = _envelope(run, "gait.runpack.run", base, "run")
    env = _obj(run.get("env"), "run.env")
    defaults = host_env()
    out["env"] = {**defaults, **{k: v for k, v in env.items() if v not in (None, "")}}
    timeline = run.get("timeline") or []
    if not isinstance(timeline, list):
        raise _fail("run.timeline must be a list")
    events = []
    for i, item in enumerate(timeline):
        entry = _obj(item, f"run.timeline[{i}]")
        event: dict[str, Any] = {
            "event": _text(entry.get("event"), f"run.timeline[{i}].event"),
            "ts": _time(entry.get("ts"), f"run.timeline[{i}].ts", out["created_at"]),
        }
        if not event["event"]:
            raise _fail(f"run.timeline[{i}].event is required")
        if entry.get("ref"):
            event["ref"] = _text(entry.get("ref"), f"run.timeline[{i}].ref")
        if entry.get("relationship"):
            event["relationship"] = _obj(
                entry.get("relationship"), f"run.timeline[{i}].relationship"
            )
        events.append(event)
    out["timeline"] = events
    return out


def _payload_digest(
    record: dict[str, Any],
    payload_key: str,
    digest_key: str,
    what: str,
    texts: list[Any] | None = None,
) -> tuple[str, Any]:
    """(digest, payload); ``texts`` gets the payload's canonical bytes (None without one), so
    the record's line can be spliced from them (``jsonl``) rather than serialized again."""
    payload = record.get(payload_key)
    given = record.get(digest_key)
    text = canonical_bytes(payload) if payload is not None else None
    if texts is not None:
        # Kept until the lines are spliced: a copy, since canonical_bytes may hand back
        # orjson's own bytes object, which keeps its whole output buffer (4 KiB at least).
        texts.append(bytes(memoryview(text)) if text is not None else None)
    computed = sha256_hex(text) if text is not None else ""
    if given not in (None, ""):
        given = _hex(given, f"{what}.{digest_key}")
        if computed and given != computed:
            raise _fail(f"{what}.{digest_key} does not match the digest of {what}.{payload_key}")
        return given, payload
    if payload is None:
        raise _fail(f"{what} needs {payload_key} or {digest_key}")
    return computed, payload


def normalize_intents(
    raw: Any, run: dict[str, Any], capture_mode: str, texts: list[Any] | None = None
) -> list[dict[str, Any]]:
    items = raw or []
    if not isinstance(items, list):
        raise _fail("intents must be a list")
    out, seen = [], set()
    for i, item in enumerate(items):
        what = f"intents[{i}]"
        record = _obj(item, what)
        intent = _envelope(record, "gait.runpack.intent", run, what)
        intent_id = _text(record.get("intent_id"), f"{what}.intent_id")
        if not intent_id:
            raise _fail(f"{what}.intent_id is required")
        if intent_id in seen:
            raise _fail(f"{what}.intent_id {intent_id!r} is used twice")
        seen.add(intent_id)
        intent["intent_id"] = intent_id
        intent["tool_name"] = _text(record.get("tool_name"), f"{what}.tool_name")
        if not intent["tool_name"]:
            raise _fail(f"{what}.tool_name is required")
        intent["args_digest"], args = _payload_digest(record, "args", "args_digest", what, texts)
        if capture_mode == "raw" and args is not None:
            intent["args"] = args
        elif texts is not None:
            texts[-1] = None  # not in the record
        out.append(intent)
    return out


def normalize_results(
    raw: Any,
    run: dict[str, Any],
    capture_mode: str,
    intent_ids: set[str],
    texts: list[Any] | None = None,
) -> list[dict[str, Any]]:
    items = raw or []
    if not isinstance(items, list):
        raise _fail("results must be a list")
    out = []
    for i, item in enumerate(items):
        what = f"results[{i}]"
        record = _obj(item, what)
        result = _envelope(record, "gait.runpack.result", run, what)
        intent_id = _text(record.get("intent_id"), f"{what}.intent_id")
        if intent_id not in intent_ids:
            raise _fail(f"{what}.intent_id {intent_id!r} has no intent")
        result["intent_id"] = intent_id
        status = _text(record.get("status"), f"{what}.status", default="ok")
        if status not in ("ok", "error"):
            raise _fail(f"{what}.status must be ok or error, not {status!r}")
        result["status"] = status
        result["result_digest"], payload = _payload_digest(
            record, "result", "result_digest", what, texts
        )
        if capture_mode == "raw" and payload is not None:
            result["result"] = payload
        elif texts is not None:
            texts[-1] = None  # not in the record
        out.append(result)
    return out


def normalize_receipt(raw: Any, what: str) -> dict[str, Any]:
    record = _obj(raw, what)
    receipt: dict[str, Any] = {}
    for key in ("ref_id", "source_type", "source_locator"):
        receipt[key] = _text(record.get(key), f"{what}.{key}")
        if not receipt[key]:
            raise _fail(f"{what}.{key} is required")
    receipt["query_digest"] = _hex(record.get("query_digest"), f"{what}.query_digest")
    receipt["content_digest"] = _hex(record.get("content_digest"), f"{what}.content_digest")
    receipt["retrieved_at"] = _time(
        record.get("retrieved_at"), f"{what}.retrieved_at", timefmt.EPOCH_1980
    )
    receipt["redaction_mode"] = _text(
        record.get("redaction_mode"), f"{what}.redaction_mode", default="reference"
    )
    immutability = _text(record.get("immutability"), f"{what}.immutability", default="unknown")
    if immutability not in IMMUTABILITY:
        raise _fail(f"{what}.immutability must be one of {', '.join(IMMUTABILITY)}")
    receipt["immutability"] = immutability
    sla = record.get("freshness_sla_seconds")
    if sla not in (None, 0):
        if isinstance(sla, bool) or not isinstance(sla, int) or sla < 0:
            raise _fail(f"{what}.freshness_sla_seconds must be a non-negative integer")
        receipt["freshness_sla_seconds"] = sla
    label = _text(record.get("sensitivity_label"), f"{what}.sensitivity_label")
    if label:
        receipt["sensitivity_label"] = label
    params = record.get("retrieval_params")
    if params:
        receipt["retrieval_params"] = _obj(params, f"{what}.retrieval_params")
    return receipt


def normalize_refs(
    raw: Any, run: dict[str, Any], *, evidence_mode_default: str = "best_effort"
) -> dict[str, Any]:
    record = _obj(raw, "refs")
    refs = _envelope(record, "gait.runpack.refs", run, "refs")
    receipts_in = record.get("receipts") or []
    if not isinstance(receipts_in, list):
        raise _fail("refs.receipts must be a list")
    receipts = [normalize_receipt(r, f"refs.receipts[{i}]") for i, r in enumerate(receipts_in)]
    ids = [r["ref_id"] for r in receipts]
    if len(set(ids)) != len(ids):
        raise _fail("refs.receipts has a ref_id used twice")
    refs["receipts"] = sorted(receipts, key=lambda r: r["ref_id"])
    digest_value = record.get("context_set_digest")
    if digest_value:
        refs["context_set_digest"] = _hex(digest_value, "refs.context_set_digest")
    mode = _text(
        record.get("context_evidence_mode"),
        "refs.context_evidence_mode",
        default=evidence_mode_default,
    )
    if mode:
        if mode not in EVIDENCE_MODES:
            raise _fail(f"refs.context_evidence_mode must be one of {', '.join(EVIDENCE_MODES)}")
        refs["context_evidence_mode"] = mode
    count = record.get("context_ref_count") or len(receipts)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise _fail("refs.context_ref_count must be a non-negative integer")
    if count:
        refs["context_ref_count"] = count
    return refs


def normalize_input(
    doc: Any,
    *,
    capture_mode: str | None = None,
    producer_version: str = __version__,
    evidence_mode_default: str = "best_effort",
    texts: tuple[list[Any], list[Any]] | None = None,
) -> tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(capture_mode, run, intents, results, refs) in their written form; ``texts`` gets the
    canonical bytes of each intent's and result's payload (``jsonl`` splices them)."""
    record = _obj(doc, "record input")
    mode = capture_mode or _text(record.get("capture_mode"), "capture_mode", default="reference")
    if mode not in model.CAPTURE_MODES:
        raise _fail(f"capture_mode must be reference or raw, not {mode!r}")
    if record.get("normalization"):
        record = apply_normalization(record)
    run = normalize_run(record.get("run"), producer_version=producer_version)
    intent_texts, result_texts = texts if texts is not None else (None, None)
    intents = normalize_intents(record.get("intents"), run, mode, intent_texts)
    results = normalize_results(
        record.get("results"), run, mode, {i["intent_id"] for i in intents}, result_texts
    )
    refs = normalize_refs(record.get("refs"), run, evidence_mode_default=evidence_mode_default)
    return mode, run, intents, results, refs


# The statuses the reference SDK's run session gives a call the gate stopped (the call never
# produced a result); the runpack format knows only ok and error.
STOPPED_STATUSES = ("block", "blocked", "require_approval", "dry_run")


def _keyed_objects(raw: Any, what: str) -> dict[str, dict[str, Any]]:
    table = _obj(raw, what)
    for key, value in table.items():
        if not isinstance(value, Mapping):
            raise _fail(f"{what}.{key} must be an object")
    return {str(k): dict(v) for k, v in table.items()}


def apply_normalization(record: dict[str, Any]) -> dict[str, Any]:
    """The reference's ``normalization`` block, resolved into digests.

    The reference SDK's ``run_session`` records intents and results without digests and puts
    their payloads under ``normalization.intent_args`` / ``normalization.result_payloads`` (by
    intent id); ``gait.trace`` receipts named ``trace_<intent_id>`` get their query digest
    (tool name and args digest) and content digest (the result digest) from those records, and
    a call the gate stopped (status ``block``, ``require_approval``, ``dry_run``) is an
    ``error`` result. A digest that is given must match its payload.
    """
    norm = _obj(record.get("normalization"), "normalization")
    intent_args = _keyed_objects(norm.get("intent_args"), "normalization.intent_args")
    payloads = _keyed_objects(norm.get("result_payloads"), "normalization.result_payloads")
    out = dict(record)
    out.pop("normalization", None)
    args_digests: dict[str, tuple[str, str]] = {}
    intents = []
    for i, item in enumerate(record.get("intents") or []):
        entry = _obj(item, f"intents[{i}]")
        intent_id = str(entry.get("intent_id", ""))
        if intent_id in intent_args:
            computed = digest(intent_args[intent_id])
            given = entry.get("args_digest")
            if given and _hex(given, f"intents[{i}].args_digest") != computed:
                raise _fail(f"intents[{i}].args_digest does not match normalization.intent_args")
            entry["args_digest"] = computed
        if entry.get("args_digest") or entry.get("args") is not None:
            value = entry.get("args_digest") or digest(entry.get("args"))
            args_digests[intent_id] = (str(entry.get("tool_name", "")), str(value).lower())
        intents.append(entry)
    result_digests: dict[str, str] = {}
    results = []
    for i, item in enumerate(record.get("results") or []):
        entry = _obj(item, f"results[{i}]")
        intent_id = str(entry.get("intent_id", ""))
        if intent_id in payloads:
            computed = digest(payloads[intent_id])
            given = entry.get("result_digest")
            if given and _hex(given, f"results[{i}].result_digest") != computed:
                raise _fail(
                    f"results[{i}].result_digest does not match normalization.result_payloads"
                )
            entry["result_digest"] = computed
        if entry.get("status") in STOPPED_STATUSES:
            entry["status"] = "error"
        if entry.get("result_digest") or entry.get("result") is not None:
            result_digests[intent_id] = str(
                entry.get("result_digest") or digest(entry.get("result"))
            ).lower()
        results.append(entry)
    out["intents"], out["results"] = intents, results
    refs = _obj(record.get("refs"), "refs")
    receipts = []
    for i, item in enumerate(refs.get("receipts") or []):
        entry = _obj(item, f"refs.receipts[{i}]")
        ref_id = str(entry.get("ref_id", ""))
        intent_id = ref_id.removeprefix("trace_")
        if entry.get("source_type") == "gait.trace" and ref_id.startswith("trace_"):
            if intent_id in args_digests and not entry.get("query_digest"):
                tool_name, args_digest = args_digests[intent_id]
                entry["query_digest"] = digest({"tool_name": tool_name, "args_digest": args_digest})
            if intent_id in result_digests and not entry.get("content_digest"):
                entry["content_digest"] = result_digests[intent_id]
        receipts.append(entry)
    if record.get("refs") is not None:
        refs["receipts"] = receipts
        out["refs"] = refs
    return out


def jsonl(records: list[dict[str, Any]], texts: list[Any] | None = None) -> bytes:
    """The records' canonical lines. ``texts`` (from ``normalize_input``): each record's payload
    already serialized, or None; a record's line is then spliced from it (``_spliced``)."""
    if texts is None or len(texts) != len(records):
        return b"".join(canonical_bytes(r) + b"\n" for r in records)
    memo: dict[str, bytes] = {}
    lines = []
    for record, text in zip(records, texts, strict=True):
        line = _spliced(record, text, memo)
        lines.append((line if line is not None else canonical_bytes(record)) + b"\n")
    return b"".join(lines)


_STRING = json.encoder.encode_basestring  # canonical_bytes's form of a string (RFC 8785)


def _spliced(record: dict[str, Any], text: bytes | None, memo: dict[str, bytes]) -> bytes | None:
    """``canonical_bytes(record)`` for a record of ASCII keys whose values are strings but for
    one payload whose canonical bytes are ``text``: RFC 8785 prints an object as its members
    sorted by key (code units, which is Python's order for ASCII), each value in its own
    canonical form. None for any other record (``canonical_bytes`` then decides)."""
    parts = []
    for key in sorted(record):
        name = memo.get(key)
        if name is None:
            if type(key) is not str or not key.isascii():
                return None
            name = memo[key] = _STRING(key).encode("utf-8")
        value = record[key]
        if type(value) is str:
            encoded = memo.get(value)
            if encoded is None:
                try:
                    encoded = memo[value] = _STRING(value).encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate: canonical_bytes refuses it
                    return None
        elif text is not None and key in _PAYLOAD_KEYS:
            encoded = text
        else:
            return None
        parts.append(name + b":" + encoded)
    return b"{" + b",".join(parts) + b"}"


_PAYLOAD_KEYS = ("args", "result")


def manifest_for(run: dict[str, Any], capture_mode: str, data: dict[str, bytes]) -> dict[str, Any]:
    manifest = {
        "schema_id": "gait.runpack.manifest",
        "schema_version": SCHEMA_VERSION,
        "created_at": run["created_at"],
        "producer_version": run["producer_version"],
        "run_id": run["run_id"],
        "capture_mode": capture_mode,
        "files": [{"path": name, "sha256": sha256_hex(data[name])} for name in sorted(data)],
        "manifest_digest": "",
    }
    manifest["manifest_digest"] = manifest_digest(manifest)
    return manifest
