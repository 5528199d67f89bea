"""Which key signs, which keys are trusted, and in which mode.

The keyring (``GAIT_HOME/keyring.json``) is the trust store: public keys with their signing
mode (dev or prod) and rotation status. Modes come from here, never from an artifact, so a
runpack cannot claim to be production-signed. Rotation keeps old keys trusted for old
artifacts; nothing about rotation is written into artifacts.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path

from gait import timefmt
from gait.canon import dumps_pretty, loads_strict
from gait.errors import InvalidInput, SigningKeyRequired
from gait.fsutil import (
    atomic_write,
    create_exclusive,
    file_lock,
    gait_home,
    private_dir,
    read_no_follow,
)
from gait.plain import Plain
from gait.sign.keys import SigningKey, VerifyKey, read_env_text, read_key_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

MODES = ("dev", "prod")
DEV_WARNING = (
    "dev mode: signing with the local dev key in GAIT_HOME; use --key-mode prod with "
    "--private-key for production artifacts"
)
KEYRING_SCHEMA = "gait.keyring"


# Not dataclasses (gait.plain: the same constructor, equality and repr): a gate decision reads
# the keyring, and each dataclass built at import was work every such process paid.
class KeyEntry(Plain):
    """One key the keyring knows, with the trust and rotation state a verifier needs."""

    __slots__ = _fields = (
        "key_id",
        "public_key",
        "mode",
        "trusted",
        "status",
        "label",
        "added_at",
        "rotated_to",
        "publishers",
    )

    def __init__(
        self,
        key_id: str,
        public_key: str,
        mode: str,
        trusted: bool = True,
        status: str = "active",
        label: str = "",
        added_at: str = "",
        rotated_to: str = "",
        publishers: list[str] | None = None,
    ) -> None:
        self.key_id = key_id
        self.public_key = public_key
        self.mode = mode
        self.trusted = trusted
        self.status = status
        self.label = label
        self.added_at = added_at
        self.rotated_to = rotated_to
        # Registry publishers this key signs for (``gait keys trust --publisher``): a pack is
        # accepted only from a key trusted for the publisher it declares.
        self.publishers: list[str] = [] if publishers is None else publishers

    def verify_key(self) -> VerifyKey:
        if isinstance(self.public_key, str):
            return _verify_key_of(self.public_key)
        return VerifyKey.from_text(self.public_key)  # a corrupt entry: its usual error


class Keyring(Plain):
    """The keyring file's entries, read whole so a rotation rewrites it atomically."""

    __slots__ = _fields = ("path", "entries")

    def __init__(self, path: Path, entries: list[KeyEntry] | None = None) -> None:
        self.path = path
        self.entries: list[KeyEntry] = [] if entries is None else entries

    def find(self, key_id: str) -> KeyEntry | None:
        return next((e for e in self.entries if e.key_id == key_id), None)

    def trusted_keys(self) -> list[VerifyKey]:
        return [e.verify_key() for e in self.entries if e.trusted]

    def upsert(self, entry: KeyEntry) -> None:
        existing = self.find(entry.key_id)
        if existing is None:
            self.entries.append(entry)
        else:
            existing.trusted = entry.trusted
            existing.mode = entry.mode
            existing.label = entry.label or existing.label
            existing.status = entry.status
            existing.publishers = sorted(set(existing.publishers) | set(entry.publishers))
        self.entries.sort(key=lambda e: (e.added_at, e.key_id))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_id": KEYRING_SCHEMA,
            "schema_version": "1.0.0",
            "keys": [_entry_data(e) for e in self.entries],
        }


def _entry_data(entry: KeyEntry) -> dict[str, Any]:
    """``dataclasses.asdict(entry)``: the entry's fields in order, lists and mappings copied
    (an entry holds what a keyring file held). Not ``asdict`` itself: its deep copy would run
    the ``copy`` module a gate process otherwise leaves unexecuted (gait.cli.main DEFERRED)."""
    return {name: _copied(getattr(entry, name)) for name in entry._fields}


def _copied(value: Any) -> Any:
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value


@functools.lru_cache(maxsize=256)
def _verify_key_of(text: str) -> VerifyKey:
    """Key text to key is pure: each text is decoded and its key id hashed once a process
    (every verify and gate reads the trust store's keys)."""
    return VerifyKey.from_text(text)


def keyring_path() -> Path:
    return gait_home() / "keyring.json"


