"""The figures of a run, from what the harness saw outside the executor.

Latency is the terminal's arrival time of an `order_send` minus the time it published the
tick that closed that order's bar (both on the terminal's clock, see bridge/sim/stepped.py).
Only first attempts of bars stepped in the measured window count (not the warm-up, not a
resend, not an answer from the idempotency cache). "Last order out" is, per bar, the last
order's arrival minus the first publish of that bar's ticks. RSS and CPU come from psutil
samples of the executor process over the measured window.
"""

from __future__ import annotations

import math
from collections import Counter
from statistics import median
from typing import Any

from bridge import mt5
from stress.driver import RunData
from stress.observe import SAMPLE_EVERY_S
from stress.verify import check, read_journal

DONE = (mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_DONE_PARTIAL)
MB = 1024 * 1024
MAILBOX_KEYS = ("mailboxes", "mailbox_depths", "mailbox", "queues")
RSS_EDGE_S = 60.0
OVERLAP_SHARE = 0.8  # a bar's orders still coming this late into the next bar: attribution is unsure


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def measured_orders(data: RunData) -> list[dict[str, Any]]:
    tail, first = data.tail, data.measured_from_step
    return [o for o in tail.orders if not o["cached"] and "~" not in str(o.get("id")) and o["lat"] is not None
            and o["step"] is not None and first and o["step"] >= first]


def in_fault(data: RunData, t_s: float, margin_s: float = 5.0) -> bool:
    return any(start <= t_s <= end + margin_s for _, start, end in data.fault_windows)


def latency(data: RunData) -> dict[str, Any]:
    orders = measured_orders(data)
    lat = [o["lat"] / 1e6 for o in orders]
    per_step: dict[int, list[int]] = {}
    for o in orders:
        per_step.setdefault(o["step"], []).append(o["t"])
    last_out = [(max(ts) - data.tail.step_pub[step]) / 1e6 for step, ts in per_step.items()
                if step in data.tail.step_pub]
    figures = {"latency_n": len(lat), "latency_p50_ms": percentile(lat, 50), "latency_p90_ms": percentile(lat, 90),
               "latency_p99_ms": percentile(lat, 99), "latency_max_ms": max(lat) if lat else None,
               "last_order_out_p50_ms": percentile(last_out, 50),
               "last_order_out_max_ms": max(last_out) if last_out else None,
               "terminal_read_to_answer_p50_ms": percentile([(o["done"] - o["t"]) / 1e6 for o in orders], 50)}
    floor = data.floor or {}
    for key, base in (("latency_p50_ms", "per_order_p50_ms"), ("latency_p90_ms", "per_order_p50_ms"),
                      ("latency_p99_ms", "per_order_p50_ms"), ("latency_max_ms", "per_order_p50_ms"),
                      ("last_order_out_p50_ms", "last_out_p50_ms"), ("last_order_out_max_ms", "last_out_p50_ms")):
        if figures[key] is not None and floor.get(base):
            figures[key.replace("_ms", "_x_floor")] = figures[key] / floor[base]
    figures.update(_missed(data, orders))
    return figures


