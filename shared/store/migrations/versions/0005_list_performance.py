"""Lead list at 100,000 leads: a (filter, sort key, domain) index per usual filter x sort pair

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copy of shared.store.models.FILTER_SORT_INDEXES as of this revision.
FILTER_COLUMNS = ("segment", "commercial_segment", "priority_category", "provider")
SORT_KEYS = ("score", "scanned_at", "domain")
INDEXES = [
    (f"ix_leads_{column}_{key}", [column, key] if key == "domain" else [column, key, "domain"])
    for column in FILTER_COLUMNS
    for key in SORT_KEYS
    if (column, key) != ("provider", "domain")  # ix_leads_provider_domain, a sort index since 0002
]


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "leads", columns)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="leads")
