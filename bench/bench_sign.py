"""Ed25519 cost: gait.sign.keys (libsodium through PyNaCl's cffi module) against cryptography's
OpenSSL binding, which it replaced (issues 14 and 16 item 6).

Run: ``python bench/bench_sign.py [--instructions]``. Prints one JSON object: the best CPU
microseconds per call of 7 rounds (signing and verifying a 32-byte digest, deriving a key from a
seed) for both, the load average, and with ``--instructions`` what importing each binding costs
a fresh interpreter in instructions (valgrind's callgrind, which load does not move).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from typing import Any

IMPORTS = {
    "python_c_pass": "pass",
    "libsodium_cffi": "from nacl._sodium import lib; lib.sodium_init()",
    "nacl_bindings": "import nacl.bindings",
    "cryptography_binding": (
        "from cryptography.hazmat.bindings._rust import openssl; openssl.ed25519"
    ),
}


def per_call_us(fn: Any, calls: int = 2000, rounds: int = 7) -> float:
    """The best CPU time per call over ``rounds`` (process time: load moves it less than wall)."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls)
    return round(best * 1e6, 1)


def bench_calls() -> dict[str, Any]:
    from gait.sign.keys import SigningKey

    seed, digest = os.urandom(32), hashlib.sha256(b"gait").digest()
    ours = SigningKey.from_raw(seed)
    signature, public = ours.sign(digest), ours.public()
    out: dict[str, Any] = {
        "libsodium_sign_us": per_call_us(lambda: ours.sign(digest)),
        "libsodium_verify_us": per_call_us(lambda: public.verify(signature, digest)),
        "libsodium_key_from_seed_us": per_call_us(lambda: SigningKey.from_raw(seed)),
    }
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        out["openssl"] = "cryptography not installed"
        return out
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    their_public = theirs.public_key()
    assert theirs.sign(digest) == signature  # Ed25519 is deterministic: the same bytes
    out["openssl_sign_us"] = per_call_us(lambda: theirs.sign(digest))
    out["openssl_verify_us"] = per_call_us(lambda: their_public.verify(signature, digest))
    out["openssl_key_from_seed_us"] = per_call_us(
        lambda: Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    )
    return out


def bench_imports() -> dict[str, Any]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind not installed"}
    from bench_gate import callgrind_instructions  # bench/ is this script's directory

    out: dict[str, Any] = {}
    for name, code in IMPORTS.items():
        out[f"{name}_instructions"] = callgrind_instructions(valgrind, [sys.executable, "-c", code])
    base = out["python_c_pass_instructions"]
    for name in IMPORTS:
        count = out[f"{name}_instructions"]
        if name != "python_c_pass" and base and count:
            out[f"{name}_import_M"] = round((count - base) / 1e6, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instructions", action="store_true", help="import costs (valgrind)")
    args = parser.parse_args()
    summary: dict[str, Any] = {"calls": bench_calls()}
    if args.instructions:
        summary["imports"] = bench_imports()
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(summary, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
