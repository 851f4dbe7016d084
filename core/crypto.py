"""Symmetric encryption (Fernet) with the key ring from settings: documents, TOTP and webhook secrets.

`Settings.encryption_key` is a key ring: the current key, then the previous keys still accepted for reading
(`ENCRYPTION_KEY`, then `ENCRYPTION_KEY_PREVIOUS`), joined by commas. New data is always encrypted with the
current key; data under a previous key stays readable until `python -m core rotate-key` has re-encrypted it
(core.key_rotation). With one key the ring is that key.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet

KEY_SEPARATOR = ","


def ring_keys(ring: str) -> tuple[str, ...]:
    """The keys of a ring, current first (a Fernet key never contains the separator)."""
    return tuple(key.strip() for key in ring.split(KEY_SEPARATOR) if key.strip())


def join_ring(current: str, previous: tuple[str, ...] | list[str] = ()) -> str:
    """The ring for a current key and the previous ones (duplicates of the current key dropped)."""
    keys = [current.strip()]
    for key in previous:
        if key.strip() and key.strip() not in keys:
            keys.append(key.strip())
    return KEY_SEPARATOR.join(keys)


@lru_cache(maxsize=16)
def fernet(ring: str) -> Fernet | MultiFernet:
    """Encrypts with the ring's current key, decrypts with any of its keys (cached: a Fernet derives sub-keys)."""
    keys = ring_keys(ring)
    if len(keys) == 1:
        return Fernet(keys[0].encode())
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_text(key: str, text: str) -> str:
    return fernet(key).encrypt(text.encode()).decode()


def decrypt_text(key: str, token: str) -> str:
    return fernet(key).decrypt(token.encode()).decode()
