"""E-mail tools over HTTP: ``POST /v1/email/validate`` and ``GET /v1/leads/{domain}/emails``.

Only DNS is asked (MX, then A/AAAA): no mail is sent and no mailbox is probed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.leads import _known_domain
from shared.api.models import NoQuery
from shared.core.emails import MAX_EMAILS, MailReason
from shared.http.types import HttpRequest, HttpResponse
from shared.runtime import Runtime
from shared.services.email_tools import lead_addresses
from shared.services.email_tools import validate_emails as validate

Reason = Literal[tuple(reason.value for reason in MailReason)]  # type: ignore[valid-type]
DELIVERABLE_TEXT = (
    "true: the domain has MX records, or no MX but an A/AAAA record (RFC 5321 §5.1); false: NXDOMAIN, a null MX "
    "(RFC 7505) or neither MX nor address; null: DNS did not answer (timeout, SERVFAIL) or the syntax is invalid"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailValidateRequest(_Strict):
    emails: list[str] = Field(
        min_length=1,
        max_length=MAX_EMAILS,
        description=f"the addresses, at most {MAX_EMAILS:,} (internationalised addresses allowed)",
        examples=[["info@acme.com.tr", "çağrı@şirket.com.tr"]],
    )


class EmailResult(_Strict):
    email: str = Field(description="as sent")
    normalized: str | None = Field(description="the normal form (domain lower-cased, Unicode NFC); null if invalid")
    valid_syntax: bool
    domain: str | None = Field(description="the domain in ASCII (IDNA) form, as DNS is asked about it")
    domain_unicode: str | None = None
    deliverable: bool | None = Field(description=DELIVERABLE_TEXT)
    free_mail: bool = Field(description="a free-mail provider (gmail.com, yandex.com.tr, hotmail.com …)")
    role_account: bool = Field(description="a function, not a person: info, iletisim, satis, sales, destek …")
    disposable: bool = Field(description="a throw-away mailbox domain (the disposable-email-domains list)")
    reason: Reason | None = Field(description="a stable code for the verdict (invalid_syntax for a bad address)")
    detail: str | None = Field(None, description="the reason in English (the validator's message for bad syntax)")


class EmailValidateOut(_Strict):
    results: list[EmailResult] = Field(description="one per address, in the order sent")


class SuggestedEmail(_Strict):
    rank: int = Field(description="1 = the most common among Turkish companies")
    email: str = Field(description="the address with the domain in ASCII (IDNA) form, which every mail system takes")
    email_unicode: str | None = Field(None, description="the same address in Unicode, for an internationalised domain")
    local_part: str
    note_en: str
    note_tr: str
    role_account: bool
    deliverable: bool | None = Field(description="the domain's deliverability (the same for every address)")


class LeadEmailsOut(_Strict):
    domain: str
    domain_unicode: str | None = Field(None, description="the domain in Unicode when it is internationalised")
    deliverable: bool | None = Field(description=DELIVERABLE_TEXT)
    reason: Reason
    detail: str
    addresses: list[SuggestedEmail]


def validate_emails(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    body = EmailValidateRequest.model_validate(request.json())
    return HttpResponse.json({"results": validate(runtime.settings, body.emails)})


def lead_emails(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    NoQuery.model_validate(request.query_params())
    return HttpResponse.json(lead_addresses(runtime.settings, _known_domain(request, runtime)))
