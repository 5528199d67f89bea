"""JSON Lines exporter: one canonical JSON span per line, appended under a lock.

The simplest sink a log shipper can tail; lines are JCS, so the same artifact exported twice
appends byte-identical lines.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gait.canon import canonical_bytes
from gait.export.base import ExportFailed, ToolSpan
from gait.fsutil import file_lock


class JsonlExporter:
    name = "jsonl"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def export(self, spans: Sequence[ToolSpan]) -> None:
        data = b"".join(canonical_bytes(span.to_json()) + b"\n" for span in spans)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with file_lock(self.path.with_name(f".{self.path.name}.lock")):
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise ExportFailed(
                f"cannot append to {self.path}: {exc.strerror or exc}",
                hint="point the JSONL exporter at a writable file",
            ) from exc

    def close(self) -> None:
        return None
