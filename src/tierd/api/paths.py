"""The admin routes' paths, named once: the HTTP routes register them and the CLI's daemon
client fills them in, so a renamed route cannot leave a verb calling the old path.

The API faces' own paths (`/v1/chat/completions`, `/api/chat`, ...) are fixed by the APIs they
copy and are written where those routes are; `/api/pull` is here because `tierd pull` uses it.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")

ENDPOINTS: list[Endpoint] = []
"""Every endpoint named below, in order."""


@dataclass(frozen=True)
class Endpoint:
    method: Literal["GET", "POST"]
    path: str
    """The route's template as FastAPI reads it (`/models/{name:path}/{action}`)."""
    streams: bool = False
    """Answers with NDJSON lines when asked to stream (`"stream": true`)."""
    agents: bool = False
    """Agent keys may call it too; every other route here needs the admin token."""

    def __post_init__(self) -> None:
        ENDPOINTS.append(self)

    def matches(self, path: str) -> bool:
        """Whether a request path is this endpoint's (placeholders match any segment)."""
        parts, last = [], 0
        for match in _PLACEHOLDER.finditer(self.path):
            parts.append(re.escape(self.path[last:match.start()]))
            parts.append(".+" if match.group(2) == "path" else "[^/]+")
            last = match.end()
        parts.append(re.escape(self.path[last:]))
        return re.fullmatch("".join(parts), path) is not None

    def fill(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The path with its placeholders filled from `params` (URL-quoted; a `:path`
        placeholder keeps its slashes), and the params left for the query or the body."""
        rest = dict(params)

        def value(match: re.Match[str]) -> str:
            name, converter = match.groups()
            safe = "/:" if converter == "path" else ":"
            return urllib.parse.quote(str(rest.pop(name)), safe=safe)

        return _PLACEHOLDER.sub(value, self.path), rest


STATUS = Endpoint("GET", "/status")
MODELS = Endpoint("GET", "/models")
MODEL_ACTION = Endpoint("POST", "/models/{name:path}/{action}")
PULL = Endpoint("POST", "/api/pull", streams=True)
COSTS = Endpoint("GET", "/costs")
COST_ALERTS = Endpoint("GET", "/costs/alerts")
KEYS = Endpoint("GET", "/keys")
KEY_CREATE = Endpoint("POST", "/keys")
KEY_REVOKE = Endpoint("POST", "/keys/{name}/revoke")
COST_DAYS = Endpoint("GET", "/costs/daily")
COST_ROUTING = Endpoint("GET", "/costs/routing")
COST_CALLS = Endpoint("GET", "/costs/calls")
BENCH_RUNS = Endpoint("GET", "/bench/runs")
JOBS = Endpoint("GET", "/jobs")
JOB_HISTORY = Endpoint("GET", "/jobs/history")
JOB_RUN = Endpoint("GET", "/jobs/runs/{run_id}")
RUN_JOB = Endpoint("POST", "/jobs/{name}/run")
SEARCH = Endpoint("GET", "/search", agents=True)
SEARCH_POST = Endpoint("POST", "/search", agents=True)
INDEX_STATUS = Endpoint("GET", "/index/status")
ROUTE_EXPLAIN = Endpoint("POST", "/route/explain")
ROUTE_TEACH = Endpoint("POST", "/route/teach")
ROUTE_EXEMPLARS = Endpoint("GET", "/route/exemplars")
ROUTE_FORGET = Endpoint("POST", "/route/exemplars/{exemplar_id}/forget")
ROOT = Endpoint("GET", "/")
UI = Endpoint("GET", "/ui")
UI_PAGE = Endpoint("GET", "/ui/")
UI_FILE = Endpoint("GET", "/ui/{name}")
HEALTHZ = Endpoint("GET", "/healthz", agents=True)
READYZ = Endpoint("GET", "/readyz", agents=True)
METRICS = Endpoint("GET", "/metrics")


def admin_only(path: str) -> bool:
    """A path an agent key may not use: any endpoint named here but those marked `agents`."""
    return any(endpoint.matches(path) for endpoint in ENDPOINTS if not endpoint.agents)
