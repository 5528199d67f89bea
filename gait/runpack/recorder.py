"""Record a real agent run into a runpack: context manager, tool decorator, explicit calls.

::

    with gait.record(run_id="run_checkout") as run:          # reference capture by default
        intent_id = run.intent("tool.search", {"query": "..."})
        run.result(intent_id, {"hits": 3})

    @gait.record.tool("tool.fetch")                            # records into the current run
    def fetch(url: str) -> dict: ...

    @gait.record(run_id="run_nightly")                         # each call records a run
    def main() -> None: ...

Records are normalised and written to spool files as they happen, so memory stays flat however
long the run (or the imported log) is, and a crash inside the block still leaves a complete,
signed runpack with the failure recorded: the open calls get an ``error`` result and the
timeline an ``error`` event.

Reference capture (the default) keeps only digests of args and results; raw capture keeps the
payloads, after the redaction rules and hooks ran, and warns. ``GAIT_RECORD_TO`` overrides the
output path (see ``gait.runpack.replay`` for how ``gait regress run`` uses it), and while
``GAIT_REPLAY_FROM`` is set, decorated tools answer from that runpack instead of running.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import platform
import secrets
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from json.encoder import encode_basestring as _enc
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from gait import __version__, timefmt
from gait.canon import canonical_bytes, digest
from gait.errors import GaitError, InvalidInput
from gait.fsutil import replace_with
from gait.openscopes import OpenScopes
from gait.runpack import build, model
from gait.runpack.archive import MAX_MEMBER_BYTES
from gait.runpack.manifest import manifest_digest, signed_manifest_digest
from gait.runpack.redact import Hook, Redactor, Rule
from gait.runpack.replay import RECORD_TO_ENV, ReplayedToolError
from gait.runpack.writer import Written, default_path
from gait.values import to_json_value

if TYPE_CHECKING:  # the signing modules and libsodium load only when a run is signed
    from gait.sign.keys import SigningKey

_CODE = "E_RECORD_INPUT_INVALID"
_SPOOL_BYTES = 8 * 1024 * 1024
_CURRENT: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "gait_current_run", default=None
)
CALL_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar("gait_call_key", default=None)
_OPEN: OpenScopes[Recorder] = OpenScopes(lambda run: run.written is None)
REFERENCE_WARNING = (
    "reference capture stripped raw intent arguments and raw result payloads after digesting"
)
RAW_WARNING = (
    "raw capture retains raw intent arguments and raw result payloads; "
    "handle runpack as sensitive evidence"
)


class RawCaptureWarning(UserWarning):
    """Raw capture writes tool payloads into the runpack."""


def new_run_id() -> str:
    stamp = timefmt.now()[:19].replace("-", "").replace(":", "")
    return f"run_{stamp}_{secrets.token_hex(3)}"


def env_fingerprint(
    packages: Iterable[str] = (), extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{os, arch, runtime}`` plus interpreter, gait and named package versions."""
    env: dict[str, Any] = dict(build.host_env())
    env["python_version"] = platform.python_version()
    env["python_implementation"] = platform.python_implementation().lower()
    env["gait_version"] = __version__
    versions = {}
    names = sorted(set(packages))
    if names:  # importlib.metadata is a real share of an agent's start-up: only when asked
        from importlib import metadata
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not-installed"
    if versions:
        env["packages"] = versions
    env.update(dict(extra or {}))
    return env


def jsonable(value: Any, where: str = "$") -> Any:
    """A JSON value for a Python value, by the rule documented in ``gait.values``.

    pydantic models (openai, anthropic, mcp objects) via ``model_dump(mode="json")``,
    dataclasses, attrs, enums, bytes (base64), datetimes, Decimals (exact text); an object it
    cannot read at all is refused, never stored as its type name.
    """
    return to_json_value(value, where=where)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"text is not valid Unicode: {exc.reason}", code=_CODE) from exc


_HELD_BYTES = 32 * 1024 * 1024
fast_now = timefmt.now  # the recorder's clock: thread-safe, the date formatted once a second