def load_keyring() -> Keyring:
    """The trust store as the files say now: parsed once and then answered from memory while
    neither ``keyring.json`` nor the dev public key (which decides what counts as dev) has
    changed. Each call stats both (device, inode, size, mtime, ctime; a rewrite in place or a
    replacement changes at least the ctime), and only files whose ctime was already
    ``_SETTLED_NS`` old when read are remembered: a change made after that read then has a
    later ctime on any clock tick, so a removed or changed key is never answered from
    memory. Each call gets its own entries (callers change them)."""
    global _LAST
    path, dev_public = _store_paths(os.environ.get("GAIT_HOME"), os.environ.get("HOME"))
    started = time.time_ns()
    stamp = (str(path), _stamp(path, follow=True), str(dev_public), _stamp(dev_public))
    last = _LAST
    if last is not None and last[0] == stamp:
        return Keyring(
            path, [KeyEntry(**{**item, "publishers": list(item["publishers"])}) for item in last[1]]
        )
    ring = _read_keyring(path)
    settled = started - _SETTLED_NS
    if all(part is None or part[-1] < settled for part in (stamp[1], stamp[3])):
        _LAST = (stamp, [_entry_data(entry) for entry in ring.entries])
    return ring


@functools.lru_cache(maxsize=8)
def _store_paths(home: str | None, user_home: str | None) -> tuple[Path, Path]:
    """``keyring_path()`` and the dev public key's path, for these GAIT_HOME and HOME values
    (what ``gait_home`` reads)."""
    return keyring_path(), dev_key_paths()[1]


_SETTLED_NS = 100_000_000  # far above any file system's timestamp granularity
_Stamp = tuple[int, int, int, int, int]
_LAST: tuple[tuple[str, _Stamp | None, str, _Stamp | None], list[dict[str, Any]]] | None = None


def _stamp(path: Path, *, follow: bool = False) -> _Stamp | None:
    """What says a file changed: None when it is absent; a stamp equal to no other when the
    stat fails otherwise (nothing is then answered from memory)."""
    try:
        found = os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return (-1, -1, -1, -1, time.time_ns() + _SETTLED_NS)  # never settled, never equal
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _read_keyring(path: Path) -> Keyring:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Keyring(path)
    except OSError as exc:
        raise InvalidInput(f"trust store unreadable: {path}", code="E_TRUST_STORE_INVALID") from exc
    doc = loads_strict(data, what=f"trust store {path}", code="E_TRUST_STORE_INVALID")
    try:
        if doc.get("schema_id") != KEYRING_SCHEMA:
            raise ValueError("wrong schema_id")
        entries = [KeyEntry(**item) for item in doc["keys"]]
        for entry in entries:
            try:
                key = entry.verify_key()
            except InvalidInput as exc:  # named, as gait keys untrust cannot read the file
                raise InvalidInput(
                    f"trust store {path}: entry {entry.key_id}: {exc.message}",
                    code="E_TRUST_STORE_INVALID",
                    hint=f"delete that entry from {path}, then gait keys trust the signer's "
                    "public key file",
                ) from exc
            if entry.mode not in MODES or key.key_id != entry.key_id:
                raise ValueError(f"bad entry {entry.key_id}")
            if not isinstance(entry.publishers, list) or not all(
                isinstance(p, str) for p in entry.publishers
            ):
                raise ValueError(f"bad publishers for {entry.key_id}")
    except (AttributeError, KeyError, TypeError, ValueError, InvalidInput) as exc:
        if isinstance(exc, InvalidInput) and exc.code == "E_TRUST_STORE_INVALID":
            raise  # an entry's key, named above
        raise InvalidInput(
            f"trust store {path} is corrupt: {exc}",
            code="E_TRUST_STORE_INVALID",
            hint=f"inspect or remove {path}, then re-run gait keys init",
        ) from exc
    dev_id = local_dev_key_id()
    for entry in entries:
        if entry.key_id == dev_id:
            entry.mode = "dev"  # the local dev key is never production, whatever the file says
    return Keyring(path, entries)


def local_dev_key_id() -> str:
    """Key id of GAIT_HOME's dev key ("" if none): anything that can run gait can sign with it."""
    try:
        text = read_no_follow(dev_key_paths()[1]).decode("utf-8")
        return VerifyKey.from_text(text).key_id
    except (OSError, UnicodeDecodeError, InvalidInput):
        return ""


def update_keyring(change: Callable[[Keyring], object]) -> Keyring:
    """Read-modify-write of the keyring under a lock, written atomically."""
    path = keyring_path()
    private_dir(path.parent)
    with file_lock(path.with_name(".keyring.lock")):
        ring = _read_keyring(path)  # the file itself, never memory, under the lock
        change(ring)
        atomic_write(path, dumps_pretty(ring.to_json()))
    return ring


