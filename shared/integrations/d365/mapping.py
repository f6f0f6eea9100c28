"""The lead → Dataverse column mapping: a data file, validated before anything is pushed."""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BUNDLED = Path(__file__).with_name("mapping.yaml")
_LOGICAL = re.compile(r"^[a-z][a-z0-9_]{1,99}$")

# What a mapping may use: the lead document built by shared.services.d365_push.lead_document.
FIELDS: dict[str, str] = {
    "domain": "the registrable domain (the alternate key's value)",
    "company_name": "the company name from the upload or Partner Center, if known",
    "company_or_domain": "the company name, else the domain",
    "website": "https://<domain>",
    "score": "lead score 0-100",
    "segment": "Existing, Migration, Cold or Skip",
    "commercial_segment": "the commercial segment of the P-model",
    "priority_category": "P1..P6",
    "priority_label": "the P category's label (in the default language)",
    "provider": "mail provider (M365, Google, Local, ...)",
    "provider_text": "provider with its host or gateway, e.g. 'Local (Natro)'",
    "sales_one_liner": "the sales summary's one-line pitch",
    "sales_brief": "the one-line pitch, the lead's technologies and the first talking point they give, one per line",
    "technologies": "technologies seen in the lead's DNS, joined: 'Zoom; Salesforce'",
    "technologies_by_category": "the same by category: 'collaboration: Zoom, Slack; crm: Salesforce'",
    "hunter_url": "link to the lead in Hunter",
    "tenant_domain": "Microsoft 365 tenant (*.onmicrosoft.com) when known",
}


class MappingError(ValueError):
    pass


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str | None = None
    template: str | None = None
    options: dict[str, int] | None = None
    max_length: int | None = Field(None, ge=1, le=1_048_576)

    @model_validator(mode="after")
    def _one_source(self) -> Column:
        if (self.field is None) == (self.template is None):
            raise ValueError("give exactly one of field or template")
        names = [self.field] if self.field else [n for _, n, _, _ in string.Formatter().parse(self.template or "") if n]
        unknown = [n for n in names if n not in FIELDS]
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
        if self.options is not None and self.template is not None:
            raise ValueError("a choice column takes a field, not a template")
        return self


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    entity_set: str
    alternate_key: str
    publisher_prefix: str = Field(pattern=r"^[a-z][a-z0-9]{1,7}$")
    columns: dict[str, Column] = Field(min_length=1)

    @field_validator("entity_set", "alternate_key")
    @classmethod
    def _logical(cls, value: str) -> str:
        if not _LOGICAL.match(value):
            raise ValueError(f"{value!r} is not a Dataverse logical name")
        return value

    @model_validator(mode="after")
    def _columns(self) -> Mapping:
        standard = {"subject", "companyname", "websiteurl", "description", "telephone1", "emailaddress1"}
        for name in self.columns:
            if not _LOGICAL.match(name):
                raise ValueError(f"{name!r} is not a Dataverse logical name")
            if name not in standard and not name.startswith(self.publisher_prefix + "_"):
                raise ValueError(
                    f"custom column {name!r} must start with the publisher prefix {self.publisher_prefix}_"
                )
        key = self.columns.get(self.alternate_key)
        if key is None or key.field != "domain":
            raise ValueError(f"the alternate key column {self.alternate_key!r} must be mapped to field: domain")
        return self

    def required_columns(self) -> tuple[dict[str, str], dict[str, dict[int, str]]]:
        """What the Dataverse org must have for this mapping: column → type (string, memo, int,
        choice) and, for choice columns, option value → label. For setting up an org (and the
        stand-in the tests and the benchmark use)."""
        columns: dict[str, str] = {}
        options: dict[str, dict[int, str]] = {}
        for name, column in self.columns.items():
            if column.options:
                columns[name] = "choice"
                options[name] = {value: label for label, value in column.options.items()}
            elif column.field == "score":
                columns[name] = "int"
            else:
                columns[name] = "memo" if (column.max_length or 0) > 4000 else "string"
        return columns, options

    def payload(self, lead: dict[str, Any]) -> dict[str, Any]:
        """The PATCH body for one lead document. A value without an option raises MappingError."""
        body: dict[str, Any] = {}
        for name, column in self.columns.items():
            if name == self.alternate_key:
                continue  # it is in the URL; Dataverse refuses a body that changes the key
            if column.template is not None:
                value: Any = column.template.format_map({k: "" if v is None else v for k, v in lead.items()})
            else:
                value = lead.get(column.field or "")
            if column.options is not None and value is not None:
                if value not in column.options:
                    raise MappingError(f"column {name}: no option value for {value!r} in the mapping file")
                value = column.options[value]
            if isinstance(value, str) and column.max_length and len(value) > column.max_length:
                value = value[: column.max_length - 1] + "…"
            body[name] = value
        return body


def load_mapping(path: str | Path | None = None) -> Mapping:
    source = Path(path) if path else BUNDLED
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        return Mapping.model_validate(data)
    except OSError as exc:
        raise MappingError(f"cannot read the D365 mapping {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{source} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MappingError(f"{source}: {problems}") from None


@lru_cache(maxsize=4)
def mapping_for(path: str | None) -> Mapping:
    return load_mapping(path)
