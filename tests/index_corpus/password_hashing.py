"""Storing user passwords safely."""

import hashlib
import hmac
import os


def hash_password(password: str) -> bytes:
    """Derive a salted key with PBKDF2 so a stolen database does not reveal the passwords."""
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)
    return salt + key


def verify_password(password: str, stored: bytes) -> bool:
    """Check a login attempt against the stored salt and key in constant time."""
    salt, key = stored[:16], stored[16:]
    attempt = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)
    return hmac.compare_digest(attempt, key)
