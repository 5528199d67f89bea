"""The starter graders, registered through the ``gait.graders`` entry point exactly as a
third-party package registers its own (pyproject: ``starter = "graders.starter"``)."""

from __future__ import annotations

from gait.regress import Grader, hookimpl
from graders import context, extra, reference


@hookimpl
def gait_grader_register() -> list[Grader]:
    return [
        # The reference's graders: on every fixture by default.
        Grader(
            "schema_validation",
            reference.schema_validation,
            description="the fixture runpack verifies and every member validates",
        ),
        Grader(
            "expected_exit_code",
            reference.expected_exit_code,
            description="stub replay exits with expected_replay_exit_code",
            update=reference.update_exit_code,
        ),
        Grader(
            "trajectory",
            reference.trajectory,
            description="tool and verdict sequences (options: mode exact|subsequence|unordered)",
            update=reference.update_trajectory,
            options={"mode": "exact | subsequence | unordered"},
        ),
        Grader(
            "diff",
            reference.diff,
            description="candidate vs fixture runpack; only diff_allow_changed_files may change",
            update=reference.replace_runpack,
        ),
        # The reference's fifth: on every fixture once --context-conformance or a fixture's
        # context expectations ask for it (gait.regress.engine), or where named.
        Grader(
            "context_conformance",
            context.context_conformance,
            default=False,
            description="context evidence unchanged (or runtime-only drift, when allowed)",
            update=reference.replace_runpack,
            options={"enforce": "bool", "allow_runtime_drift": "bool"},
        ),
        # Opt-in: named under `graders` in gait.yaml or fixture.json.
        Grader(
            "args_match",
            extra.args_match,
            default=False,
            description="arguments at JSON paths: exact, regex or numeric tolerance",
            update=reference.replace_runpack,
            options={"rules": "[{tool|intent_id, path, equals?, regex?, tolerance?}]"},
        ),
        Grader(
            "result_digest",
            extra.result_digest,
            default=False,
            description="every recorded result digest is unchanged",
            update=reference.replace_runpack,
            options={"intents": "[intent ids]"},
        ),
        Grader(
            "verdict_sequence",
            extra.verdict_sequence_grader,
            default=False,
            description="gate verdicts per step equal expected_verdict_sequence",
            update=extra.update_verdicts,
        ),
        Grader(
            "refs_match",
            extra.refs_match,
            default=False,
            description="reference receipts (and context set digest) are unchanged",
            update=reference.replace_runpack,
            options={"fields": "[receipt fields]"},
        ),
        Grader(
            "no_new_tools",
            extra.no_new_tools,
            default=False,
            description="no tool the fixture never called",
            update=reference.replace_runpack,
            options={"allow": "[tool names]"},
        ),
        Grader(
            "max_steps",
            extra.max_steps,
            default=False,
            description="at most N tool calls (default: the fixture's count)",
            update=extra.update_max_steps,
            options={"max": "integer"},
        ),
    ]
