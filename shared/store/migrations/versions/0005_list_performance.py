"""Lead list at 100,000 leads: a (filter, sort key, domain) index per filter x sort pair (but changed_at),
the score at the end of every lead index that is not ordered by it, no parallel scans of leads and domains

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copies of shared.store.models as of this revision (the models may move on; this may not).
SORT_COLUMNS = ("score", "priority_score", "scanned_at", "changed_at", "provider")
FILTER_COLUMNS = ("segment", "commercial_segment", "priority_category", "provider", "status")
# The indexes of 0002, by name: (key, domain) per sort key and (filter, priority_score, domain) per filter.
BEFORE = {
    **{f"ix_leads_{column}_domain": [column, "domain"] for column in SORT_COLUMNS},
    **{f"ix_leads_{column}_priority": [column, "priority_score", "domain"] for column in FILTER_COLUMNS},
}
# New: (filter, key, domain) for the other filter x sort pairs. provider = X sorted by provider or
# by domain is ix_leads_provider_domain already; changed_at pairs are left out.
NEW = {
    f"ix_leads_{column}_{key}": [column, *([key] if key != "domain" else []), "domain"]
    for column in FILTER_COLUMNS
    for key in ("score", "scanned_at", "provider", "domain")
    if column != key and (column, key) != ("provider", "domain")
}


def _with_score(columns: list[str]) -> list[str]:
    return columns if "score" in columns else [*columns, "score"]


def upgrade() -> None:
    for name, columns in BEFORE.items():
        if _with_score(columns) != columns:
            op.drop_index(name, table_name="leads")
            op.create_index(name, "leads", _with_score(columns))
    for name, columns in NEW.items():
        op.create_index(name, "leads", _with_score(columns))
    if op.get_bind().dialect.name == "postgresql":
        # Lead pages are a few index reads: a parallel plan only adds worker start-up, and its
        # cheaper-looking sequential scan beat the trigram index for q= (40 ms instead of 4).
        for table in ("leads", "domains"):
            op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("leads", "domains"):
            op.execute(f"ALTER TABLE {table} RESET (parallel_workers)")
    for name in reversed(NEW):
        op.drop_index(name, table_name="leads")
    for name, columns in BEFORE.items():
        if _with_score(columns) != columns:
            op.drop_index(name, table_name="leads")
            op.create_index(name, "leads", columns)
