"""The run manifest: one JSON line per raw object a run reads (written by Setup, read by Stage and Clean).

Fields: uri, dataset, feed, size, etag, role ("input" | "reference"), header (the
object's header line as read by Setup, so Stage need not read it again) and, for a
backfill, date_from/date_to (ISO dates: only the rows of that range are staged).
Clean reads the same file with audit.MANIFEST_SCHEMA (it ignores the fields it does not need).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from covid_pipeline.ports import ObjectStore, PipelineError

ROLE_INPUT = "input"
ROLE_REFERENCE = "reference"


@dataclass(frozen=True)
class ManifestEntry:
    uri: str
    dataset: str
    feed: str
    size: int
    etag: str
    role: str = ROLE_INPUT
    date_from: str | None = None
    date_to: str | None = None
    header: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.header is not None:  # JSON gives a list
            object.__setattr__(self, "header", tuple(self.header))

    def to_line(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @property
    def date_range(self) -> tuple[str, str] | None:
        return (self.date_from, self.date_to) if self.date_from and self.date_to else None


def write_manifest(store: ObjectStore, uri: str, entries: list[ManifestEntry]) -> None:
    store.put_bytes(uri, "".join(e.to_line() + "\n" for e in entries).encode())


def read_manifest(store: ObjectStore, uri: str) -> dict[str, ManifestEntry]:
    """uri -> entry; a malformed manifest is an error (it is written only by Setup)."""
    entries: dict[str, ManifestEntry] = {}
    for number, line in enumerate(store.get_bytes(uri).decode().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = ManifestEntry(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as exc:
            raise PipelineError(f"manifest {uri} line {number} is malformed: {exc}") from exc
        entries[entry.uri] = entry
    return entries
