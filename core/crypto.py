"""Symmetric encryption (Fernet) with the key from settings: TOTP secrets now, documents later."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet


@lru_cache(maxsize=8)
def fernet(key: str) -> Fernet:
    """The Fernet instance for a key (cached; building one derives sub-keys)."""
    return Fernet(key.encode())


def encrypt_text(key: str, text: str) -> str:
    return fernet(key).encrypt(text.encode()).decode()


def decrypt_text(key: str, token: str) -> str:
    return fernet(key).decrypt(token.encode()).decode()
