"""The FastAPI application: `create_app(settings)`; one engine (a connection pool) per app.

Run it with `python -m core api` (its own process), or let `python -m core serve` start it beside the app.
The OpenAPI document is at /openapi.json, the interactive documentation at /docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from api import errors
from api.routes import router
from core.i18n import t
from core.settings import Settings
from core.timeutil import now
from db.engine import make_engine

#: Bodies other than document uploads are small JSON objects.
MAX_JSON_BYTES = 256 * 1024

DESCRIPTION = """Schnittstelle für Vermittler-Systeme: Fälle melden, Stand und Verlauf der eigenen Fälle abrufen,
Dokumente hochladen.

Anmeldung mit einem API-Schlüssel (im Portal unter „API-Schlüssel“ anlegen):
`Authorization: Bearer sp_…` oder `X-API-Key: sp_…`. Ein Schlüssel hat die Rechte seines Logins: ein Vermittler
sieht nur die Fälle seines Büros. Fehler kommen immer als JSON `{"error": {"code", "message", "fields"}}`.
Anfragen je Schlüssel und Minute sind begrenzt (Antwort 429 mit `Retry-After`)."""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               clock: Callable[[], datetime] = now) -> FastAPI:
    """The API app for these settings; `engine` and `clock` can be handed in (tests)."""
    settings = settings or Settings.load()
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_engine:
            engine.dispose()

    app = FastAPI(title="Schadenportal API", version="1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings, app.state.engine, app.state.clock = settings, engine, clock
    app.state.routes = list(router.routes)  # for the Allow header of a 405
    errors.install(app)
    app.include_router(router)
    app.add_middleware(_BodyLimit, max_upload=settings.upload_max_mb * 1024 * 1024 + MAX_JSON_BYTES)
    return app


class _BodyLimit:
    """Refuse a request whose declared body is too large before anything reads it (413, JSON)."""

    def __init__(self, app, *, max_upload: int) -> None:
        self.app, self.max_upload = app, max_upload

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            limit = self.max_upload if scope["path"].endswith("/documents") else MAX_JSON_BYTES
            if declared.isdigit() and int(declared) > limit:
                response = errors.error_response(413, t("api.err_body_too_large", kb=limit // 1024))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
