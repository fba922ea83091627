"""What the harness watches while a run goes on, all from outside the executor:

* `StampsTail` - the terminal's time stamps (bridge/sim/stepped.py), read as they are written;
* `EventsListener` - the executor's events PUB (CONTROL_API.md), counted by type and reason;
* `ProcSampler` - RSS and CPU time of the executor process (psutil), twice a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import msgpack
import psutil
import zmq

SAMPLE_EVERY_S = 0.5
MAX_REASON_LEN = 90


class StampsTail:
    """The stamps file, read incrementally; complete lines only.

    Each order is attributed to the bar of its symbol whose closing tick was published last
    before the order arrived (the terminal writes both in the order they happened): the
    order record gains `step` (the step that closed that bar), `pub` (when that tick was
    published) and `lat` (arrival minus `pub`, ns). Every publish of a step is kept in
    `step_pub` (step -> earliest publish) for the "last order out" figure."""

    def __init__(self, path: Path, start_ms: int, step_ms: int) -> None:
        self.path = path
        self.start_ms, self.step_ms = start_ms, step_ms
        self.last_pub: dict[str, tuple[int, int]] = {}  # symbol -> (step, publish ns)
        self.step_pub: dict[int, int] = {}
        self.bars: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self._offset = 0
        self._rest = b""

    def poll(self) -> int:
        """Read what was appended since the last call; returns the number of new records."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return 0
        self._offset += len(chunk)
        lines = (self._rest + chunk).split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            if line:
                self._add(json.loads(line))
        return len(lines)

    def _add(self, record: dict[str, Any]) -> None:
        kind = record.get("k")
        if kind == "bar":
            step = (record["bar"] + 60_000 - self.start_ms) // self.step_ms
            record["step"] = step
            self.last_pub[record["sym"]] = (step, record["t"])
            self.step_pub[step] = min(record["t"], self.step_pub.get(step, record["t"]))
            self.bars.append(record)
        elif kind == "order":
            step, pub = self.last_pub.get(record.get("sym"), (None, None))
            record.update(step=step, pub=pub, lat=None if pub is None else record["t"] - pub)
            self.orders.append(record)
        elif kind == "link":
            self.links.append(record)
        elif kind == "faults":
            self.faults.append(record)
        elif kind == "final":
            self.final = record

    def open_positions(self) -> int | None:
        """The terminal's open positions after the last order it answered."""
        return self.orders[-1]["open"] if self.orders else None


class EventsListener(threading.Thread):
    """Counts the executor's published events; SUB reconnects by itself across a restart."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(name="stress-events", daemon=True)
        self.endpoint = endpoint
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self._halt = threading.Event()
        self._ready = threading.Event()

    def run(self) -> None:
        context = zmq.Context.instance()
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.endpoint)
        self._ready.set()
        try:
            while not self._halt.is_set():
                if not sub.poll(100):
                    continue
                for _ in range(10_000):
                    try:
                        topic, payload = sub.recv_multipart(zmq.NOBLOCK)[:2]
                    except zmq.Again:
                        break
                    except ValueError:
                        continue
                    self._count(topic.decode("utf-8", "replace"), payload)
        finally:
            sub.close(linger=0)

    def _count(self, topic: str, payload: bytes) -> None:
        self.counts[topic] += 1
        if topic not in ("RiskRejected", "OrderRejected"):
            return
        try:
            event = msgpack.unpackb(payload, raw=False)
        except Exception:  # a payload we cannot read is still counted by its topic
            return
        if topic == "RiskRejected":
            for reason in event.get("reasons") or ["(no reason)"]:
                self.reasons[f"risk: {str(reason)[:MAX_REASON_LEN]}"] += 1
        else:
            retcode = event.get("retcode") or ""
            self.reasons[f"order rejected: {retcode} {str(event.get('message', ''))[:MAX_REASON_LEN]}"] += 1

    def start(self) -> "EventsListener":
        super().start()
        self._ready.wait(5.0)
        return self

    def stop(self) -> None:
        self._halt.set()
        self.join(5.0)


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # monotonic s
    pid: int
    rss: int  # bytes
    cpu_s: float  # user + system seconds of the process so far
    threads: int


class ProcSampler(threading.Thread):
    """Samples the process `pid_of()` names (it changes when the executor is restarted)."""

    def __init__(self, pid_of: Callable[[], int | None], every_s: float = SAMPLE_EVERY_S) -> None:
        super().__init__(name="stress-sampler", daemon=True)
        self.pid_of, self.every_s = pid_of, every_s
        self.samples: list[Sample] = []
        self._halt = threading.Event()
        self._process: psutil.Process | None = None

    def run(self) -> None:
        while not self._halt.wait(self.every_s):
            self.sample()

    def sample(self) -> Sample | None:
        pid = self.pid_of()
        if pid is None:
            return None
        try:
            if self._process is None or self._process.pid != pid:
                self._process = psutil.Process(pid)
            with self._process.oneshot():
                cpu = self._process.cpu_times()
                sample = Sample(time.monotonic(), pid, self._process.memory_info().rss, cpu.user + cpu.system,
                                self._process.num_threads())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None
        self.samples.append(sample)
        return sample

    def stop(self) -> None:
        self._halt.set()
        self.join(5.0)
