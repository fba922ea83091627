"""`ctl watch` and `ctl top`: the executor as it happens.

`watch` subscribes to the events socket and prints each event as one line (or a JSON line
with `--json`), with its time as a UTC date. `top` is a dashboard: STATUS_REQUEST every
`--interval` seconds drawn with rich Live (accounts with equity and the trading state in
effect, positions with P/L, strategies with their last signal, the EA link and its clock
skew, the kill switch) above the newest events; `--once` prints one frame and exits.
Both stop on Ctrl-C. The client is made by the caller (`run.py ctl`), which signs requests.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import zmq
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from actors import messages as m
from actors.control import views
from actors.control.client import ControlClient, ControlTimeout
from bridge.curve import ClientKeys
from actors.runtime.event_text import describe

EVENT_NAMES = tuple(sorted(t.__name__ for t in m.EVENT_TYPES))
RECENT_EVENTS = 8  # how many `top` shows under the tables
POLL_MS = 100  # how long one wait for an event lasts between two checks of the clock


class LiveError(RuntimeError):
    """`watch` or `top` cannot go on (the executor does not answer); the message says what to check."""


def topics(names: list[str]) -> list[str]:
    """The event names asked for, spelled as the executor publishes them; ValueError naming
    the known ones for a name that is none."""
    by_lower = {n.lower(): n for n in EVENT_NAMES}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise ValueError(f"no event {unknown[0]!r}; events are {', '.join(EVENT_NAMES)}")
    return [by_lower[n.lower()] for n in names]


def event_line(topic: str, event: dict[str, Any], received_ms: int) -> str:
    """One event as `watch` prints it: its time (its own, else when it arrived), name, sentence."""
    return f"{views.utc(event.get('time') or received_ms)}  {topic:<21} {describe(topic, event)}"


def subscribe(endpoint: str, names: list[str], curve: ClientKeys | None = None) -> zmq.Socket:
    """`curve`: the executor's events socket is a CURVE server (`run.py ctl --server-key`)."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        curve.apply(sub)
    for name in names or [""]:
        sub.setsockopt(zmq.SUBSCRIBE, name.encode())  # a prefix: `events` keeps exact names only
    sub.connect(endpoint)
    return sub


def events(sub: zmq.Socket, names: list[str], timeout_ms: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events that arrive within `timeout_ms` (of the asked names), decoded; a frame that
    is not an event is skipped."""
    deadline = time.monotonic() + timeout_ms / 1000
    while (left := deadline - time.monotonic()) > 0:
        if not sub.poll(max(1, int(left * 1000))):
            return
        frames = sub.recv_multipart()
        if len(frames) != 2:
            continue
        topic = frames[0].decode("utf-8", "replace")
        if names and topic not in names:
            continue
        try:
            event = msgpack.unpackb(frames[1], raw=False)
        except (ValueError, msgpack.UnpackException):
            continue
        if isinstance(event, dict):
            yield topic, event


def watch(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    names = topics(args.topics)
    sub = subscribe(args.events, names, getattr(args, "curve", None))
    print(f"watching {', '.join(names) or 'every event'} on {args.events} (Ctrl-C to stop)", file=sys.stderr,
          flush=True)
    seen = 0
    try:
        while args.count is None or seen < args.count:
            for topic, event in events(sub, names, 1000):
                now_ms = time.time_ns() // 1_000_000
                out(json.dumps({"topic": topic, **event}, sort_keys=True, default=str) if getattr(args, "json", False)
                    else event_line(topic, event, now_ms))
                sys.stdout.flush()
                seen += 1
                if args.count is not None and seen >= args.count:
                    break
    finally:
        sub.close(linger=0)
    return 0


# ------------------------------------------------------------------------ top ---
def dashboard(status: dict[str, Any], recent: list[str], endpoint: str, now_ms: int | None = None) -> RenderableType:
    """One frame of `top`."""
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    head = Text(f"{views.utc(now_ms)}  executor at {endpoint}: {status.get('state')}  ", style="bold")
    head.append_text(views.kill_switch_line(status.get("kill_switch") or {}))
    parts: list[RenderableType] = [head, Text(), views.accounts_table(status, now_ms), Text(),
                                   views.positions_table(status), Text(), views.strategies_table(status)]
    latency = status.get("latency")  # tick -> order, if the executor measures it
    if isinstance(latency, dict) and latency:
        parts += [Text(), Text("tick -> order latency: " + ", ".join(f"{k} {v}" for k, v in latency.items()))]
    events_table = Table(title="EVENTS", title_justify="left", title_style="bold", show_header=False, show_edge=False,
                         pad_edge=False)
    events_table.add_column()
    for line in recent or ["(none since top started)"]:
        events_table.add_row(line)
    parts += [Text(), events_table, Text("Ctrl-C to quit", style="dim")]
    return Group(*parts)


def top(args: argparse.Namespace, client: Callable[[float], ControlClient], console: Console | None = None) -> int:
    """Draw the dashboard until Ctrl-C (or once). LiveError when STATUS_REQUEST is not answered."""
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:  # a pipe or a file: wide enough for every column, no colour
            console = Console(width=200, highlight=False, no_color=True)
    timeout_s = args.timeout or 3.0
    with client(timeout_s) as control:
        def status() -> dict[str, Any]:
            try:
                reply = control.request("STATUS_REQUEST")
            except ControlTimeout:
                raise LiveError(f"no reply from {args.control} within {timeout_s:g} s: is `run.py service` running "
                                "there (its --control)? `run.py ctl logs` shows its log") from None
            if not reply.get("ok"):
                raise LiveError(views.error_line(reply.get("error") or {}))
            return reply["data"]

        if args.once:
            console.print(dashboard(status(), [], args.control))
            return 0
        sub = subscribe(args.events, [], getattr(args, "curve", None))
        recent: collections.deque[str] = collections.deque(maxlen=RECENT_EVENTS)
        try:
            with Live(dashboard(status(), [], args.control), console=console, screen=False,
                      auto_refresh=False) as live:
                while True:
                    for topic, event in events(sub, [], int(args.interval * 1000)):
                        recent.appendleft(event_line(topic, event, time.time_ns() // 1_000_000))
                    live.update(dashboard(status(), list(recent), args.control), refresh=True)
        finally:
            sub.close(linger=0)
