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


@dataclass(frozen=True)
class Endpoint:
    method: Literal["GET", "POST"]
    path: str
    """The route's template as FastAPI reads it (`/models/{name:path}/{action}`)."""
    streams: bool = False
    """Answers with NDJSON lines when asked to stream (`"stream": true`)."""

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
COST_DAYS = Endpoint("GET", "/costs/daily")
COST_ROUTING = Endpoint("GET", "/costs/routing")
COST_CALLS = Endpoint("GET", "/costs/calls")
BENCH_RUNS = Endpoint("GET", "/bench/runs")
JOBS = Endpoint("GET", "/jobs")
JOB_HISTORY = Endpoint("GET", "/jobs/history")
JOB_RUN = Endpoint("GET", "/jobs/runs/{run_id}")
RUN_JOB = Endpoint("POST", "/jobs/{name}/run")
SEARCH = Endpoint("GET", "/search")
SEARCH_POST = Endpoint("POST", "/search")
INDEX_STATUS = Endpoint("GET", "/index/status")
ROUTE_EXPLAIN = Endpoint("POST", "/route/explain")
ROUTE_TEACH = Endpoint("POST", "/route/teach")
ROUTE_EXEMPLARS = Endpoint("GET", "/route/exemplars")
ROUTE_FORGET = Endpoint("POST", "/route/exemplars/{exemplar_id}/forget")
ROOT = Endpoint("GET", "/")
UI = Endpoint("GET", "/ui")
UI_PAGE = Endpoint("GET", "/ui/")
UI_FILE = Endpoint("GET", "/ui/{name}")
HEALTHZ = Endpoint("GET", "/healthz")
READYZ = Endpoint("GET", "/readyz")
METRICS = Endpoint("GET", "/metrics")