def trust_key(
    key: VerifyKey,
    *,
    mode: str,
    label: str = "",
    status: str = "active",
    publishers: list[str] | None = None,
) -> Keyring:
    """Trust ``key`` for ``mode`` (and these registry publishers); never the dev key as prod."""
    if mode == "prod" and key.key_id == local_dev_key_id():
        raise InvalidInput(
            "the local dev key in GAIT_HOME cannot be trusted as a production key "
            "(anything that can run gait can sign with it)",
            code="E_TRUST_DEV_KEY_AS_PROD",
            hint="create a production key with gait keys init --key-mode prod --out DIR",
        )
    entry = KeyEntry(
        key_id=key.key_id,
        public_key=key.to_text().strip(),
        mode=mode,
        label=label,
        status=status,
        added_at=timefmt.now(),
        publishers=sorted(set(publishers or [])),
    )
    return update_keyring(lambda ring: ring.upsert(entry))


def bind_publisher(key_id: str, publisher: str) -> None:
    """Record that the trusted key ``key_id`` signs for ``publisher`` (if the store has it)."""

    def change(ring: Keyring) -> None:
        entry = ring.find(key_id)
        if entry is not None and entry.trusted and publisher not in entry.publishers:
            entry.publishers = sorted({*entry.publishers, publisher})

    update_keyring(change)


def trusted_verify_keys() -> list[VerifyKey]:
    return load_keyring().trusted_keys()


def approval_verify_keys(
    mode: str, own: VerifyKey | None, explicit: list[VerifyKey] | None
) -> list[VerifyKey]:
    """Keys whose approval tokens a gate in ``mode`` accepts (SECURITY.md, trust model).

    ``explicit`` (``--approval-public-key``) replaces the defaults. Otherwise the gate's own
    signing key counts, plus trusted keys of the trust store: every trusted key in dev mode,
    only prod keys in production, where the local dev key never counts (anything that can run
    ``gait approve`` could otherwise approve its own high-risk call). A key marked untrusted
    (``gait keys untrust``) is refused in every mode. An unreadable trust store in production
    leaves only the explicit or own key (fail closed).
    """
    try:
        ring = load_keyring()
    except InvalidInput:
        if mode == "prod":
            ring = Keyring(keyring_path())
        else:
            raise
    untrusted = {e.key_id for e in ring.entries if not e.trusted}
    dev_id = local_dev_key_id() if mode == "prod" else ""
    if explicit is not None:
        candidates = list(explicit)
    else:
        candidates = [own] if own is not None else []
        candidates += [
            e.verify_key()
            for e in ring.entries
            if e.trusted and (mode != "prod" or e.mode == "prod")
        ]
    keys: list[VerifyKey] = []
    for key in candidates:
        if key.key_id in untrusted or (dev_id and key.key_id == dev_id) or key in keys:
            continue
        keys.append(key)
    return keys


def dev_key_paths() -> tuple[Path, Path]:
    keys = gait_home() / "keys"
    return keys / "dev_private.key", keys / "dev_public.key"


def dev_signing_key(*, create: bool = True) -> SigningKey | None:
    """The local dev key, made on first use and kept, so dev tokens verify in dev gates."""
    if not create and not os.path.lexists(dev_key_paths()[0]):
        return None
    return ensure_dev_key()[0]


def _read_dev_key_file(path: Path, what: str) -> str:
    """A dev key file's text; a symlink there is refused, never followed (it could point at a
    key an attacker planted, which would then sign and be auto-trusted)."""
    try:
        return read_no_follow(path).decode("utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{what} file not found: {path}", code="E_KEY_NOT_FOUND") from None
    except (OSError, UnicodeDecodeError):
        problem = "is a symlink or not a regular file" if path.is_symlink() else "is unreadable"
        raise InvalidInput(
            f"{what} {path} {problem}; refusing to use it",
            code="E_KEY_INVALID",
            hint=f"remove {path} and run gait keys init to create a fresh dev key",
        ) from None


def ensure_dev_key() -> tuple[SigningKey, bool]:
    """(dev key, whether this call created it)."""
    private_path, public_path = dev_key_paths()
    created = False
    private_dir(private_path.parent)
    if not os.path.lexists(private_path):
        fresh = SigningKey.generate()
        created = create_exclusive(private_path, fresh.to_text().encode(), mode=0o600)
    key = SigningKey.from_text(
        _read_dev_key_file(private_path, "dev private key"), "dev private key"
    )
    if not os.path.lexists(public_path):
        create_exclusive(public_path, key.public().to_text().encode())
    public = VerifyKey.from_text(_read_dev_key_file(public_path, "dev public key"))
    if public.key_id != key.key_id:
        raise InvalidInput(
            f"dev public key {public_path} does not match the dev private key",
            code="E_KEY_MISMATCH",
            hint=f"remove {public_path}; gait recreates it from the private key",
        )
    entry = load_keyring().find(key.key_id)
    if entry is None:
        trust_key(key.public(), mode="dev", label="local dev key")
    return key, created


