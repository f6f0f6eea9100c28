"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 15:02:57.862574
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("unicode_name", sa.String(length=253), nullable=False),
        sa.Column("company_name", sa.String(length=300), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("before", sa.String(length=300), nullable=True),
        sa.Column("after", sa.String(length=300), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("meaning", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("change_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_change_events_domain_id_at", ["domain_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_events_kind"), ["kind"], unique=False)

    op.create_table(
        "leads",
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("local_provider", sa.String(length=100), nullable=True),
        sa.Column("gateway", sa.String(length=100), nullable=True),
        sa.Column("mx_primary", sa.String(length=253), nullable=True),
        sa.Column("spf_valid", sa.Boolean(), nullable=True),
        sa.Column("dkim_found", sa.Integer(), nullable=False),
        sa.Column("dmarc_policy", sa.String(length=16), nullable=True),
        sa.Column("dmarc_pct", sa.Integer(), nullable=True),
        sa.Column("tenant_domain", sa.String(length=253), nullable=True),
        sa.Column("tenant_size", sa.String(length=16), nullable=True),
        sa.Column("whois_expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("segment", sa.String(length=16), nullable=True),
        sa.Column("commercial_segment", sa.String(length=16), nullable=True),
        sa.Column("priority_category", sa.String(length=2), nullable=True),
        sa.Column("priority_score", sa.Integer(), nullable=True),
        sa.Column("rules_version", sa.String(length=32), nullable=True),
        sa.Column(
            "breakdown",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("scan_count", sa.Integer(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain_id"),
        sa.UniqueConstraint("domain"),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_changed_at"), ["changed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_commercial_segment"), ["commercial_segment"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_priority_category"), ["priority_category"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_priority_score"), ["priority_score"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_provider"), ["provider"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_scanned_at"), ["scanned_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_score"), ["score"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_segment"), ["segment"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_status"), ["status"], unique=False)

    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collector_version", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "record",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_snapshots_domain_id_id", ["domain_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_snapshots_domain_id_id")

    op.drop_table("snapshots")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_status"))
        batch_op.drop_index(batch_op.f("ix_leads_segment"))
        batch_op.drop_index(batch_op.f("ix_leads_score"))
        batch_op.drop_index(batch_op.f("ix_leads_scanned_at"))
        batch_op.drop_index(batch_op.f("ix_leads_provider"))
        batch_op.drop_index(batch_op.f("ix_leads_priority_score"))
        batch_op.drop_index(batch_op.f("ix_leads_priority_category"))
        batch_op.drop_index(batch_op.f("ix_leads_commercial_segment"))
        batch_op.drop_index(batch_op.f("ix_leads_changed_at"))

    op.drop_table("leads")
    with op.batch_alter_table("change_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_events_kind"))
        batch_op.drop_index("ix_change_events_domain_id_at")
        batch_op.drop_index(batch_op.f("ix_change_events_at"))

    op.drop_table("change_events")
    op.drop_table("domains")
