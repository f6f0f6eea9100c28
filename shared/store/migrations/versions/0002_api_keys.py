"""API keys (hashed), a folded search column on domains, (sort key, domain) indexes on leads

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SORT_COLUMNS = ("score", "priority_score", "scanned_at", "changed_at", "provider")
FILTER_COLUMNS = ("segment", "commercial_segment", "priority_category", "provider", "status")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("domains") as batch:
        batch.add_column(sa.Column("search_text", sa.String(length=900), nullable=True))
    with op.batch_alter_table("leads") as batch:
        for column in SORT_COLUMNS:
            batch.create_index(f"ix_leads_{column}_domain", [column, "domain"])
        for column in FILTER_COLUMNS:
            batch.create_index(f"ix_leads_{column}_priority", [column, "priority_score", "domain"])
        for column in sorted(set(SORT_COLUMNS) | set(FILTER_COLUMNS)):
            batch.drop_index(f"ix_leads_{column}")


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        for column in SORT_COLUMNS:
            batch.drop_index(f"ix_leads_{column}_domain")
        for column in FILTER_COLUMNS:
            batch.drop_index(f"ix_leads_{column}_priority")
        for column in sorted(set(SORT_COLUMNS) | set(FILTER_COLUMNS)):
            batch.create_index(f"ix_leads_{column}", [column])
    with op.batch_alter_table("domains") as batch:
        batch.drop_column("search_text")
    op.drop_table("api_keys")
