"""Queues (the local backend's table, failures, audit) and bulk scan jobs with their items

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_queue_audit_at"), "queue_audit", ["at"], unique=False)
    op.create_table(
        "queue_failures",
        sa.Column("queue", sa.String(length=63), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("dequeue_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queue", "body_sha256"),
    )
    op.create_table(
        "queue_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=63), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("enqueued_at", sa.Float(), nullable=False),
        sa.Column("visible_at", sa.Float(), nullable=False),
        sa.Column("dequeue_count", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_queue_messages_queue_visible", "queue_messages", ["queue", "visible_at"], unique=False)
    op.create_table(
        "scan_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("unique_domains", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "scan_job_items",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("input", sa.String(length=500), nullable=False),
        sa.Column("company", sa.String(length=300), nullable=True),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("scan_status", sa.String(length=16), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("priority_category", sa.String(length=2), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["scan_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "seq"),
    )
    op.create_index("ix_scan_job_items_job_batch", "scan_job_items", ["job_id", "batch"], unique=False)
    op.create_index("ix_scan_job_items_job_status", "scan_job_items", ["job_id", "status"], unique=False)


def downgrade() -> None:
    for table in ("scan_job_items", "scan_jobs", "queue_messages", "queue_failures", "queue_audit"):
        op.drop_table(table)