class _Member:
    """One member buffered in memory, then spilled to a temp file, hashed as it is written."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.spill: IO[bytes] | None = None
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _SPOOL_BYTES:
            self._flush()

    def _flush(self) -> None:
        block = b"".join(self.chunks)
        self.chunks, self.buffered = [], 0
        self.hash.update(block)
        self.size += len(block)
        if self.size > MAX_MEMBER_BYTES:
            raise InvalidInput(
                f"{self.name} grew over the {MAX_MEMBER_BYTES} byte member limit",
                code="E_RECORD_TOO_LARGE",
                hint="split the run, or record in reference capture (payloads are dropped)",
            )
        if self.spill is None:
            self.spill = tempfile.TemporaryFile()
        self.spill.write(block)

    def finish(self) -> None:
        """Everything written is hashed and on disk (or in the last block)."""
        self._flush()

    def read_chunks(self) -> Any:
        if self.spill is not None:
            self.spill.seek(0)
            while chunk := self.spill.read(1024 * 1024):
                yield chunk

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
        self.chunks = []


class _InOrder:
    """Writes lines to a member in the order of their places, holding a line until every
    earlier place has its line. A line for a place already passed is written as it comes;
    when what is held grows past a bound (a call that never ends), everything held is
    written and the order given up for those places."""

    def __init__(self, member: _Member) -> None:
        self.member = member
        self.next = 0
        self.held: dict[int, list[bytes]] = {}
        self.held_bytes = 0

    def put(self, place: int, line: bytes) -> None:
        if place > self.next:
            self.held.setdefault(place, []).append(line)
            self.held_bytes += len(line)
            if self.held_bytes > _HELD_BYTES:
                self.release()
            return
        self.member.write(line)
        if place == self.next:
            self.next += 1
            while self.next in self.held:
                for held in self.held.pop(self.next):
                    self.held_bytes -= len(held)
                    self.member.write(held)
                self.next += 1

    def release(self) -> None:
        for place in sorted(self.held):
            for held in self.held[place]:
                self.member.write(held)
            self.next = place + 1
        self.held.clear()
        self.held_bytes = 0


class Recorder:
    """One run being recorded; the object ``with gait.record() as run`` gives you."""

    def __init__(
        self,
        run_id: str | None = None,
        *,
        out_dir: str | Path = "gait-out",
        out: str | Path | None = None,
        capture_mode: str = "reference",
        redact: Iterable[str | Rule] | None = None,
        redact_hooks: Iterable[Hook] = (),
        signing_key: SigningKey | str | Path | None = None,
        sign: bool = True,
        packages: Iterable[str] = (),
        env: Mapping[str, Any] | None = None,
        env_extra: Mapping[str, Any] | None = None,
        created_at: str | None = None,
        clock: Callable[[], str] | None = None,
        producer_version: str = __version__,
        receipts: Iterable[Mapping[str, Any]] = (),
        context_evidence_mode: str = "best_effort",
        session: Any = None,
    ) -> None:
        if capture_mode not in model.CAPTURE_MODES:
            raise InvalidInput(
                f"capture_mode must be reference or raw, not {capture_mode!r}", code=_CODE
            )
        self.capture_mode = capture_mode
        self.redactor = Redactor(redact, redact_hooks)
        self._clock = clock or fast_now
        base = build.normalize_run(
            {
                "run_id": run_id or new_run_id(),
                "created_at": created_at or self._clock(),
                "env": dict(env) if env is not None else env_fingerprint(packages, env_extra),
            },
            producer_version=producer_version,
        )
        base.pop("timeline")
        self._run = base
        self.run_id: str = base["run_id"]
        target = os.environ.get(RECORD_TO_ENV) or out
        self.path = Path(target) if target else default_path(self.run_id, out_dir)
        self._signing_key = signing_key
        self._sign = sign
        self._lock = threading.Lock()
        self._members = {name: _Member(name) for name in model.DATA_MEMBERS}
        self._intent_member = self._members[model.INTENTS]
        self._result_member = self._members[model.RESULTS]
        self._timeline = _Member("timeline")
        self._timeline_count = 0
        self._intents: dict[str, str] = {}  # intent_id -> tool_name
        self._open: dict[str, str] = {}  # intents without a result yet
        self._results: set[str] = set()
        # Each call has a place: the order it was asked for (``expect``) or recorded in. Its
        # intent and its result are written in that order, whatever order concurrent calls
        # start and finish in, so a replay that runs them in another order is the same run.
        self._place: dict[str, int] = {}  # intent_id -> place
        self._places = 0
        self._expected: dict[str, tuple[str, int]] = {}  # call key -> (intent_id, place)
        self._reserved: set[str] = set()  # intent ids expected and not recorded yet
        self._intent_order = _InOrder(self._intent_member)
        self._result_order = _InOrder(self._result_member)
        self._receipts: list[dict[str, Any]] = []
        self._evidence_mode = context_evidence_mode
        self._counter = 0
        self._token: contextvars.Token[Recorder | None] | None = None
        self.written: Written | None = None
        self.import_report: dict[str, Any] | None = None  # set by gait.runpack.importers
        self.warnings: list[str] = [RAW_WARNING if capture_mode == "raw" else REFERENCE_WARNING]
        self._head = {
            "schema_id": "",
            "schema_version": model.SCHEMA_VERSION,
            "created_at": base["created_at"],
            "producer_version": base["producer_version"],
            "run_id": self.run_id,
        }
        self._t_created = f'"created_at":{_enc(base["created_at"])}'
        self._t_pv = _enc(base["producer_version"])
        self._t_run = _enc(self.run_id)
        self._t_middle = f'"producer_version":{self._t_pv},"run_id":{self._t_run}'
        self._event("start", base["created_at"])
        self._session = None  # gait.runpack.session: a journal line per finished call
        if session is not None:
            from gait.runpack.session import open_session

            self._session = open_session(session, self.run_id)
        for receipt in receipts:
            self.receipt(**dict(receipt))
        if capture_mode == "raw":
            warnings.warn(RAW_WARNING, RawCaptureWarning, stacklevel=3)

    # --- context manager, async context manager, decorator ----------------------------------

    _again: Callable[[], Recorder] | None = None  # set by ``record()``: the same options anew

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``@gait.record(run_id=...)`` on the function that runs the agent: each call records a
        run of its own, as a ``with`` block inside it would (the object made when the module
        was imported is a template and writes nothing)."""
        import functools
        import inspect

        again = self._again
        if again is None or self._session is not None or self._token is not None:
            raise TypeError(
                "only gait.record(...) without session= decorates a function; "
                "use `with gait.record(...) as run:` inside it instead"
            )
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"@gait.record decorates the function that runs the agent, not a generator "
                f"({fn.__qualname__}): use `with gait.record(...):` around the loop consuming it"
            )
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with again():
                    return await fn(*args, **kwargs)

            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with again():
                return fn(*args, **kwargs)

        return run

    async def __aenter__(self) -> Recorder:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def __enter__(self) -> Recorder:
        self._token = _CURRENT.set(self)
        _OPEN.enter(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> Literal[False]:
        try:
            if exc is not None:
                self.fail(exc)
            self.close()
        finally:
            _OPEN.exit(self)
            if self._token is not None:
                _CURRENT.reset(self._token)
                self._token = None
        return False

    # --- recording --------------------------------------------------------------------------

    def _now(self, ts: str | None) -> str:
        if ts is None:
            return self._clock()
        try:
            return timefmt.canonical(ts)
        except InvalidInput as exc:
            raise InvalidInput(f"timestamp {ts!r}: {exc.message}", code=_CODE) from exc

    def _event(self, event: str, ts: str, ref: str = "", relationship: Any = None) -> None:
        sep = "," if self._timeline_count else ""
        if relationship:
            record: dict[str, Any] = {"event": event, "ts": ts, "relationship": relationship}
            if ref:
                record["ref"] = ref
            line = sep + canonical_bytes(record).decode("utf-8")
        elif ref:
            line = f'{sep}{{"event":{_enc(event)},"ref":{_enc(ref)},"ts":{_enc(ts)}}}'
        else:
            line = f'{sep}{{"event":{_enc(event)},"ts":{_enc(ts)}}}'
        self._timeline.write(_utf8(line))
        self._timeline_count += 1

    def intent(
        self,
        tool_name: str,
        args: Any = None,
        *,
        intent_id: str | None = None,
        ts: str | None = None,
        args_digest: str | None = None,
        call_key: str | None = None,
    ) -> str:
        """Record a tool call about to run; returns its intent id for ``result``.

        Non-object args are kept as ``{"value": args}``: runpack schemas want objects.
        ``call_key`` names a call announced by ``expect``: it takes the id and place kept for it.
        """
        if not isinstance(tool_name, str) or not tool_name:
            raise InvalidInput("tool_name must be a non-empty string", code=_CODE)
        when = self._clock() if ts is None else self._now(ts)
        if args is None and not args_digest:
            args = {}
        payload, computed, data = self._payload("args", args, intent_id or "intent")
        with self._lock:
            kept = self._expected.get(call_key) if call_key is not None else None
            if kept is not None and intent_id is None and kept[0] in self._reserved:
                intent_id, place = kept
                self._reserved.discard(intent_id)
            elif intent_id is None:
                intent_id, place = self._next_id(), self._next_place()
            elif not isinstance(intent_id, str) or not intent_id:
                raise InvalidInput("intent_id must be a non-empty string", code=_CODE)
            elif intent_id in self._intents or intent_id in self._reserved:
                raise InvalidInput(f"intent_id {intent_id!r} is used twice", code=_CODE)
            else:
                place = self._next_place()
            digest_hex = self._digest(computed, args_digest, intent_id, "args")
            # The canonical line, spliced: keys in JCS order, "args" (raw capture) first, its
            # bytes those already canonicalized for the digest (tests/test_runpack_fastpaths.py).
            tail = (
                f'"args_digest":"{digest_hex}",{self._t_created},'
                f'"intent_id":{_enc(intent_id)},{self._t_middle},'
                f'"schema_id":"gait.runpack.intent","schema_version":"{model.SCHEMA_VERSION}",'
                f'"tool_name":{_enc(tool_name)}}}\n'
            )
            if self.capture_mode == "raw" and data is not None:
                try:
                    line = b'{"args":' + data + b"," + tail.encode("utf-8")
                except UnicodeEncodeError:
                    record = dict(self._head)
                    record["schema_id"] = "gait.runpack.intent"
                    record["intent_id"] = intent_id
                    record["tool_name"] = tool_name
                    record["args_digest"] = digest_hex
                    record["args"] = payload
                    line = canonical_bytes(record) + b"\n"
            else:
                line = _utf8("{" + tail)
            self._intent_order.put(place, line)
            self._place[intent_id] = place
            self._intents[intent_id] = tool_name
            self._open[intent_id] = tool_name
            self._event("tool_call", when, intent_id)
        return intent_id

    def result(
        self,
        intent_id: str,
        result: Any = None,
        *,
        status: str = "ok",
        ts: str | None = None,
        result_digest: str | None = None,
    ) -> None:
        """Record what a tool call returned (``status="error"`` when it failed)."""
        if status not in ("ok", "error"):
            raise InvalidInput(f"status must be ok or error, not {status!r}", code=_CODE)
        if ts is not None:
            self._now(ts)  # validated; results carry no time of their own in the format
        payload, computed, data = self._payload("result", result, intent_id)
        with self._lock:
            if intent_id not in self._intents:
                raise InvalidInput(f"result for intent_id {intent_id!r} has no intent", code=_CODE)
            digest_hex = self._digest(computed, result_digest, intent_id, "result")
            head = (
                f'{{{self._t_created},"intent_id":{_enc(intent_id)},'
                f'"producer_version":{self._t_pv},'
            )
            tail = (
                f'"result_digest":"{digest_hex}",'
                f'"run_id":{self._t_run},"schema_id":"gait.runpack.result",'
                f'"schema_version":"{model.SCHEMA_VERSION}","status":"{status}"}}\n'
            )
            if self.capture_mode == "raw" and data is not None:
                try:  # spliced as in intent(): "result" sorts just before "result_digest"
                    line = head.encode("utf-8") + b'"result":' + data + b"," + tail.encode("utf-8")
                except UnicodeEncodeError:
                    record = dict(self._head)
                    record["schema_id"] = "gait.runpack.result"
                    record["intent_id"] = intent_id
                    record["status"] = status
                    record["result_digest"] = digest_hex
                    record["result"] = payload
                    line = canonical_bytes(record) + b"\n"
            else:
                line = _utf8(head + tail)
            self._result_order.put(self._place[intent_id], line)
            self._open.pop(intent_id, None)
            self._results.add(intent_id)
            if self._session is not None:
                self._session.record(self._intents[intent_id], intent_id, status == "ok")

    def expect(self, call_keys: Iterable[str]) -> None:
        """Announce the calls one model turn asked for, in the model's order (keys such as the
        tool call ids). Frameworks run a turn's calls concurrently; ``intent(call_key=...)``
        then gives each the id and place kept here, so the runpack reads in the model's order
        however the calls were scheduled. Keys seen before are ignored; a call announced but
        never recorded leaves no line."""
        with self._lock:
            for key in call_keys:
                if isinstance(key, str) and key and key not in self._expected:
                    intent_id = self._next_id()
                    self._reserved.add(intent_id)
                    self._expected[key] = (intent_id, self._next_place())

    @contextlib.contextmanager
    def turn_call(self, call_key: str) -> Iterator[None]:
        """Tool calls recorded inside (``gait.record.tool`` functions, ``call``) are the call
        ``call_key`` announced by ``expect``: a worker thread running one of a turn's calls
        says which one it runs, so the runpack keeps the model's order."""
        token = CALL_KEY.set(call_key or None)
        try:
            yield
        finally:
            CALL_KEY.reset(token)

    def _next_id(self) -> str:
        while True:
            self._counter += 1
            intent_id = f"intent_{self._counter}"
            if intent_id not in self._intents and intent_id not in self._reserved:
                return intent_id

    def _next_place(self) -> int:
        self._places += 1
        return self._places - 1

    def _payload(self, kind: str, value: Any, where: str) -> tuple[Any, str | None, bytes | None]:
        """(payload as written, its digest, its canonical bytes): canonicalised once, after
        redaction."""
        if value is None:
            return None, None, None
        try:
            data = canonical_bytes(value)
        except InvalidInput:
            value = jsonable(value, f"{where} {kind}")
            data = canonical_bytes(value)
        if not isinstance(value, dict) or (kind == "result" and value.keys() == {"value"}):
            # Runpack schemas (here and in the reference) want objects for args and results;
            # replay hands back what is inside a result's {"value": ...}, so a tool's own
            # {"value": ...} is kept inside one more.
            value = {"value": value}
            data = canonical_bytes(value)
        if self.redactor:
            value = self.redactor.apply(kind, value, where)
            data = canonical_bytes(value)
        return value, hashlib.sha256(data).hexdigest(), data

    def _digest(self, computed: str | None, given: str | None, intent_id: str, kind: str) -> str:
        if computed is not None:
            if given and given.lower() != computed and not self.redactor:
                raise InvalidInput(
                    f"{intent_id}: {kind}_digest does not match the digest of {kind}", code=_CODE
                )
            return computed
        if given:
            if len(given) != 64 or any(c not in "0123456789abcdefABCDEF" for c in given):
                raise InvalidInput(f"{intent_id}: {kind}_digest must be 64 hex", code=_CODE)
            return given.lower()
        return digest(None)

    def call(self, tool_name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` as a recorded tool call (for loops that own their tool dispatch)."""
        call_args = {"args": list(args), **kwargs} if args else dict(kwargs)
        intent_id = self.intent(tool_name, call_args, call_key=CALL_KEY.get())
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:
            self.result(intent_id, error_payload(exc), status="error")
            raise
        self.result(intent_id, value)
        return value

    def receipt(
        self,
        ref_id: str,
        source_type: str,
        source_locator: str,
        *,
        query: Any = None,
        content: Any = None,
        query_digest: str = "",
        content_digest: str = "",
        retrieved_at: str | None = None,
        redaction_mode: str = "reference",
        **optional: Any,
    ) -> None:
        """A reference receipt: what was retrieved, as digests; the content itself never."""
        receipt = {
            "ref_id": ref_id,
            "source_type": source_type,
            "source_locator": source_locator,
            "query_digest": query_digest or digest(query),
            "content_digest": content_digest or digest(content),
            "retrieved_at": retrieved_at or self._clock(),
            "redaction_mode": redaction_mode,
            **optional,
        }
        normal = build.normalize_receipt(receipt, f"receipt {ref_id}")
        with self._lock:
            if any(r["ref_id"] == ref_id for r in self._receipts):
                raise InvalidInput(f"receipt ref_id {ref_id!r} is used twice", code=_CODE)
            self._receipts.append(normal)

    def fail(self, exc: BaseException) -> None:
        """Close open calls as errors and mark the timeline: the failure is part of the run."""
        now = self._clock()
        with self._lock:
            still_open = list(self._open)
        for intent_id in still_open:
            self.result(intent_id, error_payload(exc), status="error", ts=now)
        with self._lock:
            self._event("error", now, still_open[-1] if still_open else "")

    def note_env(self, key: str, value: Any) -> None:
        """Add ``env[key]`` to run.json (written at close): what an importer read and skipped."""
        with self._lock:
            if self.written is not None:
                raise InvalidInput("the run is already written", code=_CODE)
            self._run["env"][key] = jsonable(value)

    # --- writing ----------------------------------------------------------------------------

    @property
    def redaction_report(self) -> dict[str, Any]:
        return self.redactor.report.to_json()

    def close(self) -> Written:
        """Write the runpack atomically (once); later calls return the same result."""
        if self.written is not None:
            return self.written
        with self._lock:
            for order in (self._intent_order, self._result_order):
                order.release()  # what waited on a call that was never recorded or finished
            self._event("finish", self._clock())
            refs = build.normalize_refs(
                {"receipts": self._receipts, "context_evidence_mode": self._evidence_mode},
                self._run,
                evidence_mode_default=self._evidence_mode,
            )
            self._members[model.REFS].write(canonical_bytes(refs))
            head = canonical_bytes(self._run)
            run_member = self._members[model.RUN]
            run_member.write(head[:-1] + b',"timeline":[')
            self._timeline.finish()
            for chunk in self._timeline.read_chunks():
                run_member.write(chunk)
            run_member.write(b"]}")
            self._timeline.close()
            for member in self._members.values():
                member.finish()
            data_hashes = {name: m.hash.hexdigest() for name, m in self._members.items()}
            manifest = {
                "schema_id": "gait.runpack.manifest",
                "schema_version": model.SCHEMA_VERSION,
                "created_at": self._run["created_at"],
                "producer_version": self._run["producer_version"],
                "run_id": self.run_id,
                "capture_mode": self.capture_mode,
                "files": [{"path": n, "sha256": data_hashes[n]} for n in sorted(data_hashes)],
                "manifest_digest": "",
            }
            manifest["manifest_digest"] = manifest_digest(manifest)
            key = self._key()
            if key is not None:
                from gait.sign.signature import sign_digest

                manifest["signatures"] = [sign_digest(key, signed_manifest_digest(manifest))]
            try:
                _write_zip_streaming(self.path, self._members, canonical_bytes(manifest))
            finally:
                for member in self._members.values():
                    member.close()
            self.written = Written(path=self.path, run_id=self.run_id, manifest=manifest)
        return self.written

    def _key(self) -> SigningKey | None:
        if not self._sign:
            return None
        from gait.sign.keys import SigningKey

        key = self._signing_key
        if isinstance(key, SigningKey):
            return key
        if key is not None:
            from gait.sign.keys import read_key_text

            return SigningKey.from_text(read_key_text(key, "private key"))
        from gait.sign.keyring import ensure_dev_key

        return ensure_dev_key()[0]


def error_payload(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ReplayedToolError) and isinstance(exc.payload, dict):
        return dict(exc.payload)  # a replayed tool error records what the original call did
    if isinstance(exc, GaitError):
        return {"error": exc.message, "error_code": exc.code, "type": type(exc).__name__}
    payload = {"error": str(exc), "type": type(exc).__name__}
    module = type(exc).__module__
    if module != "builtins":  # replay raises the agent's own exception type again
        payload["module"] = module
    return payload


def _write_zip_streaming(path: Path, members: dict[str, _Member], manifest: bytes) -> None:
    """The bytes ``archive.zip_bytes`` makes, written from spool files, then renamed in."""
    from gait.runpack.archive import _ZIP_EPOCH

    def write(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w") as archive:
            for name in model.MEMBER_ORDER:
                info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3
                info.external_attr = (0o100000 | 0o644) << 16
                info._compresslevel = 6  # type: ignore[attr-defined]
                if name == model.MANIFEST:
                    info.file_size = len(manifest)
                    with archive.open(info, "w") as dest:
                        dest.write(manifest)
                    continue
                member = members[name]
                info.file_size = member.size
                with archive.open(info, "w") as dest:
                    for chunk in member.read_chunks():
                        dest.write(chunk)

    replace_with(path, write)


def record(run_id: str | None = None, **options: Any) -> Recorder:
    """Start recording a run: ``with gait.record(run_id=...) as run:``, ``async with``, or
    ``@gait.record(run_id=...)`` on the function that runs the agent (see the module doc)."""
    recorder = Recorder(run_id, **options)
    recorder._again = lambda: Recorder(run_id, **options)
    return recorder


def current_run() -> Recorder | None:
    """The run the current context records into; in a thread started without it, the
    process's one open run (``gait.openscopes``)."""
    run = _CURRENT.get()
    return run if run is not None else _OPEN.sole()


def tool(name: str | Callable[..., Any] | None = None) -> Any:
    """``@gait.record.tool``: see ``gait.runpack.recorded_tool`` (loaded on first use)."""
    from gait.runpack.recorded_tool import tool as decorator

    return decorator(name)


record.tool = tool  # type: ignore[attr-defined]
record.current = current_run  # type: ignore[attr-defined]

__all__ = ["Recorder", "RawCaptureWarning", "current_run", "env_fingerprint", "record", "tool"]