def _missed(data: RunData, orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Flip strategies act on every bar: a (bar, symbol) with fewer orders than strategies missed some."""
    if data.config.mode != "flip" or not data.measured_from_step:
        return {}
    per_symbol = Counter(symbol for _, symbol in data.strategies)
    got = Counter((o["step"], o["sym"]) for o in orders)
    clean = faulty = 0
    for bar in data.tail.bars:
        if bar["step"] < data.measured_from_step:
            continue
        missing = max(0, per_symbol[bar["sym"]] - got[(bar["step"], bar["sym"])])
        if in_fault(data, bar["t"] / 1e9):
            faulty += missing
        else:
            clean += missing
    return {"missed_actions": clean, "missed_in_fault_windows": faulty,
            "bars_measured": len({b["step"] for b in data.tail.bars if b["step"] >= data.measured_from_step})}


def orders_and_rejections(data: RunData) -> dict[str, Any]:
    """Orders the terminal read, and why some did not fill: at the terminal (its error or
    retcode) and at the executor (RiskRejected and OrderRejected events; an OrderRejected
    also mirrors each terminal refusal, so the two counts overlap there)."""
    sent = [o for o in data.tail.orders if not o["cached"]]
    fills = [o for o in sent if o["ok"] and o["retcode"] in DONE]
    terminal: Counter[str] = Counter()
    for o in sent:
        if not o["ok"]:
            code, text = (o["error"] or ["", ""])[:2]
            terminal[f"terminal: error {code} {text}"[:100]] += 1
        elif o["retcode"] not in DONE:
            terminal[f"terminal: {o['retcode']} {mt5.retcode_text(o['retcode'])}"] += 1
    executor: Counter[str] = Counter()
    if data.events is not None:
        executor.update({f"executor {reason}": n for reason, n in data.events.reasons.items()})
    return {"orders": len(sent), "fills": len(fills), "answered_from_cache": len(data.tail.orders) - len(sent),
            "terminal_rejections": sum(terminal.values()), "executor_refusals": sum(executor.values()),
            "rejections_by_reason": dict((terminal + executor).most_common()),
            "events": dict(data.events.counts) if data.events is not None else {}}


def resources(data: RunData) -> dict[str, Any]:
    samples = data.samples
    window = [s for s in samples if data.measured_t0 <= s.t <= (data.measured_t1 or math.inf)] or samples
    if not window:
        return {}
    cpu_s = wall_s = 0.0
    for a, b in zip(window, window[1:]):
        if a.pid == b.pid:
            cpu_s += b.cpu_s - a.cpu_s
            wall_s += b.t - a.t
    edge = max(1, min(len(window) // 10, int(RSS_EDGE_S / SAMPLE_EVERY_S)))  # the first and last minute at most
    head = [s.rss for s in window[:edge]]
    tail = [s.rss for s in window[-edge:]]
    return {"rss_peak_mb": max(s.rss for s in samples) / MB, "rss_start_mb": median(head) / MB,
            "rss_end_mb": median(tail) / MB, "rss_growth_mb": (median(tail) - median(head)) / MB,
            "cpu_mean_pct": 100 * cpu_s / wall_s if wall_s else None, "threads_max": max(s.threads for s in samples)}


def mailboxes(status: dict[str, Any]) -> dict[str, Any]:
    for key in MAILBOX_KEYS:
        if key in status:
            return {"mailboxes": status[key]}
    return {"mailboxes": "not exposed by STATUS_REQUEST"}


def trades(data: RunData) -> dict[str, Any]:
    final = data.tail.final or {"deals": []}
    closed = sum(1 for d in final["deals"] if d.get("entry") == mt5.DEAL_ENTRY_OUT)
    reported = sum(int(s.get("trades") or 0) for s in (data.performance.get("strategies") or []))
    return {"trades": closed, "trades_reported": reported}


def compute(data: RunData) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    figures.update(latency(data))
    figures.update(orders_and_rejections(data))
    figures.update(resources(data))
    figures.update(trades(data))
    figures.update(mailboxes(data.status))
    verified = check(read_journal(data.run_dir / "data"), data.tail.final)
    figures.update(verified)
    if data.emergency:
        figures.update(flat_s=data.emergency.get("flat_s"), emergency_reply_s=data.emergency.get("reply_s"),
                       open_before_stop=data.emergency.get("open_before"),
                       remaining_after_stop=data.emergency.get("remaining_at_terminal"))
    interval_ms = 1000 * data.config.ticks_per_bar / data.config.tick_rate
    if (figures.get("last_order_out_max_ms") or 0) > OVERLAP_SHARE * interval_ms:
        data.notes.append(f"bars overlapped: a bar's last order came {figures['last_order_out_max_ms']:.0f} ms after "
                          f"its tick, with bars {interval_ms:.0f} ms apart; an order is timed from the latest bar "
                          "of its symbol, so latency is understated and missed actions overstated; use a lower "
                          "--tick-rate")
    figures["floor"] = data.floor
    figures["fault_counts"] = data.fault_counts
    figures["executor_starts"] = data.executor_starts
    figures["warmup_acted"] = data.warmup_acted
    figures["notes"] = data.notes
    return figures