def key_mode(args: argparse.Namespace | None = None) -> str:
    mode = getattr(args, "key_mode", None) or os.environ.get("GAIT_MODE", "") or "dev"
    mode = mode.strip().lower()
    if mode not in MODES:
        raise InvalidInput(f"key mode must be dev or prod, not {mode!r}", code="E_USAGE")
    return mode


def add_key_options(parser: argparse.ArgumentParser, *, signing: bool = True) -> None:
    """The reference's key flags; ``signing`` adds the private-key ones."""
    parser.add_argument("--key-mode", choices=MODES, default=None, help="dev (default) or prod")
    if signing:
        parser.add_argument("--private-key", metavar="PATH", help="private key file (base64)")
        parser.add_argument("--private-key-env", metavar="VAR", help="variable holding the key")
    parser.add_argument("--public-key", metavar="PATH", help="public key file to verify with")
    parser.add_argument("--public-key-env", metavar="VAR", help="variable holding a public key")


def explicit_signing_key(args: argparse.Namespace) -> SigningKey | None:
    path = getattr(args, "private_key", None)
    var = getattr(args, "private_key_env", None)
    if path and var:
        raise InvalidInput("give --private-key or --private-key-env, not both", code="E_USAGE")
    if path:
        return SigningKey.from_text(read_key_text(path, "private key"))
    if var:
        return SigningKey.from_text(read_env_text(var, "private key"))
    return None


def explicit_verify_key(args: argparse.Namespace) -> VerifyKey | None:
    return verify_key_from(
        getattr(args, "public_key", None), getattr(args, "public_key_env", None), "public key"
    )


def verify_key_from(path: str | None, var: str | None, what: str) -> VerifyKey | None:
    """The key a ``--<what> PATH`` / ``--<what>-env VAR`` flag pair names, if either is set."""
    if path and var:
        flag = what.replace(" ", "-")
        raise InvalidInput(f"give --{flag} or --{flag}-env, not both", code="E_USAGE")
    if path:
        return VerifyKey.from_text(read_key_text(path, what), what)
    if var:
        return VerifyKey.from_text(read_env_text(var, what), what)
    return None


def verify_key_of(
    public_path: str | None,
    public_var: str | None,
    private_path: str | None,
    private_var: str | None,
    what: str,
) -> VerifyKey | None:
    """A verify key from a public key, or derived from a private key (the reference's
    ``--<what>-private-key[-env]`` flags), or None when no source is given."""
    key = verify_key_from(public_path, public_var, f"{what} public key")
    if key is not None:
        if private_path or private_var:
            flag = what.replace(" ", "-")
            raise InvalidInput(
                f"give a --{flag}-public-key or a --{flag}-private-key source, not both",
                code="E_USAGE",
            )
        return key
    if private_path and private_var:
        flag = what.replace(" ", "-")
        raise InvalidInput(
            f"give --{flag}-private-key or --{flag}-private-key-env, not both", code="E_USAGE"
        )
    if private_path:
        return SigningKey.from_text(read_key_text(private_path, f"{what} private key")).public()
    if private_var:
        return SigningKey.from_text(read_env_text(private_var, f"{what} private key")).public()
    return None


def resolve_signing_key(args: argparse.Namespace) -> tuple[SigningKey, str, list[str]]:
    """(key, mode, warnings): the explicit key, or the dev key in dev mode.

    Production mode needs an explicit key and refuses one the keyring knows as a dev key.
    """
    mode = key_mode(args)
    key = explicit_signing_key(args)
    if key is None:
        if mode == "prod":
            raise SigningKeyRequired(
                "production mode needs a signing key",
                code="E_SIGN_KEY_REQUIRED",
                hint="pass --private-key PATH or --private-key-env VAR "
                "(gait keys init --key-mode prod)",
            )
        dev = dev_signing_key()
        assert dev is not None
        return dev, "dev", [DEV_WARNING]
    entry = load_keyring().find(key.key_id)
    if mode == "prod" and entry is not None and entry.mode == "dev":
        raise InvalidInput(
            "production mode refuses a dev key",
            code="E_SIGN_DEV_KEY_IN_PROD",
            hint="create a production key with gait keys init --key-mode prod",
        )
    signer_mode = entry.mode if entry is not None else mode
    public = explicit_verify_key(args)
    if public is not None and public.key_id != key.key_id:
        raise InvalidInput("--public-key does not match the private key", code="E_KEY_MISMATCH")
    return key, signer_mode, []
