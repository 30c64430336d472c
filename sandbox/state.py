"""Cross-cutting state of the HTTP stand-ins: request counts, tokens, simulated rate limits.

Kept apart from the stores so a reset can rebuild the seeded data while tests and benchmarks
keep reading counts through the same objects.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field


class RequestCounter:
    """Counts every request, per service, keyed "METHOD /actual/path" and "METHOD /route/{id}"
    (AWS: "<service>:<action>", e.g. "rds:DescribeDBSnapshots")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[str, Counter] = {}
        self._routes: dict[str, Counter] = {}

    def count(self, service: str, method: str | None, path: str, route: str | None = None) -> None:
        key = f"{method} {path}" if method else path
        with self._lock:
            self._paths.setdefault(service, Counter())[key] += 1
            if route:
                self._routes.setdefault(service, Counter())[f"{method} {route}"] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "paths": {svc: dict(c) for svc, c in self._paths.items()},
                "routes": {svc: dict(c) for svc, c in self._routes.items()},
                "totals": {svc: sum(c.values()) for svc, c in self._paths.items()},
            }

    def clear(self) -> None:
        with self._lock:
            self._paths.clear()
            self._routes.clear()


@dataclass
class RateLimit:
    """A simulated limit. `next_n`: the next N requests answer 429. `per_minute`: a budget per
    fixed 60-second window; requests over it answer 429 until the window ends."""

    next_n: int = 0
    per_minute: int | None = None
    reset_seconds: int = 2
    limit_header: int = 960
    _window_start: float = field(default_factory=time.monotonic)
    _window_count: int = 0

    def check(self) -> tuple[int, int, int] | None:
        """None to let the request through, else (limit, remaining, reset seconds) for a 429."""
        now = time.monotonic()
        if now - self._window_start >= 60:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        if self.next_n > 0:
            self.next_n -= 1
            return self.limit_header, 0, self.reset_seconds
        if self.per_minute is not None and self._window_count > self.per_minute:
            reset = max(1, int(60 - (now - self._window_start) + 0.999))
            return self.per_minute, 0, reset
        return None

    def remaining(self) -> int:
        if self.per_minute is not None:
            return max(0, self.per_minute - self._window_count)
        return self.limit_header - 1


class Gate:
    """Tokens and the simulated rate limit of one stand-in API."""

    def __init__(self, tokens: set[str], limit_header: int) -> None:
        self._lock = threading.Lock()
        self._initial_tokens = set(tokens)
        self._limit_header = limit_header
        self.valid_tokens = set(tokens)
        self.revoked_tokens: set[str] = set()
        self.rate_limit = RateLimit(limit_header=limit_header)

    def token_ok(self, token: str | None) -> bool:
        with self._lock:
            return bool(token) and token in self.valid_tokens and token not in self.revoked_tokens

    def revoke(self, token: str | None = None) -> list[str]:
        with self._lock:
            tokens = [token] if token else sorted(self.valid_tokens)
            self.revoked_tokens.update(tokens)
            return tokens

    def check_rate(self) -> tuple[int, int, int] | None:
        with self._lock:
            return self.rate_limit.check()

    def remaining(self) -> int:
        with self._lock:
            return self.rate_limit.remaining()

    def set_rate_limit(self, *, next_n: int = 0, per_minute: int | None = None,
                       reset_seconds: int = 2) -> None:
        with self._lock:
            self.rate_limit = RateLimit(next_n=next_n, per_minute=per_minute,
                                        reset_seconds=reset_seconds,
                                        limit_header=per_minute or self._limit_header)

    def reset(self) -> None:
        with self._lock:
            self.valid_tokens = set(self._initial_tokens)
            self.revoked_tokens = set()
            self.rate_limit = RateLimit(limit_header=self._limit_header)
