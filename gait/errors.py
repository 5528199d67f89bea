"""One exception tree for the whole project.

Each class carries the exit code of the CLI contract (PRD section 8) and the error category of
FORMATS.md section 7; each raise names its stable ``E_*`` code. The CLI turns any of these into
one line (or one JSON document) and the right exit code, never a traceback.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar


class ExitCode(int):
    """The CLI contract's exit codes: ints (``sys.exit`` and ``%d`` take them as they are) with a
    name, like the ``IntEnum`` they were: ``ExitCode(6)`` is ``ExitCode.INVALID_INPUT`` and an
    unknown value is a ValueError. Not an enum: building one cost every ``gait gate eval``
    process 1% of its instructions (issue 16 item 6)."""

    name: str
    OK: ClassVar[ExitCode]
    INTERNAL: ClassVar[ExitCode]
    VERIFY_FAILED: ClassVar[ExitCode]
    POLICY_BLOCKED: ClassVar[ExitCode]
    APPROVAL_REQUIRED: ClassVar[ExitCode]
    REGRESS_FAILED: ClassVar[ExitCode]
    INVALID_INPUT: ClassVar[ExitCode]
    DEPENDENCY_MISSING: ClassVar[ExitCode]
    UNSAFE_OPERATION: ClassVar[ExitCode]
    INTERRUPTED: ClassVar[ExitCode]  # 128 + SIGINT, as a shell reports a Ctrl-C

    def __new__(cls, value: object) -> ExitCode:
        try:
            return _BY_VALUE[value]  # type: ignore[index]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid ExitCode") from None

    def __repr__(self) -> str:
        return f"<ExitCode.{self.name}: {int(self)}>"

    __str__ = int.__repr__  # as IntEnum prints: the number

    def __reduce__(self) -> tuple[Any, ...]:
        return getattr, (ExitCode, self.name)


_BY_VALUE: dict[int, ExitCode] = {}


def _exit_codes() -> None:
    names = (
        "OK",
        "INTERNAL",
        "VERIFY_FAILED",
        "POLICY_BLOCKED",
        "APPROVAL_REQUIRED",
        "REGRESS_FAILED",
        "INVALID_INPUT",
        "DEPENDENCY_MISSING",
        "UNSAFE_OPERATION",
    )
    for value, name in [*enumerate(names), (130, "INTERRUPTED")]:
        code = int.__new__(ExitCode, value)
        code.name = name
        setattr(ExitCode, name, code)
        _BY_VALUE[value] = code


_exit_codes()


class GaitError(Exception):
    """Base class: an error a user can act on."""

    exit_code: ExitCode = ExitCode.INTERNAL
    category: str = "internal_failure"
    default_code: str = "E_INTERNAL"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.hint = hint
        self.details = details or {}


class InvalidInput(GaitError):
    exit_code = ExitCode.INVALID_INPUT
    category = "invalid_input"
    default_code = "E_INVALID_INPUT"


class VerificationFailed(GaitError):
    exit_code = ExitCode.VERIFY_FAILED
    category = "verification_failed"
    default_code = "E_VERIFY_FAILED"


class PolicyBlocked(GaitError):
    exit_code = ExitCode.POLICY_BLOCKED
    category = "policy_blocked"
    default_code = "E_POLICY_BLOCKED"


class ApprovalRequired(GaitError):
    exit_code = ExitCode.APPROVAL_REQUIRED
    category = "approval_required"
    default_code = "E_APPROVAL_REQUIRED"


class RegressFailed(GaitError):
    exit_code = ExitCode.REGRESS_FAILED
    category = "verification_failed"
    default_code = "E_REGRESS_FAILED"


class DependencyMissing(GaitError):
    exit_code = ExitCode.DEPENDENCY_MISSING
    category = "dependency_missing"
    default_code = "E_DEPENDENCY_MISSING"


class UnsafeOperation(GaitError):
    exit_code = ExitCode.UNSAFE_OPERATION
    category = "invalid_input"
    default_code = "E_UNSAFE_OPERATION"


class IOFailure(GaitError):
    exit_code = ExitCode.INTERNAL
    category = "io_failure"
    default_code = "E_IO"


class StateContention(GaitError):
    exit_code = ExitCode.INTERNAL
    category = "state_contention"
    default_code = "E_STATE_CONTENTION"
    retryable = True


class Interrupted(GaitError):
    """SIGINT or SIGTERM stopped a run; what it would have written was left as it was."""

    exit_code = ExitCode.INTERRUPTED
    category = "internal_failure"
    default_code = "E_INTERRUPTED"


class TraceUnwritable(IOFailure):
    """The decision log or a trace file cannot be locked, read or written. A typed error so the
    gate can fail closed on it (production) or report it as bad input (dev) by type, not by
    comparing code strings."""

    default_code = "E_TRACE_UNWRITABLE"


class SigningKeyRequired(InvalidInput):
    """No signing key where one is required; the gate defers this error until it must sign."""

    default_code = "E_SIGN_KEY_REQUIRED"


class StateUnavailable(IOFailure):
    """Shared gate state (PostgreSQL) cannot be reached: mcp serve answers 503, not 500."""

    default_code = "E_STATE_UNAVAILABLE"


class ProfileRefused(InvalidInput):
    """The oss-prod profile refuses the setup (not the call): always exit 6, never turned into a
    fail-closed block, since no decision was made."""

    default_code = "E_PROFILE_OSS_PROD"
