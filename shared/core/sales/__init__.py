"""Sales summaries: what a rep says, asks and offers, generated from a scored scan.

Pure: the words live in ``texts_<lang>.yaml``, plans and prices in ``offers.yaml``,
weights in ``playbook.yaml``; :func:`build_sales_summary` only chooses and fills them.
"""

from shared.core.sales.data import (
    SUPPORTED_LANGS,
    FindingCode,
    SalesDataError,
    UrgencyTrigger,
    load_offers,
    load_texts,
)
from shared.core.sales.summary import (
    OfferTier,
    SalesMetadata,
    SalesSummary,
    SalesTextError,
    Urgency,
    build_sales_summary,
)

__all__ = [
    "SUPPORTED_LANGS",
    "FindingCode",
    "OfferTier",
    "SalesDataError",
    "SalesMetadata",
    "SalesSummary",
    "SalesTextError",
    "Urgency",
    "UrgencyTrigger",
    "build_sales_summary",
    "load_offers",
    "load_texts",
]
