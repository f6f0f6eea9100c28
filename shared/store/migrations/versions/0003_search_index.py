"""Substring search on domains that uses an index: FTS5 trigram (SQLite), pg_trgm GIN (PostgreSQL)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # An external-content FTS5 table over domains.search_text, kept in step by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE domains_search USING fts5(search_text, content='domains', "
            "content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER domains_search_ai AFTER INSERT ON domains BEGIN "
            "INSERT INTO domains_search(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER domains_search_ad AFTER DELETE ON domains BEGIN "
            "INSERT INTO domains_search(domains_search, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER domains_search_au AFTER UPDATE OF search_text ON domains BEGIN "
            "INSERT INTO domains_search(domains_search, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO domains_search(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute("INSERT INTO domains_search(domains_search) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+); without it search still works, unindexed.
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            savepoint.commit()
        except sa.exc.DBAPIError:
            savepoint.rollback()
            return
        op.execute("CREATE INDEX ix_domains_search_trgm ON domains USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("domains_search_ai", "domains_search_ad", "domains_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS domains_search")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_domains_search_trgm")
