"""The simulated terminal's economic calendar: events read from a file, answered like MT5.

A real terminal answers the `calendar` request from MQL5's CalendarValueHistory; the
simulator answers it from a JSON file the user writes (or exports) so the executor's news
blackout can be exercised without MetaTrader:

    {"events": [{"time": "2026-11-27T13:30:00Z", "currency": "USD", "importance": "high",
                 "name": "Nonfarm Payrolls", "country": "US"}]}

`time` is UTC (ISO 8601 with a zone, or epoch ms); `importance` is MT5's
CALENDAR_IMPORTANCE (0 none, 1 low, 2 moderate, 3 high) or its name. A bad file is refused
whole, naming the event and the field, so a typo never silently empties the calendar.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.json_file import read_json

IMPORTANCE = {"none": 0, "low": 1, "moderate": 2, "medium": 2, "high": 3}
KEYS = {"time", "currency", "importance", "name", "country"}


class CalendarError(ValueError):
    """A calendar file that cannot be used; the message says which event and why."""


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    time_ms: int  # UTC
    currency: str
    importance: int
    name: str
    country: str = ""

    def as_value(self) -> dict[str, Any]:
        """The EA's record of one calendar value (Handlers.mqh DoCalendar), times in ms UTC."""
        event_id = zlib.crc32(f"{self.country}|{self.currency}|{self.name}".encode())
        return {"id": zlib.crc32(f"{event_id}|{self.time_ms}".encode()), "event_id": event_id,
                "time": self.time_ms, "period": self.time_ms, "revision": 0, "actual_value": None,
                "prev_value": None, "revised_prev_value": None, "forecast_value": None, "impact_type": 0,
                "event_name": self.name, "importance": self.importance, "country_code": self.country,
                "currency": self.currency}


class SimCalendar:
    """Events sorted by time; `between` answers the `calendar` request."""

    def __init__(self, events: Iterable[CalendarEvent] = ()) -> None:
        self.events: tuple[CalendarEvent, ...] = tuple(sorted(events, key=lambda e: e.time_ms))

    def between(self, date_from: int, date_to: int, *, currency: str = "", country: str = "") -> list[dict[str, Any]]:
        """Events in [date_from, date_to): half-open, as MQL5's CalendarValueHistory selects."""
        return [e.as_value() for e in self.events
                if date_from <= e.time_ms < date_to and currency in ("", e.currency) and country in ("", e.country)]


def parse_time(value: Any) -> int:
    """Epoch ms, or an ISO 8601 time with an explicit zone, as ms UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected ISO 8601 text or epoch ms, got {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: write it in UTC, e.g. 2026-11-27T13:30:00Z")
    return int(moment.timestamp() * 1000)


def _importance(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
        return value
    if isinstance(value, str) and value.lower() in IMPORTANCE:
        return IMPORTANCE[value.lower()]
    raise ValueError(f"importance must be 0..3 or one of {sorted(IMPORTANCE)}, got {value!r}")


def event_from(raw: Mapping[str, Any]) -> CalendarEvent:
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(KEYS))}")
    currency = raw.get("currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise ValueError(f"currency must be a 3-letter code like 'USD', got {currency!r}")
    if "time" not in raw:
        raise ValueError("missing 'time'")
    return CalendarEvent(time_ms=parse_time(raw["time"]), currency=currency.upper(),
                         importance=_importance(raw.get("importance", 3)), name=str(raw.get("name", "")),
                         country=str(raw.get("country", "")))


def calendar_from(events: Sequence[Any]) -> SimCalendar:
    parsed = []
    for number, raw in enumerate(events, 1):
        if not isinstance(raw, dict):
            raise CalendarError(f"calendar event {number} must be an object")
        try:
            parsed.append(event_from(raw))
        except ValueError as exc:
            raise CalendarError(f"calendar event {number}: {exc}") from None
    return SimCalendar(parsed)


def load_calendar(path: str | Path) -> SimCalendar:
    document = read_json(path, "calendar file", CalendarError)
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list):
        raise CalendarError(f"calendar file {path} must hold a list of events or {{\"events\": [...]}}")
    return calendar_from(events)
