"""API keys for cloud providers: from the environment, else from a dotenv-style file.

A key is a `Secret` from the moment it is read, so it never shows in a repr, a log line or an
error; errors name the variable and the file, never a value or a line of the file (a
malformed line may be a key).
"""

from __future__ import annotations

import os
from pathlib import Path

from tierd.config import Config, ProviderConfig, Secret
from tierd.errors import ConfigError


def read_env_file(path: str) -> dict[str, Secret]:
    """NAME=value lines; `export NAME=value`, quotes around the value, blank lines and
    `#` comments are allowed, as in the files people already keep for docker or direnv."""
    where = os.path.expanduser(path)
    try:
        text = Path(where).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"env_file: {path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise ConfigError([f"env_file: {path}: cannot be read ({reason})"]) from None
    keys: dict[str, Secret] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.replace("_", "").isalnum():
            raise ConfigError([f"env_file: {path} line {number}: expected NAME=value"])
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        keys[name] = Secret(value)
    return keys


def provider_key(provider: ProviderConfig, config: Config) -> Secret:
    """The provider's key: the environment wins, then its env_file, then the top-level one.
    Refused when it cannot go in an HTTP header as it is (`_sendable`)."""
    if value := os.environ.get(provider.api_key_env):
        return _sendable(provider, Secret(value), "the environment")
    searched = ["the environment"]
    for path in (provider.env_file, config.env_file):
        if path:
            if value := read_env_file(path).get(provider.api_key_env):
                return _sendable(provider, value, path)
            searched.append(path)
    raise ConfigError([
        f"provider {provider.name!r}: its API key variable {provider.api_key_env} is not set "
        f"(looked in {' and '.join(searched)}); set it, or remove the provider from the config"])


def _sendable(provider: ProviderConfig, key: Secret, where: str) -> Secret:
    """`key`, unless a character of it cannot be sent in a header as it is: one past ASCII
    (a pasted non-breaking space or curly quote) would go out as UTF-8 bytes the provider
    refuses as a wrong key, and a control character (a CR left by a Windows editor) fails
    every call as a broken connection. Named by position, never shown."""
    for at, char in enumerate(key, 1):
        if not " " <= char <= "~":
            kind = "a control character" if char.isascii() else "a character past ASCII"
            raise ConfigError([
                f"provider {provider.name!r}: its API key {provider.api_key_env} (from {where})"
                f" holds {kind} at position {at} of {len(key)}, which cannot be sent in an "
                "HTTP header; copy the key again"])
    return key
