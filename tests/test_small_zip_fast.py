"""A small runpack's members are read in one inflate instead of streamed, and key objects are
built once per key: neither may change what verify says, nor let a key that is no longer
trusted still verify."""

from __future__ import annotations

import dataclasses
import time
import zipfile
from pathlib import Path

import pytest

from gait.canon import canonical_bytes
from gait.errors import InvalidInput
from gait.runpack.diff import RunView, diff_runpacks
from gait.runpack.reader import load_runpack
from gait.runpack.verify import verification_options, verify_runpack
from gait.runpack.writer import write_record_input
from gait.sign.keyring import keyring_path, trust_key, update_keyring
from gait.sign.keys import SigningKey


def _signed(tmp_path: Path, key: SigningKey) -> Path:
    doc = {
        "run": {"run_id": "run_small", "created_at": "2026-01-01T00:00:00Z"},
        "intents": [{"intent_id": "intent_1", "tool_name": "tool.search", "args": {"q": "q"}}],
        "results": [{"intent_id": "intent_1", "status": "ok", "result": {"n": 1}}],
    }
    return write_record_input(doc, tmp_path / "small.zip", signing_keys=[key]).path


def test_trust_store_changed_between_two_verifies_in_one_process(tmp_path: Path) -> None:
    signer, other = SigningKey.generate(), SigningKey.generate()
    path = _signed(tmp_path, signer)
    trust_key(signer.public(), mode="dev")
    first = verify_runpack(path, verification_options(require_trusted=True))
    assert (first.signature_status, first.ok) == ("verified", True)

    def swap(ring: object) -> None:
        ring.entries.clear()  # type: ignore[attr-defined]

    update_keyring(swap)
    trust_key(other.public(), mode="dev")
    second = verify_runpack(path, verification_options(require_trusted=True))
    assert second.signature_status != "verified"
    assert not second.ok


