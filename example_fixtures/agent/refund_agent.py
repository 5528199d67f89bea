"""A small refund-support agent, the example behind ``example_fixtures/gait.agent.yaml``.

It handles one ticket with five tool calls (look up the customer, fetch the order, search the
refund policy, issue the refund, email the customer) and records the run with the gait SDK.
Its tools have fake, deterministic backends so that ``build_fixtures.py`` can record the
fixture offline. Under ``gait regress run`` the tools never run: ``GAIT_REPLAY_FROM`` makes
every ``@tool`` answer from the fixture's runpack and ``GAIT_RECORD_TO`` says where to write
the candidate runpack that the graders compare with the fixture.

``REFUND_AGENT_VARIANT=skip-policy`` is a regression on purpose: the agent refunds without
checking the policy first, which the trajectory, diff and no-new-tools graders catch.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gait.runpack.recorder import record, tool

RUN_ID = "run_refund_support"
STARTED = "2026-03-02T09:30:00Z"
TICKET = {"ticket_id": "T-1042", "email": "ada@example.com", "order_id": "ord_7731"}
POLICY_DOC = "kb://policies/refunds#v7"


@tool("crm.lookup_customer")
def lookup_customer(email: str) -> dict[str, Any]:
    return {"customer_id": "cus_501", "email": email, "tier": "gold", "open_tickets": 1}


@tool("orders.get_order")
def get_order(order_id: str, customer_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "amount": 42.5,
        "currency": "EUR",
        "delivered": True,
        "days_since_delivery": 9,
    }


@tool("kb.search_policy")
def search_policy(query: str, top_k: int = 1) -> dict[str, Any]:
    return {
        "doc": POLICY_DOC,
        "refund_window_days": 30,
        "auto_refund_limit": 100,
        "score": 0.91,
    }


@tool("payments.refund")
def refund(order_id: str, amount: float, currency: str, reason: str) -> dict[str, Any]:
    return {"refund_id": "rf_9001", "status": "succeeded", "verdict": "allow"}


@tool("email.send")
def send_email(to: str, template: str, refund_id: str) -> dict[str, Any]:
    return {"message_id": "msg_3307", "queued": True}


def handle(ticket: dict[str, Any], variant: str = "") -> dict[str, Any]:
    customer = lookup_customer(email=ticket["email"])
    order = get_order(order_id=ticket["order_id"], customer_id=customer["customer_id"])
    within_policy = True
    if variant != "skip-policy":
        policy = search_policy(query="refund window for delivered orders", top_k=1)
        within_policy = (
            order["days_since_delivery"] <= policy["refund_window_days"]
            and order["amount"] <= policy["auto_refund_limit"]
        )
    if not within_policy:
        return {"refunded": False}
    done = refund(
        order_id=order["order_id"],
        amount=order["amount"],
        currency=order["currency"],
        reason="customer request within policy",
    )
    send_email(to=customer["email"], template="refund_confirmation", refund_id=done["refund_id"])
    return {"refunded": True, "refund_id": done["refund_id"]}


def main() -> int:
    variant = os.environ.get("REFUND_AGENT_VARIANT", "")
    ticks = iter(range(10_000))

    def clock() -> str:  # a fixed clock: the same run gives the same runpack bytes
        return f"2026-03-02T09:30:{min(next(ticks), 59):02d}Z"

    with record(
        RUN_ID,
        capture_mode="raw",
        sign=False,
        created_at=STARTED,
        clock=clock,
        env={"os": "example", "arch": "example", "runtime": "python"},
        out=os.environ.get("REFUND_AGENT_OUT") or None,
    ) as run:
        if variant != "skip-policy":
            run.receipt(
                "ref_policy",
                "knowledge_base",
                POLICY_DOC,
                query="refund window for delivered orders",
                content={"doc": POLICY_DOC, "version": 7},
                retrieved_at=STARTED,
                immutability="immutable",
                sensitivity_label="internal",
            )
        outcome = handle(TICKET, variant)
    print(f"refunded={outcome['refunded']} run_id={RUN_ID}")
    return 0


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # the raw-capture warning is expected in this example
    sys.exit(main())
