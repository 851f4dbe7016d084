"""Cached resources: settings and the engine (never a Session) live in st.cache_resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.settings import Settings
from core.ui.db_errors import database_errors
from db.engine import make_engine, read_only, unit_of_work
from db.migrate import upgrade_to_head
from db.seed import ensure_demo_data


def settings() -> Settings:
    """The settings, read once per process (tests clear st.cache_resource between apps)."""
    return _settings()


@st.cache_resource(show_spinner=False)
def _settings() -> Settings:
    return Settings.load()


@st.cache_resource(show_spinner=False)
def _engine(url: str, pool_size: int) -> Engine:
    engine = make_engine(url, pool_size=pool_size)
    upgrade_to_head(engine)
    return engine


def engine() -> Engine:
    """The engine for the configured database, migrated to head (and demo data present in demo mode)."""
    cfg = settings()
    eng = _engine(cfg.database_url, cfg.db_pool_size)
    if cfg.demo:
        _demo_ready(cfg.database_url, cfg.demo_password)
    return eng


@st.cache_resource(show_spinner="Demo-Daten werden angelegt …")
def _demo_ready(url: str, password: str) -> bool:
    ensure_demo_data(_engine(url, settings().db_pool_size), password=password)
    return True


@contextmanager
def write_session() -> Iterator[Session]:
    """One user action: a write transaction committed at the end."""
    with database_errors(), unit_of_work(engine()) as session:
        yield session


@contextmanager
def read_session() -> Iterator[Session]:
    """A read-only transaction."""
    with database_errors(), read_only(engine()) as session:
        yield session
