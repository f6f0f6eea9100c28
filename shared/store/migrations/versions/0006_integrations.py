"""Integrations: token caches, integration states, leases, D365 sync state, Partner Center referrals and sync runs

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "integration_states",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("engagement_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("qualification", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("substatus", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("customer_name", sa.String(length=300), nullable=True),
        sa.Column("customer_country", sa.String(length=64), nullable=True),
        sa.Column("customer_size", sa.String(length=64), nullable=True),
        sa.Column("customer_tenant_id", sa.String(length=64), nullable=True),
        sa.Column("contact_domain", sa.String(length=253), nullable=True),
        sa.Column("deal_value", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("link_status", sa.String(length=16), nullable=False),
        sa.Column("raw", JSON_TYPE, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_referrals_domain", "referrals", ["domain"], unique=False)
    op.create_index("ix_referrals_link_status", "referrals", ["link_status"], unique=False)
    op.create_index("ix_referrals_updated", "referrals", ["updated_at"], unique=False)
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("domain_missing", sa.Integer(), nullable=False),
        sa.Column("scans_queued", sa.Integer(), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sync_runs_kind"), "sync_runs", ["kind"], unique=False)
    op.create_table(
        "token_caches",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "d365_sync",
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lead_id", sa.String(length=64), nullable=True),
        sa.Column("lead_url", sa.String(length=500), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("pushed_score", sa.Integer(), nullable=True),
        sa.Column("pushed_priority", sa.String(length=2), nullable=True),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain_id"),
        sa.UniqueConstraint("domain"),
    )
    op.create_index("ix_d365_sync_status_domain", "d365_sync", ["status", "domain"], unique=False)


def downgrade() -> None:
    for table in ("sync_runs", "referrals", "d365_sync", "leases", "integration_states", "token_caches"):
        op.drop_table(table)
