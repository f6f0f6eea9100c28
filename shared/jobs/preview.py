"""What a bulk scan would do with a list, before it is submitted: the column read, how many domains
are valid, duplicated or invalid, and which rows are invalid and why.

Pure: it parses rows the way :meth:`shared.store.jobs.JobStore.create` does (the same
``parse_many``), so the preview and the job agree row for row, and it touches no database or queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.core.domains import DomainErrorCode, parse_many
from shared.core.inputs import InputRow

MAX_LISTED = 200  # invalid rows listed in a preview; the counts are always complete
SAMPLE = 10


@dataclass(frozen=True, slots=True)
class PreviewRow:
    line: int | None
    input: str
    domain: str | None
    company: str | None
    error: str | None  # the English text of ``code``
    code: DomainErrorCode | None = None
    params: dict[str, str] | None = None


@dataclass(slots=True)
class Preview:
    rows: int = 0
    unique: int = 0
    duplicates: int = 0
    invalid: int = 0
    sample: list[PreviewRow] = field(default_factory=list)
    invalid_rows: list[PreviewRow] = field(default_factory=list)


def preview_rows(rows: Iterable[InputRow]) -> Preview:
    """Count and classify ``rows``; keep the first valid rows as a sample and the invalid ones listed."""
    preview = Preview()
    for row, parsed in parse_many(rows, lambda r: r.value):
        preview.rows += 1
        if parsed.duplicate_of is not None:
            preview.duplicates += 1
            continue
        name = parsed.domain.name if parsed.domain is not None else None
        item = PreviewRow(row.line, row.value[:300], name, row.company, parsed.error, parsed.code, parsed.params)
        if name is None:
            preview.invalid += 1
            if len(preview.invalid_rows) < MAX_LISTED:
                preview.invalid_rows.append(item)
        else:
            preview.unique += 1
            if len(preview.sample) < SAMPLE:
                preview.sample.append(item)
    return preview
