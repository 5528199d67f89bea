#!/usr/bin/env python3
"""Build the wheel and sdist so that two builds of one commit are the same bytes, then write
SHA256SUMS beside them.

The wheel honours SOURCE_DATE_EPOCH already. setuptools' sdist keeps build-time mtimes, owner
names and a gzip timestamp, so the sdist is re-packed here: members sorted, mtime clamped to
SOURCE_DATE_EPOCH, owner 0/0 with empty names, modes 0644/0755, gzip mtime = SOURCE_DATE_EPOCH.
The contents are untouched.

usage: reproducible_build.py [--no-isolation] SOURCE_DIR OUT_DIR
SOURCE_DATE_EPOCH comes from the environment, else the last commit's time when SOURCE_DIR is a
git checkout, else 315532800. --no-isolation builds with the running interpreter's setuptools.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

DEFAULT_EPOCH = 315532800  # 1980-01-01, the zip epoch


def source_date_epoch(source: Path) -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env:
        return int(env)
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return DEFAULT_EPOCH


def normalize_sdist(path: Path, epoch: int) -> None:
    with tarfile.open(path, "r:gz") as src:
        members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for member, data in sorted(members, key=lambda item: item[0].name):
            member.mtime = min(int(member.mtime), epoch)
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.mode = 0o755 if member.isdir() or member.mode & 0o111 else 0o644
            member.pax_headers = {}
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=9) as gz,
    ):
        gz.write(buffer.getvalue())


def build(source: Path, out: Path, *, isolated: bool = True) -> list[Path]:
    epoch = source_date_epoch(source)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": "0"}
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "build", "--outdir", str(out.resolve()), str(source)]
    if not isolated:
        command[3:3] = ["--no-isolation", "--skip-dependency-check"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"python -m build failed with exit {proc.returncode}")
    artifacts = sorted(p for p in out.iterdir() if p.suffix in (".whl", ".gz"))
    for path in artifacts:
        if path.name.endswith(".tar.gz"):
            normalize_sdist(path, epoch)
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in artifacts)
    (out / "SHA256SUMS").write_text(sums)
    return artifacts


def main(argv: list[str]) -> int:
    isolated = "--no-isolation" not in argv
    argv = [a for a in argv if a != "--no-isolation"]
    if len(argv) != 2:
        print(__doc__.strip().split("usage: ")[1].splitlines()[0], file=sys.stderr)
        return 2
    for path in build(Path(argv[0]), Path(argv[1]), isolated=isolated):
        print(path)
    print(Path(argv[1]) / "SHA256SUMS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
