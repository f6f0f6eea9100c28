"""Persistence: SQLAlchemy 2 models, Alembic migrations and the repository the pipeline uses."""
