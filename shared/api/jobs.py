"""Bulk scans over HTTP: submit (JSON list or a file), progress, per-row results."""

from __future__ import annotations

import base64
import itertools
from email.parser import BytesParser
from email.policy import HTTP

from shared.api.job_models import (
    MAX_JOB_ROWS,
    BulkScanQuery,
    BulkScanRequest,
    JobItemOut,
    JobList,
    JobListQuery,
    JobOut,
    JobResultsPage,
    JobResultsQuery,
    JobTotals,
    PreviewRowOut,
    ScanPreviewOut,
)
from shared.core.domains import DomainErrorCode, parse
from shared.core.inputs import InputFileError, InputLayout, InputRow, InputTooLargeError, from_values, read_upload
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
API = "/api/v1/scans"


def _upload(request: HttpRequest) -> tuple[bytes, str | None, str | None]:
    """(data, filename, content type) of the uploaded file: the raw body or a multipart part."""
    content_type = request.header("content-type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        return request.body, None, content_type
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.body
    )
    if not message.is_multipart():
        raise ProblemError(400, "Malformed upload", "the multipart body could not be read")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") in ("file", "upload") or part.get_filename():
            return part.get_payload(decode=True) or b"", part.get_filename(), part.get_content_type()
    raise ProblemError(
        422,
        "No file",
        "send the list as a form field named 'file'",
        errors=[{"field": "file", "message": "missing"}],
    )


def _rows(
    request: HttpRequest, query: BulkScanQuery, layout: InputLayout | None = None
) -> tuple[list[InputRow], str, str | None]:
    """(rows, source label, lang) from whichever form the client sent; ``layout`` learns the columns read."""
    if len(request.body) > MAX_UPLOAD_BYTES:
        raise ProblemError(413, "Upload too large", f"send at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB per job")
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type in ("application/json", "") and request.body[:1].strip() in (b"{", b"["):
        data = request.json()
        if isinstance(data, list):
            data = {"domains": data}
        body = BulkScanRequest.model_validate(data)
        rows = list(from_values(body.domains))
        return rows, body.source or query.source or "api", body.lang or query.lang
    if content_type == "application/json":
        request.json()  # raises the 400 naming the problem
    data, filename, part_type = _upload(request)
    if not data.strip():
        raise ProblemError(400, "Empty upload", "the file has no rows")
    try:
        reading = read_upload(data, filename=filename, content_type=part_type, column=query.column, layout=layout)
        rows = list(itertools.islice(reading, MAX_JOB_ROWS + 1))  # stop at the first row too many
    except InputTooLargeError as exc:
        raise ProblemError(413, "Upload too large", str(exc)) from None
    except InputFileError as exc:
        raise ProblemError(422, "Unreadable file", str(exc), errors=[{"field": "file", "message": str(exc)}]) from None
    if len(rows) > MAX_JOB_ROWS:
        raise ProblemError(413, "Too many rows", f"a job takes at most {MAX_JOB_ROWS:,} rows; split the file")
    if not rows:
        raise ProblemError(422, "No rows", "the file has a header but no data rows")
    return rows, query.source or filename or "upload", query.lang


