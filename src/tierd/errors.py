"""The errors tierd reports to people.

Every error a user can cause derives from `TierdError`; the CLI prints its message on one line
and exits 1, the HTTP API turns it into a 4xx with a JSON body. Anything else is a bug (exit 2).
"""

from __future__ import annotations


class TierdError(Exception):
    """A problem the user can fix; `str(err)` is the whole, specific message."""

    http_status = 400


class ConfigError(TierdError):
    """The configuration is unusable; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class UnknownName(TierdError):
    """A name that is not one of the known ones; the message lists them, so the fix is a
    copy away."""

    http_status = 404
    kind = "name"

    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = sorted(known)
        listed = ", ".join(self.known) or "none"
        super().__init__(f"unknown {self.kind} {name!r} (known {self.kind}s: {listed})")


class UnknownModel(UnknownName):
    kind = "model"


class UnknownHost(UnknownName):
    kind = "host"


class ModelFileError(TierdError):
    """A model file is missing, truncated or not GGUF."""


class RuntimeUnavailable(TierdError):
    """A runtime cannot be reached (connection refused, timeout, server error)."""

    http_status = 503


class CapacityExhausted(TierdError):
    """A model cannot be loaded inside the host's budget even after evicting what may go."""

    http_status = 503


class QueueFull(TierdError):
    """Too many requests are already waiting for a model or a host."""

    http_status = 503

    def __init__(self, message: str, retry_after: float = 1.0):
        self.retry_after = retry_after
        super().__init__(message)


class ShuttingDown(TierdError):
    """tierd is stopping: the request was cut off past server.shutdown_grace, or came after."""

    http_status = 503


class OutputLimitExceeded(TierdError):
    """A request asked for a longer reply than the model can write."""

    def __init__(self, model: str, asked: int, limit: int, field: str = "max_tokens"):
        self.model = model
        self.asked = asked
        self.limit = limit
        super().__init__(f"{field}: {asked} is more than {model} can write (at most {limit} "
                         "tokens of reply)")


class RateLimited(QueueFull):
    """A provider answered 429; `stated` is how long it said to wait (None: it did not say)."""

    http_status = 429

    def __init__(self, message: str, stated: float | None):
        self.stated = stated
        super().__init__(message, retry_after=max(1.0, stated or 1.0))


class ContextOverflow(TierdError):
    """A prompt does not fit the model's context window."""

    def __init__(self, model: str, prompt_tokens: int, context_length: int):
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length
        over = prompt_tokens - context_length
        super().__init__(
            f"the messages take {prompt_tokens} tokens but {model} has a context of "
            f"{context_length}: {over} tokens too many"
        )
