"""Alembic environment: migrates the engine handed over in config.attributes, or DATABASE_URL."""

from alembic import context

import db.models  # noqa: F401  (registers every table)
from db.base import Base
from db.search_index import include_name

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,  # the full-text search objects are not in the models
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from core.settings import Settings
    from db.engine import make_engine

    engine = make_engine(Settings.load().database_url)
    with engine.connect() as conn:
        _run(conn)
