"""Rate limits per key and per command group: token buckets.

A group's number is how many commands a minute one key may send: the bucket holds that many
and refills evenly over the minute, so a burst of the whole minute's allowance passes and the
next waits. `EMERGENCY_STOP` is the exception the contract makes: its number is only its
burst, and it refills at one per second at least, so a kill switch is never starved.

Pure: the clock is passed in. The ControlServer asks `take` after authentication and after the
reply cache (a repeated `id` answered from the cache costs nothing) and answers a refusal with
RATE_LIMITED and `details.retry_after_ms`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors.control import schema as s

GROUPS = {
    "trading": (s.OPEN_POSITION, s.CLOSE_POSITION, s.MODIFY_POSITION, s.CLOSE_ALL),
    "strategy": (s.START_STRATEGY, s.STOP_STRATEGY, s.PAUSE_STRATEGY, s.RESUME_STRATEGY, s.UPDATE_STRATEGY),
    "admin": (s.UPDATE_RISK_LIMITS, s.SET_TRADING_STATE, s.RESET_KILL_SWITCH),
    "emergency": (s.EMERGENCY_STOP,),
    "reads": (s.STATUS_REQUEST, s.PERFORMANCE_REQUEST, s.PING),
}
GROUP_OF = {type_: group for group, types in GROUPS.items() for type_ in types}
# Per key and minute. Reads are generous: monitors poll STATUS several times a second.
DEFAULTS = {"trading": 10, "strategy": 30, "admin": 30, "emergency": 5, "reads": 6000}
EMERGENCY_MIN_PER_S = 1.0  # CONTROL_API.md: EMERGENCY_STOP is never rate-limited below one per second


class RateLimitsError(ValueError):
    """A rate limit setting that cannot be used; the message names the key."""


def parse_limits(value: Any) -> dict[str, float]:
    """Validated overrides `{group or COMMAND_TYPE: per minute}`; a command type gets its own bucket."""
    if not isinstance(value, dict):
        raise RateLimitsError("rate_limits must be an object {group or command: commands per minute}")
    limits: dict[str, float] = {}
    for name, per_min in value.items():
        if name not in DEFAULTS and name not in GROUP_OF:
            raise RateLimitsError(f"rate_limits.{name} is neither a group ({', '.join(DEFAULTS)}) nor a command")
        if isinstance(per_min, bool) or not isinstance(per_min, int | float) or not per_min >= 1:
            raise RateLimitsError(f"rate_limits.{name} must be a number of commands per minute, at least 1")
        limits[name] = float(per_min)
    return limits


@dataclass(slots=True)
class _Bucket:
    capacity: float
    per_s: float
    tokens: float
    updated: float


class RateLimits:
    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self.per_minute = {**DEFAULTS, **(overrides or {})}
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, key_id: str, type_: str, now: float) -> int | None:
        """Spend one of `key_id`'s commands of `type_` at `now` (seconds, monotonic): None when
        allowed, else the ms until one is."""
        bucket = self._bucket(key_id, type_, now)
        bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.per_s)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / bucket.per_s * 1000))

    def _bucket(self, key_id: str, type_: str, now: float) -> _Bucket:
        # A command named in the settings has its own bucket; the rest share their group's.
        name = type_ if type_ in self.per_minute else GROUP_OF.get(type_, "reads")
        bucket = self._buckets.get((key_id, name))
        if bucket is None:
            per_min = self.per_minute[name]
            per_s = per_min / 60.0
            if type_ == s.EMERGENCY_STOP:
                per_s = max(per_s, EMERGENCY_MIN_PER_S)
            bucket = self._buckets[(key_id, name)] = _Bucket(per_min, per_s, per_min, now)
        return bucket
