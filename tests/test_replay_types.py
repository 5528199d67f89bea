"""A typed agent replayed from its runpack gets back the types its tools declare: pydantic
models, dataclasses, enums, datetimes and the other values ``gait.values`` writes as JSON; a
recorded value that does not fit its annotation comes back as recorded, with a warning."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import gait
from gait.retype import ReplayTypeWarning, retyped
from gait.runpack.reader import load_runpack
from gait.values import to_json_value


class Status(enum.Enum):
    OPEN = "open"
    SHIPPED = "shipped"


class Line(BaseModel):
    sku: str
    qty: int


class Order(BaseModel):
    order_id: str
    placed: dt.datetime
    lines: list[Line]
    status: Status


@dataclass
class Stock:
    sku: str
    counts: dict[int, int]
    where: PurePosixPath
    batch: uuid.UUID
    price: Decimal
    tags: tuple[str, ...] = ()
    seen: dt.date | None = None
    order: Order | None = None
    history: list[dt.timedelta] = field(default_factory=list)


ORDER = Order(
    order_id="o_1",
    placed=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC),
    lines=[Line(sku="s_1", qty=2)],
    status=Status.SHIPPED,
)
STOCK = Stock(
    sku="s_1",
    counts={3: 10, 7: 0},
    where=PurePosixPath("/warehouse/a"),
    batch=uuid.UUID(int=42),
    price=Decimal("19.90"),
    tags=("cold", "fragile"),
    seen=dt.date(2026, 2, 28),
    order=ORDER,
    history=[dt.timedelta(seconds=90)],
)


@gait.record.tool("orders.get")
def get_order(order_id: str) -> Order:
    return ORDER


@gait.record.tool("stock.get")
def get_stock(sku: str) -> Stock:
    return STOCK


@gait.record.tool("orders.recent")
def recent(limit: int) -> list[Order] | None:
    return [ORDER] * limit


@gait.record.tool("orders.pair")
def pair() -> tuple[Status, bytes]:
    return Status.OPEN, b"\x00\xff"


@gait.record.tool("orders.stream")
def stream(n: int) -> Iterator[Line]:
    yield from (Line(sku=f"s_{i}", qty=i) for i in range(n))


@gait.record.tool("orders.loose")
def loose() -> Order:
    return {"order_id": "o_2"}  # type: ignore[return-value]  # the annotation is wrong


def test_a_typed_agent_gets_its_types_back_on_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def agent() -> list[object]:
        return [
            get_order("o_1"),
            get_stock("s_1"),
            recent(2),
            pair(),
            list(stream(2)),
        ]

    with gait.record(run_id="run_typed", out_dir=tmp_path, capture_mode="raw") as run:
        recorded = agent()
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.path))
    monkeypatch.setenv("GAIT_RECORD_TO", str(tmp_path / "candidate.zip"))
    with gait.record(run_id="run_candidate", capture_mode="raw"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            replayed = agent()
    assert replayed == recorded
    assert isinstance(replayed[0], Order) and replayed[0].placed.tzinfo is not None
    assert isinstance(replayed[1], Stock) and isinstance(replayed[1].order, Order)
    assert replayed[3] == (Status.OPEN, b"\x00\xff")


def test_a_value_that_does_not_fit_its_annotation_comes_back_as_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gait.record(run_id="run_loose", out_dir=tmp_path, capture_mode="raw") as run:
        assert loose() == {"order_id": "o_2"}
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.path))
    monkeypatch.setenv("GAIT_RECORD_TO", str(tmp_path / "candidate.zip"))
    with gait.record(run_id="run_candidate", capture_mode="raw"):
        with pytest.warns(ReplayTypeWarning, match=r"orders\.loose does not fit .*Order"):
            assert loose() == {"order_id": "o_2"}


# Round trip of the forward rule: retyped(T, to_json_value(v)) == v for values of T.
aware = st.datetimes(timezones=st.just(dt.UTC))
stocks = st.builds(
    Stock,
    sku=st.text(max_size=8),
    counts=st.dictionaries(st.integers(-(2**40), 2**40), st.integers(), max_size=4),
    where=st.builds(PurePosixPath, st.from_regex(r"/[a-z]{1,6}(/[a-z]{1,6}){0,2}", fullmatch=True)),
    batch=st.uuids(),
    price=st.decimals(allow_nan=False, allow_infinity=False, places=2),
    tags=st.lists(st.text(max_size=5), max_size=3).map(tuple),
    seen=st.none() | st.dates(),
    order=st.none()
    | st.builds(
        Order,
        order_id=st.text(max_size=6),
        placed=aware,
        lines=st.lists(st.builds(Line, sku=st.text(max_size=4), qty=st.integers()), max_size=3),
        status=st.sampled_from(Status),
    ),
    history=st.lists(
        st.integers(-(10**6), 10**6).map(lambda s: dt.timedelta(seconds=s)), max_size=3
    ),
)


@settings(max_examples=150, deadline=None)
@given(stocks)
def test_retyped_inverts_the_json_rule(stock: Stock) -> None:
    assert retyped(Stock, to_json_value(stock), "tool.stock") == stock


class RateLimited(Exception):
    pass


class HTTPStatusError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status


class NotFound(KeyError):
    pass


@gait.record.tool("api.call")
def api_call(n: int) -> dict:
    raise [RateLimited("slow down"), HTTPStatusError(503, "busy"), NotFound("k"), OSError("io")][n]


def test_a_replayed_tool_error_is_the_agents_own_exception_type_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def agent() -> list[str]:
        caught = []
        for n, kind in enumerate((RateLimited, HTTPStatusError, KeyError, OSError)):
            try:
                api_call(n)
            except kind as exc:
                caught.append(type(exc).__name__)
        return caught

    with gait.record(run_id="run_errors", out_dir=tmp_path, capture_mode="raw") as run:
        assert agent() == ["RateLimited", "HTTPStatusError", "NotFound", "OSError"]
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.path))
    monkeypatch.setenv("GAIT_RECORD_TO", str(tmp_path / "candidate.zip"))
    with gait.record(run_id="run_candidate", capture_mode="raw") as candidate:
        assert agent() == ["RateLimited", "HTTPStatusError", "NotFound", "OSError"]
    baseline, again = (
        [r["result"] for r in load_runpack(path).results] for path in (run.path, candidate.path)
    )
    assert again == baseline  # the candidate records what the original calls recorded
    assert baseline[0] == {"error": "slow down", "module": __name__, "type": "RateLimited"}