def preview_scan_job(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """What ``POST /v1/scans`` would make of this list, without creating a job: shown before submitting."""
    from shared.jobs.preview import preview_rows

    query = BulkScanQuery.model_validate(request.query_params())  # the same parameters as the submit it checks
    layout = InputLayout()
    rows, source, _ = _rows(request, query, layout)
    preview = preview_rows(rows)

    def row_out(row) -> PreviewRowOut:  # type: ignore[no-untyped-def]
        return PreviewRowOut(
            line=row.line,
            input=row.input,
            domain=row.domain,
            company=row.company,
            error=row.error,
            code=row.code,
            params=row.params,
        )

    body = ScanPreviewOut(
        source=source,
        domain_column=layout.domain_column,
        company_column=layout.company_column,
        has_header=layout.has_header,
        detected=layout.detected,
        rows=preview.rows,
        unique=preview.unique,
        duplicates=preview.duplicates,
        invalid=preview.invalid,
        sample=[row_out(r) for r in preview.sample],
        invalid_rows=[row_out(r) for r in preview.invalid_rows],
    )
    return HttpResponse.json(body.model_dump(mode="json"))


def job_out(progress) -> JobOut:  # type: ignore[no-untyped-def]
    job, counts = progress.job, progress.counts
    unique = job.unique_domains
    return JobOut(
        id=job.id,
        status=progress.status,
        source=job.source,
        lang=job.lang,
        submitted_by=job.submitted_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        totals=JobTotals(
            rows=job.total,
            unique=unique,
            queued=counts["queued"] + counts.get("claimed", 0),
            done=counts["done"],
            failed=counts["failed"],
            invalid=counts["invalid"],
            duplicates=job.duplicates,
        ),
        progress=round(progress.finished / unique, 4) if unique else 1.0,
        rate_per_second=round(progress.rate, 2) if progress.rate is not None else None,
        eta_seconds=round(progress.eta_seconds, 1) if progress.eta_seconds is not None else None,
        status_url=f"{API}/{job.id}",
        results_url=f"{API}/{job.id}/results",
    )


def submit_scan_job(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.jobs.submit import submit_job
    from shared.queues import QueueError
    from shared.store.jobs import JobStore

    query = BulkScanQuery.model_validate(request.query_params())
    rows, source, lang = _rows(request, query)
    try:
        job = submit_job(
            rows, runtime.settings, runtime.engine, source=source, lang=lang, submitted_by=request.key_name
        )
    except QueueError as exc:
        raise ProblemError(
            503,
            "Queue unavailable",
            "the job was stored but could not be queued; retry later",
            headers={"Retry-After": "30"},
        ) from exc
    body = job_out(JobStore(runtime.engine).progress(job.id)).model_dump(mode="json")
    return HttpResponse.json(body, status=202, headers={"Location": body["status_url"]})


def list_scan_jobs(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """The most recent bulk scans with their progress, so a closed tab never loses a job."""
    from shared.store.jobs import JobStore

    query = JobListQuery.model_validate(request.query_params())
    store = JobStore(runtime.engine)
    items = [job_out(store.progress(job.id)) for job in store.recent(query.limit)]
    return HttpResponse.json(JobList(items=items).model_dump(mode="json"))


def _job_id(request: HttpRequest) -> str:
    job_id = request.route_params["job_id"].lower()
    if len(job_id) != 32 or any(c not in "0123456789abcdef" for c in job_id):
        raise ProblemError(404, "Job not found", "no job has this id")
    return job_id


def get_scan_job(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.store.jobs import JobNotFound, JobStore

    job_id = _job_id(request)
    try:
        progress = JobStore(runtime.engine).progress(job_id)
    except JobNotFound:
        raise ProblemError(404, "Job not found", "no job has this id") from None
    return HttpResponse.json(job_out(progress).model_dump(mode="json"))


def _cursor(value: str | None) -> int:
    if value is None:
        return -1
    try:
        kind, _, seq = base64.urlsafe_b64decode(value.encode() + b"==").decode().partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(seq)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(
            422,
            "Invalid cursor",
            "use the `next` value of a previous page",
            errors=[{"field": "cursor", "message": "invalid"}],
        ) from None


def _invalid_reason(
    status: str, stored_input: str, error: str | None
) -> tuple[DomainErrorCode | None, dict[str, str] | None]:
    """The code and params of an invalid row's stored English reason.

    The store keeps the reason's text only (no column for the code, and none is added for it):
    parsing the stored input again gives the code, kept only when it renders the same text (an
    input cut to the stored length could, in principle, fail for another reason)."""
    if status != "invalid" or error is None:
        return None, None
    parsed = parse(stored_input)
    if parsed.code is None or parsed.error != error:
        return None, None
    return parsed.code, parsed.params


def get_scan_job_results(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.store.jobs import JobNotFound, JobStore

    job_id = _job_id(request)
    query = JobResultsQuery.model_validate(request.query_params())
    try:
        items = JobStore(runtime.engine).items(
            job_id, status=query.status, after=_cursor(query.cursor), limit=query.limit + 1
        )
    except JobNotFound:
        raise ProblemError(404, "Job not found", "no job has this id") from None
    page, more = items[: query.limit], len(items) > query.limit
    next_cursor = base64.urlsafe_b64encode(f"seq:{page[-1].seq}".encode()).decode().rstrip("=") if more else None

    def item_out(i) -> JobItemOut:  # type: ignore[no-untyped-def]
        code, params = _invalid_reason(i.status, i.input, i.error)
        return JobItemOut(
            seq=i.seq,
            row=i.row,
            input=i.input,
            company=i.company,
            domain=i.domain,
            status="queued" if i.status == "claimed" else i.status,
            error=i.error,
            code=code,
            params=params,
            scan_status=i.scan_status,
            provider=i.provider,
            score=i.score,
            priority_category=i.priority_category,
            finished_at=i.finished_at,
        )

    out = JobResultsPage(
        job_id=job_id,
        items=[item_out(i) for i in page],
        limit=query.limit,
        next=next_cursor,
    )
    return HttpResponse.json(out.model_dump(mode="json"))
