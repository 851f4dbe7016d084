"""A lost database connection during a user action: one clear German message instead of a traceback.

While PostgreSQL restarts (or the network to it drops), the statement or the commit of the running action fails
with OperationalError / DisconnectionError; the transaction is then rolled back by the server, so nothing is half
written. `database_errors()` turns that into `DatabaseUnavailable` (a SchadenportalError with t("db.unavailable")),
which `act` and every page that shows SchadenportalError display as text. The next action gets a fresh connection
(the engine pings connections before use: db.engine.make_engine, pool_pre_ping).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from core.errors import SchadenportalError
from core.i18n import t

log = logging.getLogger(__name__)


class DatabaseUnavailable(SchadenportalError):
    """The database could not be reached for this action; nothing was changed."""

    def __init__(self) -> None:
        super().__init__(t("db.unavailable"))


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "no usable connection" (not for bad SQL or constraint violations)."""
    if isinstance(exc, (OperationalError, DisconnectionError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@contextmanager
def database_errors() -> Iterator[None]:
    """Re-raise a lost or refused database connection as DatabaseUnavailable (logged without parameters)."""
    try:
        yield
    except (DBAPIError, DisconnectionError) as exc:
        if not is_unavailable(exc):
            raise
        log.warning("database unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
        raise DatabaseUnavailable() from exc