def test_corrupt_small_member_is_unreadable_not_accepted(tmp_path: Path) -> None:
    path = _signed(tmp_path, SigningKey.generate())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("intents.jsonl")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    # flip one byte inside the member's (deflated) data: a zlib error or a CRC mismatch
    data[start + info.compress_size // 2] ^= 0x55
    path.write_bytes(bytes(data))
    report = verify_runpack(path, verification_options()).to_json()
    assert report["error_codes"] == ["E_VERIFY_HASH_MISMATCH"]
    assert [(m["path"], m["actual"]) for m in report["hash_mismatches"]] == [("intents.jsonl", "")]


def _settle() -> None:
    """Past the trust store's settling time, so the next verify may answer it from memory."""
    time.sleep(0.15)


def test_settled_trust_store_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    """The trust store is parsed once while unchanged: a same-size rewrite in place (same
    inode, same length: another key where the signer's was) must not leave the old answer."""
    signer, other = SigningKey.generate(), SigningKey.generate()
    path = _signed(tmp_path, signer)
    trust_key(signer.public(), mode="dev")
    _settle()
    for _ in range(2):  # the second verify is answered from memory
        report = verify_runpack(path, verification_options(require_trusted=True))
        assert (report.signature_status, report.ok) == ("verified", True)
    store = keyring_path()
    text = store.read_text()
    swapped = text.replace(signer.key_id, other.key_id).replace(
        signer.public().to_text().strip(), other.public().to_text().strip()
    )
    assert swapped != text and len(swapped) == len(text)
    inode = store.stat().st_ino
    with open(store, "r+", encoding="utf-8") as handle:
        handle.write(swapped)
    assert store.stat().st_ino == inode
    report = verify_runpack(path, verification_options(require_trusted=True))
    assert report.signature_status != "verified" and not report.ok
    assert report.error_codes == ["E_VERIFY_UNTRUSTED_SIGNER"]


def test_settled_trust_store_removed_trusts_nothing(tmp_path: Path) -> None:
    signer = SigningKey.generate()
    path = _signed(tmp_path, signer)
    trust_key(signer.public(), mode="dev")
    _settle()
    assert verify_runpack(path, verification_options(require_trusted=True)).ok
    keyring_path().unlink()
    report = verify_runpack(path, verification_options(require_trusted=True))
    assert not report.ok and report.error_codes == ["E_VERIFY_UNTRUSTED_SIGNER"]


def _run(
    tmp_path: Path, name: str, tools: list[str], mode: str = "reference", **run: object
) -> Path:
    doc = {
        "capture_mode": mode,
        "run": {"run_id": f"run_{name}", "created_at": "2026-01-01T00:00:00Z", **run},
        "intents": [
            {"intent_id": f"intent_{tool}", "tool_name": f"tool.{tool}", "args": {"q": tool}}
            for tool in tools
        ],
        "results": [
            {"intent_id": f"intent_{tool}", "status": "ok", "result": {"n": tool}} for tool in tools
        ],
    }
    return write_record_input(doc, tmp_path / f"{name}.zip").path


@pytest.mark.parametrize(
    ("left", "right", "statuses"),
    [
        (["a", "b"], ["a", "b", "c", "d"], ["same", "same", "added", "added"]),
        (["a", "b", "c"], ["a"], ["same", "removed", "removed"]),
        (["a", "b"], ["a", "b"], ["same", "same"]),
        ([], ["a"], ["added"]),
        (["a", "b"], ["a", "x", "b"], ["same", "added", "same"]),
        (["a", "x", "b"], ["a", "y", "b"], ["same", "changed", "same"]),
    ],
)
def test_steps_only_added_or_removed_align_in_order(
    tmp_path: Path, left: list[str], right: list[str], statuses: list[str]
) -> None:
    """Equal sequences, or one side's extra steps only, pair without the sequence matcher;
    the steps come out as when it ran."""
    pair = [
        load_runpack(_run(tmp_path, side, tools), prove_canonical=True)
        for side, tools in (("left", left), ("right", right))
    ]
    steps = diff_runpacks(*pair).to_diff_json()["steps"]
    assert [s["status"] for s in steps] == statuses
    assert [s["index"] for s in steps] == list(range(len(statuses)))


@pytest.mark.parametrize(
    ("right_run", "right_tools", "right_mode"),
    [
        ({}, ["a", "b"], "reference"),
        ({"created_at": "2026-01-02T00:00:00Z"}, ["a", "b"], "reference"),
        ({}, ["a"], "reference"),
        ({}, ["a", "b"], "raw"),
        ({"env": {"os": "darwin"}}, ["a", "b"], "reference"),
    ],
)
def test_loaded_runs_diff_as_hand_built_ones(
    tmp_path: Path, right_run: dict[str, object], right_tools: list[str], right_mode: str
) -> None:
    """Loaded runs' documents are compared by their orjson forms (their bytes were proven
    canonical), hand-built ones (no proof) canonically: the same diff either way."""
    packs = [
        load_runpack(_run(tmp_path, "left", ["a", "b"]), prove_canonical=True),
        load_runpack(
            _run(tmp_path, "right", right_tools, right_mode, **right_run), prove_canonical=True
        ),
    ]
    loaded = diff_runpacks(*packs)
    built = diff_runpacks(*(dataclasses.replace(p, canonical_members={}) for p in packs))
    assert canonical_bytes(loaded.to_diff_json()) == canonical_bytes(built.to_diff_json())
    assert loaded.summary_lines() == built.summary_lines()
    assert loaded.summary["manifest_changed"] == (right_mode != "reference")
    assert loaded.summary["run_metadata_changed"] == ("env" in right_run)


def test_offsets_before_the_start_read_as_from_the_file(tmp_path: Path) -> None:
    """A small zip is read from memory: a central directory whose offsets point before the
    file's start fails as the file read does (OSError EINVAL), not as BytesIO would."""
    path = _signed(tmp_path, SigningKey.generate())
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    offset = int.from_bytes(data[end + 16 : end + 20], "little")
    data[end + 16 : end + 20] = (offset + 100_000).to_bytes(4, "little")  # concat < 0
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInput) as caught:
        verify_runpack(path, verification_options())
    assert caught.value.code == "E_VERIFY_INPUT_INVALID"
    assert caught.value.message == f"{path} is not a readable zip ([Errno 22] Invalid argument)"


class _Sub(dict):  # type: ignore[type-arg]
    def get(self, *args: object) -> object:  # never asked: diff reads dicts as dicts
        return "overridden"


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"tool_name": 7},
        {"args_digest": None},
        {"args": float("nan")},
        {"args": {"x": [1, 2.5, "é", None, True]}},
        {"args": 2**70},
        {"drop": "args"},
        {"drop": "intent_id"},
        {"sub": True},
    ],
)
def test_few_records_are_kept_as_many_are(tmp_path: Path, change: dict[str, object]) -> None:
    """A run of a few records is reduced record by record, a longer one by column: the same
    entries (or the same refusal, which keeps the records whole) either way."""
    pack = load_runpack(_run(tmp_path, "few", ["a", "b", "c"], mode="raw"))
    intents: list[object] = [dict(r) for r in pack.intents]
    odd: dict[str, object] = dict(pack.intents[1])
    if "drop" in change:
        del odd[str(change["drop"])]
    odd.update({k: v for k, v in change.items() if k not in ("drop", "sub")})
    intents[1] = _Sub(odd) if change.get("sub") else odd
    many = intents * 7  # past the few-records path
    results = pack.results[1:]  # the first call has no result: a missing one
    views = [
        RunView(dataclasses.replace(pack, intents=records, results=results))  # type: ignore[arg-type]
        for records in (intents, many)
    ]
    assert views[0].odd == views[1].odd
    for privacy in ("full", "metadata"):
        assert views[0].sigs(privacy) == views[1].sigs(privacy)[: len(intents)]
    if not views[0].odd:
        assert views[0].intents == views[1].intents[: len(intents)]
        assert views[0].intents[1][1] == odd.get("tool_name")
