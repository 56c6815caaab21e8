"""Addresses: the listen address, loopback names, and the URL a client reaches the daemon at.

The config check, `tierd serve`, the CLI's daemon client and the host probe all need to know
whether an address is this machine; deciding that in one place keeps "loopback only unless a
token is set" and "a local Ollama host can be probed" from drifting apart.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class BadAddress(ValueError):
    """An address that is not HOST:PORT; the message says what was wrong."""


@dataclass(frozen=True)
class ListenAddress:
    host: str
    """Without IPv6 brackets ("::1", "127.0.0.1", "0.0.0.0")."""
    port: int

    @property
    def url(self) -> str:
        """Where a client on this machine reaches a server bound here (a wildcard bind is
        reached on loopback)."""
        host = "127.0.0.1" if self.host in WILDCARDS else self.host
        return f"http://{_bracketed(host)}:{self.port}"


def parse_listen(listen: str) -> ListenAddress:
    """`HOST:PORT` (`[::1]:11500` for IPv6) as a ListenAddress; BadAddress when it is not."""
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadAddress(f"{listen!r} is not HOST:PORT")
    return ListenAddress(host.strip("[]"), int(port))


def is_loopback(host: str) -> bool:
    """True for loopback names and addresses (127.0.0.0/8, ::1, localhost)."""
    bare = host.strip("[]").lower().rstrip(".")
    if bare in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def url_is_loopback(url: str) -> bool:
    """True when `url` points at this machine."""
    hostname = urllib.parse.urlsplit(url if "://" in url else f"//{url}").hostname
    return hostname is not None and is_loopback(hostname)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
