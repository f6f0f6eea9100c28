"""GET /v1/leads/export: the filtered leads as an Excel-friendly CSV (streamed) or a real XLSX.

Every text cell goes through :mod:`shared.core.spreadsheet`: no cell an outsider wrote can run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from shared.api.models import ExportQuery
from shared.core.spreadsheet import csv_cell, xlsx_value
from shared.http.types import HttpRequest, HttpResponse
from shared.runtime import Runtime
from shared.store.leads import INTEGRATION_FIELDS
from shared.store.queries import LIST_FIELDS, list_query

COLUMNS = ("domain", "domain_unicode", "company_name", *LIST_FIELDS[1:], *INTEGRATION_FIELDS)
BATCH = 1000


def _rows(runtime: Runtime, query: ExportQuery) -> Iterator[list[object]]:
    """Rows straight from a server-side cursor: 100,000 leads never sit in memory at once."""
    with runtime.leads.sessions() as session:
        dialect = runtime.engine.dialect.name
        result = session.execute(list_query(query, dialect).execution_options(yield_per=BATCH))
        for chunk in result.mappings().partitions(BATCH):
            rows = [dict(values) for values in chunk]
            runtime.leads.attach_integrations(rows)  # D365 state and referrals, per chunk
            for values in rows:
                yield [values[c] for c in COLUMNS]


def _csv(runtime: Runtime, query: ExportQuery) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=query.delimiter, lineterminator="\r\n")
    buffer.write("\ufeff")  # UTF-8 BOM: Excel then reads Turkish characters correctly
    writer.writerow(COLUMNS)
    for count, row in enumerate(_rows(runtime, query), start=1):
        writer.writerow([csv_cell(v) for v in row])
        if count % BATCH == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(sheet, value: object):  # type: ignore[no-untyped-def]
    """Text as a string cell, always: openpyxl would store ``=…`` as a live formula."""
    from openpyxl.cell import WriteOnlyCell

    value = xlsx_value(value)
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _xlsx(runtime: Runtime, query: ExportQuery) -> bytes:
    from openpyxl import Workbook  # heavy; only for this endpoint

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Leads")
    sheet.append(list(COLUMNS))
    for row in _rows(runtime, query):
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_leads(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    query = ExportQuery.model_validate(request.query_params())
    if query.format == "xlsx":
        return HttpResponse(
            200,
            _xlsx(runtime, query),
            {
                "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Content-Disposition": 'attachment; filename="hunter-leads.xlsx"',
            },
        )
    return HttpResponse(
        200,
        _csv(runtime, query),
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="hunter-leads.csv"',
        },
    )
