"""Technographics: the lead's technologies as a text column and a (name, domain_id)-indexed side table

Revision ID: 0008
Revises: 0007

Leads scanned before this revision have no technologies until they are scanned again (the
rescan timer or ``hunter rescan``); nothing is backfilled from old snapshots.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("technologies", sa.Text(), nullable=True))
    op.create_table(
        "lead_technologies",
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["leads.domain_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain_id", "name"),
    )
    op.create_index("ix_lead_technologies_name_domain_id", "lead_technologies", ["name", "domain_id"])


def downgrade() -> None:
    op.drop_index("ix_lead_technologies_name_domain_id", table_name="lead_technologies")
    op.drop_table("lead_technologies")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("technologies")
