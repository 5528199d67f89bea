"""A normalised IntentRequest as evaluation reads it.

``doc`` is exactly what the intent digest hashes (gait.gate.intent builds it); the attributes are
the fields rule matching reads, pulled out once. The digests are computed on first use, since
many decisions never print them.
"""

from __future__ import annotations

from gait.canon import digest, digest_floatless

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Claims an intent makes about context evidence: dropped unless a verified envelope backs them.
EVIDENCE_CLAIMS = ("context_set_digest", "context_evidence_mode", "context_refs")


class NormalizedIntent:
    """A normalised IntentRequest: ``doc`` is exactly what the intent digest hashes.

    The attributes are the fields evaluation reads, pulled out once so that rule matching is a
    handful of attribute loads and set lookups.
    """

    __slots__ = (
        "doc",
        "tool_name",
        "args",
        "targets",
        "provenance",
        "context",
        "script",
        "created_at",
        "identity",
        "workspace",
        "risk_class",
        "phase",
        "destructive",
        "floatless",
        "_digest",
        "_args_digest",
    )

    def __init__(self, doc: dict[str, Any], created_at: str, floatless: bool = False) -> None:
        self.doc = doc
        # True when the normaliser saw every value of ``doc`` and none was a float: its digests
        # then take orjson's path (``gait.canon.digest_floatless``); False is always correct.
        self.floatless = floatless
        self.tool_name: str = doc["tool_name"]
        self.args: dict[str, Any] = doc["args"]
        self.targets: list[dict[str, Any]] = doc["targets"]
        self.provenance: list[dict[str, Any]] = doc.get("arg_provenance", [])
        self.context: dict[str, Any] = doc["context"]
        self.script: dict[str, Any] | None = doc.get("script")
        self.created_at = created_at
        ctx = self.context
        self.identity: str = ctx["identity"]
        self.workspace: str = ctx["workspace"]
        self.risk_class: str = ctx["risk_class"]
        self.phase: str = ctx["phase"]
        destructive = False
        for target in self.targets:
            if "destructive" in target:
                destructive = True
                break
        self.destructive = destructive
        self._digest: str | None = None
        self._args_digest: str | None = None

    @property
    def digest(self) -> str:
        """``intent_digest``: H(normalised intent)."""
        if self._digest is None:
            self._digest = digest_floatless(self.doc) if self.floatless else digest(self.doc)
        return self._digest

    @property
    def args_digest(self) -> str:
        """The gate's ``args_digest``: H(trimmed args)."""
        if self._args_digest is None:
            args = self.args
            self._args_digest = digest_floatless(args) if self.floatless else digest(args)
        return self._args_digest

    def stripped(self) -> NormalizedIntent:
        """This intent without unverified context-evidence claims (what evaluation sees)."""
        ctx = self.context
        auth = ctx.get("auth_context")
        has_age = auth is not None and "context_age_seconds" in auth
        if not has_age and not (
            "context_set_digest" in ctx or "context_evidence_mode" in ctx or "context_refs" in ctx
        ):  # EVIDENCE_CLAIMS, spelled out: this runs on every decision
            return self
        new_ctx = {key: val for key, val in ctx.items() if key not in EVIDENCE_CLAIMS}
        if has_age and auth is not None:
            rest = {key: val for key, val in auth.items() if key != "context_age_seconds"}
            if rest:
                new_ctx["auth_context"] = rest
            else:
                del new_ctx["auth_context"]
        doc = dict(self.doc)
        doc["context"] = new_ctx
        return NormalizedIntent(doc, self.created_at, self.floatless)

    def step(self, index: int) -> NormalizedIntent:
        """Script step ``index`` as a single intent sharing this intent's context."""
        assert self.script is not None
        step = self.script["steps"][index]
        doc = {
            "tool_name": step["tool_name"],
            "args": step["args"],
            "targets": step.get("targets", []),
            "context": self.context,
        }
        if step.get("arg_provenance"):
            doc["arg_provenance"] = step["arg_provenance"]
        for shared in ("skill_provenance", "delegation"):  # steps keep the script's own
            if shared in self.doc:
                doc[shared] = self.doc[shared]
        return NormalizedIntent(doc, self.created_at, self.floatless)
