"""Pydantic models of the bulk scan and queue admin endpoints (OpenAPI is generated from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.core.domains import DomainErrorCode

MAX_JOB_ROWS = 100_000

Lang = Literal["tr", "en"]
ItemStatus = Literal["queued", "done", "failed", "invalid"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BulkScanRequest(_Strict):
    """A JSON bulk scan. Files (CSV, TXT, XLSX) are sent as the raw body or as multipart/form-data."""

    domains: list[str] = Field(
        min_length=1,
        max_length=MAX_JOB_ROWS,
        description="domains, URLs or e-mail addresses; invalid ones are reported per row, duplicates collapse",
        examples=[["acme.com.tr", "https://www.ornek.com/", "ali@firma.com.tr"]],
    )
    lang: Lang | None = Field(None, description="language for the leads' sales summaries")
    source: str | None = Field(None, max_length=300, description="a label for the job, such as the list's name")


class BulkScanQuery(_Strict):
    lang: Lang | None = None
    column: str | None = Field(None, max_length=100, description="the file's domain column (auto-detected otherwise)")
    source: str | None = Field(None, max_length=300, description="a label for the job (default: the file name)")


class PreviewRowOut(_Strict):
    line: int | None = Field(description="the row's line in the file (1 = the first line); null for JSON lists")
    input: str
    domain: str | None = Field(description="the domain the row normalises to; null when invalid")
    company: str | None
    error: str | None = Field(description="why the row is not a usable domain, in English")
    code: DomainErrorCode | None = Field(None, description="why, as a stable code to translate; null when valid")
    params: dict[str, str] | None = Field(None, description="the values the code's text names, such as tld or suffix")


class ScanPreviewOut(_Strict):
    source: str
    domain_column: str | None = Field(description="the column read for domains: its header, or #N without one")
    company_column: str | None
    has_header: bool
    detected: bool = Field(description="true when Hunter found the column itself (no `column` given)")
    rows: int = Field(description="data rows read, blank lines left out")
    unique: int = Field(description="distinct valid domains a job would scan")
    duplicates: int
    invalid: int
    sample: list[PreviewRowOut] = Field(description="the first valid rows, as they will be scanned")
    invalid_rows: list[PreviewRowOut] = Field(description="invalid rows with their reason (the first 200)")


class JobListQuery(_Strict):
    limit: int = Field(20, ge=1, le=100, description="the most recent jobs, newest first")


class JobTotals(_Strict):
    rows: int = Field(description="input rows received, duplicates and invalid rows included")
    unique: int = Field(description="distinct valid domains to scan")
    queued: int
    done: int
    failed: int = Field(description="scanned but the DNS answer was a timeout, SERVFAIL or error")
    invalid: int = Field(description="rows that are not a usable domain (see the results for why)")
    duplicates: int = Field(description="rows that collapsed onto an earlier row's domain")


class JobOut(_Strict):
    id: str
    status: Literal["queued", "running", "done"]
    source: str
    lang: Lang
    submitted_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    totals: JobTotals
    progress: float = Field(ge=0, le=1, description="share of unique domains finished")
    rate_per_second: float | None = Field(description="domains finished per second since the job started")
    eta_seconds: float | None = Field(description="estimated seconds to completion at the current rate")
    status_url: str
    results_url: str


class JobResultsQuery(_Strict):
    status: ItemStatus | None = Field(None, description="only rows with this status")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, max_length=100, description="the `next` value of the previous page")


class JobItemOut(_Strict):
    seq: int = Field(description="position among the job's rows (input order)")
    row: int | None = Field(description="line in the uploaded file, where there was one")
    input: str
    company: str | None
    domain: str | None
    status: ItemStatus
    error: str | None = Field(description="why the row is invalid or its scan failed, in English")
    code: DomainErrorCode | None = Field(
        None, description="an invalid row's reason as a stable code to translate (null for other rows)"
    )
    params: dict[str, str] | None = Field(None, description="the values the code's text names, such as tld or suffix")
    scan_status: str | None = Field(description="the scan's status: ok, no_mx, nxdomain, timeout, ...")
    provider: str | None
    score: int | None
    priority_category: str | None
    finished_at: datetime | None


class JobResultsPage(_Strict):
    job_id: str
    items: list[JobItemOut]
    limit: int
    next: str | None = Field(description="cursor of the next page; null on the last")


class QueueStatsOut(_Strict):
    name: str
    length: int
    poison_length: int
    oldest_age_seconds: float | None
    poison_oldest_age_seconds: float | None


class QueueList(_Strict):
    backend: str
    queues: list[QueueStatsOut]


class PoisonQuery(_Strict):
    limit: int = Field(32, ge=1, le=32)


class PoisonMessageOut(_Strict):
    id: str
    body: str = Field(description="the message body, unchanged")
    enqueued_at: datetime | None
    dequeue_count: int | None = Field(description="deliveries recorded at the last failure")
    last_error: str | None
    failed_at: datetime | None


class PoisonList(_Strict):
    queue: str
    items: list[PoisonMessageOut]


class RedriveRequest(_Strict):
    ids: list[str] | None = Field(None, min_length=1, max_length=1000, description="poison message ids to move")
    all: bool = Field(False, description="move every poison message (instead of ids)")


class RedriveResult(_Strict):
    queue: str
    moved: list[str]
    not_found: list[str]


class JobList(_Strict):
    items: list[JobOut] = Field(description="the most recent jobs, newest first")
