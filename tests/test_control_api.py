"""The control API of CONTROL_API.md over real ZeroMQ sockets, against the whole executor.

Every command's happy path (documented reply keys, and the effect at the simulated
terminal, `executor.sim.server`, the simulator's truth) and its documented errors; the
envelope rules (one reply per request, also to hostile frames, `id` null when it cannot be
read, the socket still served afterwards); idempotent ids; REQ and DEALER clients; the
events on the PUB socket; and the audit row every command leaves in the journal.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from typing import Any

import msgpack
import pytest
import zmq

from actors.control.auth import auth_frame
from actors.control.client import ControlClient
from actors.control.keys import ControlKey, client_key
from tests.conftest import wait_for

REPLY_TIMEOUT_S = 10.0

# A strategy that never enters (for lifecycle tests) and one that enters on every bar.
NEVER = {"name": "never", "symbol": "EURUSD", "timeframe": "M1", "rules": {"entry_long": "close < 0"}}
ALWAYS = {"name": "always", "symbol": "EURUSD", "timeframe": "M1", "rules": {"entry_long": "close > 0"},
          "settings": {"sizing": {"method": "fixed", "lots": 0.01}, "max_positions": 1}}

STATUS_KEYS = {"state", "uptime_s", "kill_switch", "accounts", "positions", "orders", "strategies"}
ACCOUNT_KEYS = {"login", "type", "currency", "balance", "equity", "margin", "margin_free", "connected"}
POSITION_KEYS = {"ticket", "account", "symbol", "side", "volume", "price_open", "sl", "tp", "profit", "strategy_id"}
STRATEGY_KEYS = {"strategy_id", "name", "symbol", "timeframe", "account", "state", "restarts"}
PERFORMANCE_KEYS = {"strategy_id", "trades", "wins", "losses", "win_rate", "net_profit", "gross_profit",
                    "gross_loss", "profit_factor", "max_drawdown", "sharpe", "expectancy"}
# Beyond the contract's keys, the full report (actors/journal/performance.py).
REPORT_KEYS = {"breakeven", "max_drawdown_pct", "average_win", "average_loss", "largest_win", "largest_loss",
               "longest_winning_streak", "longest_losing_streak", "initial_balance"}
TRADE_KEYS = {"ticket", "strategy_id", "symbol", "side", "volume", "open_time", "open_price", "close_time",
              "close_price", "profit"}


# ------------------------------------------------------------------------ helpers ---
def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def request_frame(type_: str, data: dict[str, Any] | None = None, *, id: Any = "r-1", **envelope: Any) -> bytes:
    body: dict[str, Any] = {"v": 1, "id": id, "type": type_, "ts": now_ms()}
    if data is not None:
        body["data"] = data
    body.update(envelope)
    return pack(body)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def error_of(reply: dict[str, Any], code: str) -> dict[str, Any]:
    """The reply's error, after checking it is one with `code` and the documented shape."""
    assert reply["v"] == 1 and reply["ok"] is False, reply
    err = reply["error"]
    assert err["code"] == code, reply
    assert isinstance(err["message"], str) and err["message"], reply
    assert isinstance(err["details"], dict), reply
    return err


def sim_positions(executor, **kw: Any) -> list[dict[str, Any]]:
    return executor.sim.server.positions_get(**kw)


def status_positions(executor) -> list[dict[str, Any]]:
    return executor.status()["positions"]


def strategy_row(executor, strategy_id: str) -> dict[str, Any]:
    rows = [s for s in executor.status()["strategies"] if s["strategy_id"] == strategy_id]
    assert len(rows) == 1, executor.status()["strategies"]
    return rows[0]


def audit_rows(executor) -> list[tuple]:
    """(request_id, type, ok, error_code) of every audit row, read-only, oldest first."""
    path = executor.config.data_dir / "journal.sqlite3"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)) as db:
        return db.execute("SELECT request_id, type, ok, error_code FROM audit ORDER BY id").fetchall()


class Dealer:
    """A raw DEALER client: sends whatever frames a test wants, with an empty delimiter
    like a REQ socket would (or without, `delimiter=False`); a lone frame is signed with `key`."""

    def __init__(self, endpoint: str, *, delimiter: bool = True, key: ControlKey | None = None) -> None:
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.delimiter = delimiter
        self.key = key

    def send(self, *frames: bytes) -> None:
        if self.key is not None and len(frames) == 1:
            frames = (frames[0], auth_frame(self.key, frames[0]))
        self.socket.send_multipart(([b""] if self.delimiter else []) + list(frames))

    def recv(self, timeout_s: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        assert self.socket.poll(int(timeout_s * 1000)), f"no reply within {timeout_s} s"
        frames = self.socket.recv_multipart()
        if self.delimiter:
            assert frames[0] == b"", f"the reply must echo the empty delimiter, got {frames!r}"
            frames = frames[1:]
        assert len(frames) == 1, f"a reply is exactly one frame, got {len(frames)}"
        return msgpack.unpackb(frames[0], raw=False)

    def nothing_within(self, timeout_s: float) -> bool:
        return not self.socket.poll(int(timeout_s * 1000))

    def close(self) -> None:
        self.socket.close(linger=0)


@pytest.fixture
def dealer(executor):
    sockets: list[Dealer] = []

    def make(**kw: Any) -> Dealer:
        sockets.append(Dealer(executor.config.control_endpoint, key=client_key(executor.config.data_dir, env={}), **kw))
        return sockets[-1]

    yield make
    for sock in sockets:
        sock.close()


class EventTap:
    """A SUB socket on the events endpoint, with the slow-joiner handled by probing."""

    PROBE = {"symbol": "EURUSD", "side": "buy", "volume": 0.001}  # below the minimum lot: refused, harmless

    def __init__(self, executor) -> None:
        self.executor = executor
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.connect(executor.config.events_endpoint)
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def join(self, timeout_s: float = 5.0) -> None:
        """Until a subscription is in place, PUB drops events: send refused orders (each
        publishes RiskRejected) until one arrives, then forget what arrived."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            error_of(self.executor.request("OPEN_POSITION", self.PROBE), "RISK_REJECTED")
            if self.socket.poll(100):
                self._drain()
                self.seen.clear()
                return
        pytest.fail(f"the SUB socket received no event within {timeout_s} s")

    def _drain(self) -> None:
        while self.socket.poll(0):
            self._read()

    def _read(self) -> None:
        frames = self.socket.recv_multipart()
        assert len(frames) == 2, f"an event is two frames (topic, map), got {len(frames)}"
        payload = msgpack.unpackb(frames[1], raw=False)
        assert isinstance(payload, dict), payload
        self.seen.append((frames[0].decode(), payload))

    def wait(self, topic: str, match=lambda event: True, timeout_s: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        checked = 0
        while True:
            for t, event in self.seen[checked:]:
                if t == topic and match(event):
                    return event
            checked = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {topic} event within {timeout_s} s; seen: {[t for t, _ in self.seen]}")
            if self.socket.poll(int(left * 1000) + 1):
                self._read()

    def close(self) -> None:
        self.socket.close(linger=0)


@pytest.fixture
def events(executor):
    tap = EventTap(executor)
    tap.join()
    yield tap
    tap.close()


# ------------------------------------------------------------------- monitoring ---
def test_ping_replies_pong_with_the_executor_clock(executor):
    before = now_ms()
    reply = executor.request("PING", id="ping-1")
    assert reply == {"v": 1, "id": "ping-1", "ok": True, "data": {"pong": reply["data"]["pong"]}}
    assert before - 1000 <= reply["data"]["pong"] <= now_ms() + 1000
    assert executor.ok("PING", {})["pong"] >= reply["data"]["pong"]  # an empty data map is fine too


def test_status_request_reports_the_documented_shape(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.03})
    executor.ok("START_STRATEGY", {"strategy_id": "st-1", "strategy": NEVER})
    status = wait_for(lambda: (s := executor.status())["positions"] and s, message="the position in STATUS")

    assert STATUS_KEYS <= set(status), status
    assert status["state"] == "running" and status["uptime_s"] >= 0
    assert status["kill_switch"] == {"active": False, "reason": None, "locked_until": None}
    [account] = status["accounts"]
    assert ACCOUNT_KEYS <= set(account), account
    assert account["login"] == executor.sim.login and account["type"] == "demo" and account["connected"] is True
    assert account["currency"] == "USD" and account["balance"] > 0
    [position] = status["positions"]
    assert POSITION_KEYS <= set(position), position
    assert (position["ticket"], position["account"], position["symbol"], position["side"], position["volume"],
            position["strategy_id"]) == (opened["ticket"], account["login"], "EURUSD", "sell", 0.03, "manual")
    assert status["orders"] == []
    [strategy] = status["strategies"]
    assert STRATEGY_KEYS <= set(strategy), strategy
    assert strategy == {**strategy, "strategy_id": "st-1", "name": "never", "symbol": "EURUSD", "timeframe": "M1",
                        "account": account["login"], "state": "running", "restarts": 0}


def test_performance_request_reports_closed_trades(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    closed = executor.ok("CLOSE_POSITION", {"ticket": opened["ticket"]})

    report = executor.ok("PERFORMANCE_REQUEST", {"include_trades": True})
    assert {"accounts", "strategies", "trades"} <= set(report), report
    [summary] = report["strategies"]
    assert PERFORMANCE_KEYS | REPORT_KEYS <= set(summary), summary
    assert summary["strategy_id"] == "manual" and summary["trades"] == 1
    [account] = report["accounts"]
    assert (PERFORMANCE_KEYS - {"strategy_id"}) | REPORT_KEYS | {"account"} <= set(account), account
    assert account["account"] == executor.sim.login and account["trades"] == 1
    # The equity curve starts at the balance before the trade (the simulator charges no commission).
    assert account["initial_balance"] == summary["initial_balance"] == \
        pytest.approx(executor.sim.server.balance - closed["profit"], abs=0.01)
    assert summary["max_drawdown_pct"] is not None and summary["sharpe"] is None  # one day: no Sharpe
    assert summary["wins"] + summary["losses"] <= 1
    assert summary["net_profit"] == pytest.approx(closed["profit"], abs=0.01)
    [trade] = report["trades"]
    assert TRADE_KEYS | {"reason"} <= set(trade), trade
    assert (trade["ticket"], trade["strategy_id"], trade["symbol"], trade["side"], trade["volume"]) == \
        (opened["ticket"], "manual", "EURUSD", "buy", 0.1)
    assert trade["open_price"] == pytest.approx(opened["price"])
    assert trade["close_price"] == pytest.approx(closed["price"])
    assert trade["profit"] == pytest.approx(closed["profit"], abs=0.01)
    assert trade["open_time"] <= trade["close_time"]
    [exit_deal] = [d for d in executor.sim.server.history_deals_get(position=opened["ticket"]) if d["entry"] == 1]
    assert trade["profit"] == pytest.approx(exit_deal["profit"], abs=0.01)

    # The default leaves the trades out; a filter by strategy id answers for that id only.
    assert "trades" not in executor.ok("PERFORMANCE_REQUEST")
    other = executor.ok("PERFORMANCE_REQUEST", {"strategy_id": "nobody", "include_trades": True})
    assert [s["strategy_id"] for s in other["strategies"]] == ["nobody"] and other["strategies"][0]["trades"] == 0
    assert other["trades"] == []
    err = error_of(executor.request("PERFORMANCE_REQUEST", {"include_trades": "yes"}), "BAD_REQUEST")
    assert err["details"]["field"] == "data.include_trades"


# ---------------------------------------------------------------- direct trading ---
def test_open_position_fills_at_the_terminal(executor):
    reply = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.2, "sl_pips": 20,
                                               "tp_pips": 40}, id="open-1")
    assert reply["ok"] and reply["id"] == "open-1", reply
    data = reply["data"]
    assert set(data) >= {"ticket", "price", "volume"}
    assert isinstance(data["ticket"], int) and isinstance(data["price"], float) and data["volume"] == 0.2

    [position] = sim_positions(executor)
    assert position["ticket"] == data["ticket"] and position["symbol"] == "EURUSD"
    assert position["type"] == 0 and position["volume"] == 0.2  # POSITION_TYPE_BUY
    assert position["price_open"] == pytest.approx(data["price"])
    # 20 and 40 pips of a 5-digit quote, from the quote the order was priced at (the fill may
    # have moved a little since).
    assert position["tp"] - position["sl"] == pytest.approx(0.0060, abs=1e-6)
    assert position["sl"] == pytest.approx(data["price"] - 0.0020, abs=0.0005)
    wait_for(lambda: [p for p in status_positions(executor) if p["ticket"] == data["ticket"]],
             message="the position in STATUS_REQUEST")

    sell = executor.ok("OPEN_POSITION", {"symbol": "USDJPY", "side": "sell", "sl": 500.0})  # default volume
    [short] = sim_positions(executor, ticket=sell["ticket"])
    assert short["type"] == 1 and short["symbol"] == "USDJPY" and short["sl"] == 500.0  # POSITION_TYPE_SELL
    assert short["volume"] == sell["volume"] > 0


def test_open_position_refusals(executor):
    cases = [  # (data, code, details.field or None)
        ({"symbol": "EURUSD", "side": "long", "volume": 0.1}, "BAD_REQUEST", "data.side"),
        ({"symbol": "EURUSD", "side": "buy", "volume": "0.1"}, "BAD_REQUEST", "data.volume"),
        ({"symbol": "EURUSD", "side": "buy", "volume": -1}, "BAD_REQUEST", "data.volume"),
        ({"symbol": "EURUSD", "side": "buy", "volume": 0.1, "leverage": 500}, "BAD_REQUEST", None),
        ({"side": "buy", "volume": 0.1}, "BAD_REQUEST", "data.symbol"),
        ({"symbol": "EURUSD", "side": "buy", "volume": 0.1,
          "sizing": {"method": "fixed", "lots": 0.1}}, "BAD_REQUEST", None),
        ({"symbol": "EURUSD", "side": "buy", "comment": "x" * 32}, "BAD_REQUEST", "data.comment"),
        ({"symbol": "NOSUCH", "side": "buy", "volume": 0.1}, "NOT_FOUND", None),
        ({"account": 12345, "symbol": "EURUSD", "side": "buy", "volume": 0.1}, "NOT_FOUND", None),
    ]
    for data, code, field in cases:
        err = error_of(executor.request("OPEN_POSITION", data), code)
        if field is not None:
            assert err["details"].get("field") == field, (data, err)
    assert sim_positions(executor) == [], "a refused OPEN_POSITION must not trade"


def test_close_position_partially_then_fully(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.2})
    ticket = opened["ticket"]

    partial = executor.ok("CLOSE_POSITION", {"ticket": ticket, "volume": 0.05})
    assert set(partial) >= {"ticket", "closed_volume", "price", "profit"}
    assert partial["ticket"] == ticket and partial["closed_volume"] == pytest.approx(0.05)
    assert isinstance(partial["price"], float) and isinstance(partial["profit"], float)
    [left] = sim_positions(executor, ticket=ticket)
    assert left["volume"] == pytest.approx(0.15)

    full = executor.ok("CLOSE_POSITION", {"ticket": ticket})
    assert full["ticket"] == ticket and full["closed_volume"] == pytest.approx(0.15)
    assert sim_positions(executor) == []
    wait_for(lambda: not status_positions(executor), message="STATUS to show no positions")


def test_close_position_errors(executor):
    err = error_of(executor.request("CLOSE_POSITION", {"ticket": 987654321}), "NOT_FOUND")
    assert "987654321" in err["message"]
    error_of(executor.request("CLOSE_POSITION", {"ticket": "1"}), "BAD_REQUEST")
    error_of(executor.request("CLOSE_POSITION", {"ticket": 0}), "BAD_REQUEST")
    error_of(executor.request("CLOSE_POSITION", {}), "BAD_REQUEST")
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    error_of(executor.request("CLOSE_POSITION", {"ticket": opened["ticket"], "volume": 0.5}), "BAD_REQUEST")
    error_of(executor.request("CLOSE_POSITION", {"ticket": opened["ticket"], "volume": 0.05, "x": 1}),
             "BAD_REQUEST")
    [position] = sim_positions(executor)
    assert position["volume"] == 0.1, "a refused CLOSE_POSITION must not close anything"


def test_modify_position_moves_stops_at_the_terminal(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    sl, tp = round(opened["price"] - 0.005, 5), round(opened["price"] + 0.01, 5)
    reply = executor.ok("MODIFY_POSITION", {"ticket": opened["ticket"], "sl": sl, "tp": tp})
    assert reply == {"ticket": opened["ticket"], "sl": sl, "tp": tp}
    [position] = sim_positions(executor)
    assert (position["sl"], position["tp"]) == (sl, tp)

    # Only the tp: the sl stays where it is.
    tp2 = round(opened["price"] + 0.02, 5)
    assert executor.ok("MODIFY_POSITION", {"ticket": opened["ticket"], "tp": tp2}) == \
        {"ticket": opened["ticket"], "sl": sl, "tp": tp2}
    [position] = sim_positions(executor)
    assert (position["sl"], position["tp"]) == (sl, tp2)

    error_of(executor.request("MODIFY_POSITION", {"ticket": 424242, "sl": 1.0}), "NOT_FOUND")
    error_of(executor.request("MODIFY_POSITION", {"ticket": opened["ticket"]}), "BAD_REQUEST")  # nothing to change
    error_of(executor.request("MODIFY_POSITION", {"ticket": opened["ticket"], "sl": "low"}), "BAD_REQUEST")
    error_of(executor.request("MODIFY_POSITION", {"ticket": opened["ticket"], "sl": -1.0}), "BAD_REQUEST")
    [position] = sim_positions(executor)
    assert (position["sl"], position["tp"]) == (sl, tp2)


def test_close_all_by_symbol_then_everything(executor):
    for symbol, side in (("EURUSD", "buy"), ("EURUSD", "sell"), ("GBPUSD", "buy")):
        executor.ok("OPEN_POSITION", {"symbol": symbol, "side": side, "volume": 0.1})
    assert len(sim_positions(executor)) == 3

    assert executor.ok("CLOSE_ALL", {"symbol": "EURUSD"}) == {"closed": 2, "remaining": 0}
    assert [p["symbol"] for p in sim_positions(executor)] == ["GBPUSD"]

    login = executor.status()["accounts"][0]["login"]
    assert executor.ok("CLOSE_ALL", {"account": login}) == {"closed": 1, "remaining": 0}
    assert sim_positions(executor) == []
    assert executor.ok("CLOSE_ALL") == {"closed": 0, "remaining": 0}  # nothing left: still ok

    error_of(executor.request("CLOSE_ALL", {"account": 999}), "NOT_FOUND")
    error_of(executor.request("CLOSE_ALL", {"symbol": 5}), "BAD_REQUEST")


# ------------------------------------------------------------------------- risk ---
def test_update_risk_limits_max_positions_refuses_the_second_order(executor):
    login = executor.status()["accounts"][0]["login"]
    reply = executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 1}})
    assert reply["account"] == login
    limits = reply["limits"]
    assert limits["max_positions"] == 1
    # The effective limits: the update merged over the account's defaults.
    assert {"max_daily_loss_pct", "max_drawdown_pct", "max_lot_size", "max_correlation"} <= set(limits)

    first = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    err = error_of(executor.request("OPEN_POSITION", {"symbol": "GBPUSD", "side": "sell", "volume": 0.1}),
                   "RISK_REJECTED")
    reasons = err["details"]["reasons"]
    assert isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)
    assert any("max_positions" in r for r in reasons), reasons
    assert [p["ticket"] for p in sim_positions(executor)] == [first["ticket"]]

    # Raising the limit again lets the order through; the update is merged, not replaced.
    again = executor.ok("UPDATE_RISK_LIMITS", {"account": login, "limits": {"max_positions": 5}})["limits"]
    assert {**limits, "max_positions": 5} == again
    executor.ok("OPEN_POSITION", {"symbol": "GBPUSD", "side": "sell", "volume": 0.1})
    assert len(sim_positions(executor)) == 2


def test_update_risk_limits_errors(executor):
    for data in ({"limits": {"max_positions": "1"}}, {"limits": {"max_lot_size": 0}}, {"limits": {}},
                 {"limits": {"max_leverage": 3}}, {"limits": {"max_positions": 1}, "extra": True}, {}):
        err = error_of(executor.request("UPDATE_RISK_LIMITS", data), "BAD_REQUEST")
        assert err["details"]["field"].startswith("data"), err
    error_of(executor.request("UPDATE_RISK_LIMITS", {"account": 999, "limits": {"max_positions": 1}}), "NOT_FOUND")


def test_max_lot_size_bounds_every_order(executor):
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_lot_size": 0.05}})
    # An explicit volume above the limit is the operator's mistake: refused with the reason,
    # never cut down to a size nobody asked for (and nothing reaches the terminal).
    err = error_of(executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}),
                   "RISK_REJECTED")
    assert err["details"]["reasons"][0].startswith("volume 0.1 exceeds max_lot_size 0.05"), err
    assert not sim_positions(executor)
    # CONTROL_API: a sizing method's result "is clamped to the symbol's volume min/max/step and
    # to the account's max_lot_size".
    reply = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "sizing": {"method": "fixed", "lots": 0.5}})
    assert reply["volume"] == 0.05, reply
    assert [p["volume"] for p in sim_positions(executor)] == [0.05]
    # Below the symbol's minimum lot: refused with a reason, never rounded up.
    err = error_of(executor.request("OPEN_POSITION", {"symbol": "GBPUSD", "side": "buy", "volume": 0.001}),
                   "RISK_REJECTED")
    assert any("minimum" in r for r in err["details"]["reasons"]), err
    assert not sim_positions(executor, symbol="GBPUSD")


def test_emergency_stop_flattens_locks_and_is_idempotent(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "es-1", "strategy": NEVER})
    tickets = {executor.ok("OPEN_POSITION", {"symbol": s, "side": "buy", "volume": 0.1})["ticket"]
               for s in ("EURUSD", "GBPUSD")}
    assert {p["ticket"] for p in sim_positions(executor)} == tickets

    before = now_ms()
    data = executor.ok("EMERGENCY_STOP", {"reason": "test stop"})
    assert set(data) >= {"closed_positions", "cancelled_orders", "remaining", "locked_until"}
    assert (data["closed_positions"], data["cancelled_orders"], data["remaining"]) == (2, 0, 0)
    assert data["locked_until"] > before + 60_000  # the default lock is long
    assert sim_positions(executor) == [], "EMERGENCY_STOP replies once the terminal reports flat"

    status = executor.status()
    assert status["kill_switch"] == {"active": True, "reason": "test stop", "locked_until": data["locked_until"]}
    assert strategy_row(executor, "es-1")["state"] == "stopped"

    for type_, payload in (("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}),
                           ("START_STRATEGY", {"strategy_id": "es-2", "strategy": NEVER}),
                           ("RESET_KILL_SWITCH", {})):
        err = error_of(executor.request(type_, payload), "TRADING_LOCKED")
        assert err["details"]["locked_until"] == data["locked_until"], (type_, err)
    assert sim_positions(executor) == []

    again = executor.ok("EMERGENCY_STOP", {})  # the reason may be omitted; the first one stays
    assert again["locked_until"] == data["locked_until"] and again["closed_positions"] == 0
    assert executor.status()["kill_switch"]["reason"] == "test stop"
    error_of(executor.request("EMERGENCY_STOP", {"reason": ""}), "BAD_REQUEST")


def test_reset_kill_switch_is_refused_until_the_lock_expires(executor_factory):
    executor = executor_factory(kill_lock_s=1.0)
    executor.wait_connected()
    data = executor.ok("EMERGENCY_STOP", {"reason": "short lock"})
    assert data["locked_until"] - now_ms() <= 1500

    err = error_of(executor.request("RESET_KILL_SWITCH", {}), "TRADING_LOCKED")
    assert err["details"]["locked_until"] == data["locked_until"]
    error_of(executor.request("RESET_KILL_SWITCH", {"force": True}), "BAD_REQUEST")

    def reset() -> dict[str, Any] | None:
        reply = executor.request("RESET_KILL_SWITCH")
        if not reply["ok"]:
            error_of(reply, "TRADING_LOCKED")
            return None
        return reply["data"]

    assert wait_for(reset, timeout=5.0, interval=0.1, message="RESET_KILL_SWITCH to succeed") == {"state": "ACTIVE"}
    assert now_ms() >= data["locked_until"]
    assert executor.status()["kill_switch"] == {"active": False, "reason": None, "locked_until": None}
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert [p["ticket"] for p in sim_positions(executor)] == [opened["ticket"]]
    assert executor.ok("RESET_KILL_SWITCH", {}) == {"state": "ACTIVE"}  # nothing engaged: still ok


# ------------------------------------------------------------ strategy management ---
def test_strategy_lifecycle(executor):
    login = executor.status()["accounts"][0]["login"]
    reply = executor.ok("START_STRATEGY", {"strategy_id": "life-1", "account": login, "strategy": NEVER})
    assert reply == {"strategy_id": "life-1", "state": "running"}
    assert strategy_row(executor, "life-1")["state"] == "running"

    err = error_of(executor.request("START_STRATEGY", {"strategy_id": "life-1", "strategy": NEVER}), "CONFLICT")
    assert "life-1" in err["message"]

    assert executor.ok("PAUSE_STRATEGY", {"strategy_id": "life-1"}) == {"strategy_id": "life-1", "state": "paused"}
    assert strategy_row(executor, "life-1")["state"] == "paused"
    error_of(executor.request("START_STRATEGY", {"strategy_id": "life-1", "strategy": NEVER}), "CONFLICT")
    assert executor.ok("RESUME_STRATEGY", {"strategy_id": "life-1"}) == {"strategy_id": "life-1", "state": "running"}
    assert strategy_row(executor, "life-1")["state"] == "running"

    renamed = {**NEVER, "name": "renamed", "timeframe": "M5"}
    assert executor.ok("UPDATE_STRATEGY", {"strategy_id": "life-1", "strategy": renamed}) == \
        {"strategy_id": "life-1", "state": "running"}
    row = strategy_row(executor, "life-1")
    assert (row["name"], row["timeframe"], row["state"]) == ("renamed", "M5", "running")

    assert executor.ok("STOP_STRATEGY", {"strategy_id": "life-1", "close_positions": False}) == \
        {"strategy_id": "life-1", "state": "stopped", "closed": 0}
    assert strategy_row(executor, "life-1")["state"] == "stopped"
    # A stopped id may be started again.
    assert executor.ok("START_STRATEGY", {"strategy_id": "life-1", "strategy": NEVER})["state"] == "running"


def test_strategy_commands_on_an_unknown_id_are_not_found(executor):
    for type_, data in (("STOP_STRATEGY", {"strategy_id": "ghost"}),
                        ("PAUSE_STRATEGY", {"strategy_id": "ghost"}),
                        ("RESUME_STRATEGY", {"strategy_id": "ghost"}),
                        ("UPDATE_STRATEGY", {"strategy_id": "ghost", "strategy": NEVER})):
        err = error_of(executor.request(type_, data), "NOT_FOUND")
        assert "ghost" in err["message"], (type_, err)
    error_of(executor.request("START_STRATEGY", {"strategy_id": "s", "account": 999, "strategy": NEVER}),
             "NOT_FOUND")
    assert executor.status()["strategies"] == []


@pytest.mark.parametrize("rule, position", [
    ("close > (1 +", 12),
    ("foo(3) > 1", 0),
    ("close > 1 )", 10),
    ("sma(10) > > 3", 10),
    ("sma(x) > 1", 4),
])
def test_a_bad_rule_is_bad_request_naming_its_position(executor, rule, position):
    strategy = {**NEVER, "rules": {"entry_long": rule}}
    err = error_of(executor.request("START_STRATEGY", {"strategy_id": "bad", "strategy": strategy}), "BAD_REQUEST")
    assert err["details"]["position"] == position, err
    assert f"at {position}" in err["message"], err
    assert "entry_long" in err["details"]["field"], err
    assert executor.status()["strategies"] == [], "a refused strategy must not be registered"

    # UPDATE_STRATEGY refuses it the same way and keeps the running definition.
    executor.ok("START_STRATEGY", {"strategy_id": "good", "strategy": NEVER})
    err = error_of(executor.request("UPDATE_STRATEGY", {"strategy_id": "good", "strategy": strategy}),
                   "BAD_REQUEST")
    assert err["details"]["position"] == position, err
    row = strategy_row(executor, "good")
    assert (row["name"], row["state"]) == ("never", "running")


def test_a_bad_filter_names_the_filter_and_position(executor):
    strategy = {**NEVER, "rules": {"entry_long": "close > 0", "filters": ["adx(14) > 20", "close >"]}}
    err = error_of(executor.request("START_STRATEGY", {"strategy_id": "f", "strategy": strategy}), "BAD_REQUEST")
    assert err["details"]["position"] == 7 and "filters[1]" in err["message"], err


def test_strategy_definitions_with_wrong_types_are_bad_request(executor):
    cases = [
        ({"strategy_id": 7, "strategy": NEVER}, "data.strategy_id"),
        ({"strategy_id": "has space", "strategy": NEVER}, "data.strategy_id"),
        ({"strategy_id": "x" * 65, "strategy": NEVER}, "data.strategy_id"),
        ({"strategy_id": "s"}, "data.strategy"),
        ({"strategy_id": "s", "strategy": {**NEVER, "timeframe": "M2"}}, "data.strategy.timeframe"),
        ({"strategy_id": "s", "strategy": {**NEVER, "colour": "red"}}, None),
        ({"strategy_id": "s", "strategy": {**NEVER, "rules": {"exit_long": "close > 0"}}}, None),
        ({"strategy_id": "s", "strategy": {**NEVER, "settings": {"sizing": {"method": "fixed", "lots": "1"}}}},
         "data.strategy.settings.sizing.lots"),
        ({"strategy_id": "s", "strategy": NEVER, "priority": 1}, None),
    ]
    for data, field in cases:
        err = error_of(executor.request("START_STRATEGY", data), "BAD_REQUEST")
        if field is not None:
            assert err["details"]["field"] == field, (data, err)
    error_of(executor.request("STOP_STRATEGY", {"strategy_id": "s", "close_positions": "yes"}), "BAD_REQUEST")
    error_of(executor.request("PAUSE_STRATEGY", {"strategy_id": "s", "now": True}), "BAD_REQUEST")
    error_of(executor.request("RESUME_STRATEGY", {}), "BAD_REQUEST")
    error_of(executor.request("UPDATE_STRATEGY", {"strategy_id": "s", "strategy": "sma"}), "BAD_REQUEST")
    assert executor.status()["strategies"] == []


def test_stop_strategy_closes_its_positions_and_answers_for_itself(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "idle", "strategy": NEVER})
    executor.ok("START_STRATEGY", {"strategy_id": "eager", "strategy": ALWAYS})
    manual = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.1})
    wait_for(lambda: [p for p in status_positions(executor) if p["strategy_id"] == "eager"], timeout=15,
             message="a position of the strategy 'eager'")

    idle = executor.ok("STOP_STRATEGY", {"strategy_id": "idle"})
    assert {k: idle[k] for k in ("strategy_id", "state", "closed")} == \
        {"strategy_id": "idle", "state": "stopped", "closed": 0}, idle
    reply = executor.ok("STOP_STRATEGY", {"strategy_id": "eager"})
    assert reply["strategy_id"] == "eager", f"STOP_STRATEGY answered for another strategy: {reply}"
    assert (reply["state"], reply["closed"]) == ("stopped", 1), reply
    assert [p["ticket"] for p in sim_positions(executor)] == [manual["ticket"]], "only the strategy's positions close"
    assert strategy_row(executor, "eager")["state"] == "stopped"


def test_paused_strategy_makes_no_entries_until_resumed(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "p", "strategy": NEVER})
    executor.ok("PAUSE_STRATEGY", {"strategy_id": "p"})
    # Paused, the definition changes to one that enters on every bar; the state stays paused.
    assert executor.ok("UPDATE_STRATEGY", {"strategy_id": "p", "strategy": ALWAYS})["state"] == "paused"
    # A twin that is not paused proves bars are flowing to strategies on this symbol.
    executor.ok("START_STRATEGY", {"strategy_id": "twin", "strategy": ALWAYS})

    def owners() -> set[str]:
        return {p["strategy_id"] for p in status_positions(executor)}

    wait_for(lambda: "twin" in owners(), timeout=15, message="the twin's entry")
    bar_ms = 60_000
    start = executor.sim.clock.now_ms()
    wait_for(lambda: executor.sim.clock.now_ms() >= start + 3 * bar_ms, timeout=5, message="three more M1 bars")
    assert "p" not in owners(), "a paused strategy opened a position"

    executor.ok("RESUME_STRATEGY", {"strategy_id": "p"})
    wait_for(lambda: "p" in owners(), timeout=15, message="the resumed strategy's entry")


def test_update_strategy_keeps_open_positions(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "u", "strategy": ALWAYS})
    [held] = wait_for(lambda: [p for p in status_positions(executor) if p["strategy_id"] == "u"], timeout=15,
                      message="the strategy's position")
    assert executor.ok("UPDATE_STRATEGY", {"strategy_id": "u", "strategy": {**NEVER, "name": "calm"}}) == \
        {"strategy_id": "u", "state": "running"}
    assert sim_positions(executor, ticket=held["ticket"]), "UPDATE_STRATEGY closed an open position"
    [still] = [p for p in status_positions(executor) if p["ticket"] == held["ticket"]]
    assert still["strategy_id"] == "u"
    assert executor.ok("STOP_STRATEGY", {"strategy_id": "u"})["closed"] == 1
    assert not sim_positions(executor, ticket=held["ticket"])


# ---------------------------------------------------------------- envelope rules ---
def hostile() -> list[tuple[str, bytes, str, str | None]]:
    """(name, frame, code, expected id); made when a test runs, so each `ts` is fresh."""
    return [
        ("undecodable", b"\xc1garbage", "BAD_REQUEST", None),
        ("truncated map", pack({"v": 1, "id": "t-1", "type": "PING"})[:-2], "BAD_REQUEST", None),
        ("a list", pack(["v", 1, "id", "l-1"]), "BAD_REQUEST", None),
        ("an int", pack(5), "BAD_REQUEST", None),
        ("a string", pack("PING"), "BAD_REQUEST", None),
        ("int map keys", pack({1: 1, 2: "x"}), "BAD_REQUEST", None),
        ("empty frame", b"", "BAD_REQUEST", None),
        ("unknown command", request_frame("FLY_TO_MOON", id="u-1"), "UNKNOWN_COMMAND", "u-1"),
        ("version 2", request_frame("PING", id="v-2", v=2), "BAD_REQUEST", "v-2"),
        ("no version", pack({"id": "nv-1", "type": "PING"}), "BAD_REQUEST", "nv-1"),
        ("id as int", request_frame("PING", id=7), "BAD_REQUEST", None),
        ("id too long", request_frame("PING", id="x" * 65), "BAD_REQUEST", None),
        ("id empty", request_frame("PING", id=""), "BAD_REQUEST", None),
        ("no id", pack({"v": 1, "type": "PING"}), "BAD_REQUEST", None),
        ("type as int", request_frame(3, id="ti-1"), "BAD_REQUEST", "ti-1"),
        ("data a list", request_frame("PING", [1], id="dl-1"), "BAD_REQUEST", "dl-1"),
        ("ts a string", request_frame("PING", id="ts-1", ts="now"), "BAD_REQUEST", "ts-1"),
        ("unknown envelope key", request_frame("PING", id="k-1", priority=1), "BAD_REQUEST", "k-1"),
        ("unknown data key", request_frame("PING", {"x": 1}, id="dk-1"), "BAD_REQUEST", "dk-1"),
        ("oversized", request_frame("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "comment": "c" * 70_000},
                                    id="big-1"), "BAD_REQUEST", None),
    ]


def test_hostile_frames_each_get_one_reply_and_the_socket_stays_usable(executor, dealer):
    sock = dealer()
    for n, (name, frame, code, expected_id) in enumerate(hostile()):
        sock.send(frame)
        reply = sock.recv()
        assert reply["id"] == expected_id, (name, reply)
        err = error_of(reply, code)
        if name == "oversized":
            assert "65536" in err["message"] and err["details"]["limit"] == 65536, err
        # Exactly one reply: the next thing on this socket is the answer to the next request.
        sock.send(request_frame("PING", id=f"after-{n}"))
        after = sock.recv()
        assert after["id"] == f"after-{n}" and after["ok"], (name, after)
    assert sim_positions(executor) == []


def test_hostile_frames_do_not_wedge_a_req_client(executor):
    client = executor.client  # a plain REQ socket: one reply missing would wedge it
    for name, frame, code, expected_id in hostile():
        reply = client.send_raw(frame, auth_frame(client_key(executor.config.data_dir, env={}), frame),
                                timeout_s=REPLY_TIMEOUT_S)
        assert reply["id"] == expected_id, (name, reply)
        error_of(reply, code)
        assert executor.request("PING", id=f"req-after-{name}")["ok"]


def test_a_three_frame_request_is_bad_request(executor, dealer):
    ping = request_frame("PING", id="three-1")
    err = error_of(executor.client.send_raw(ping, b"auth", b"extra"), "BAD_REQUEST")
    assert "3" in err["message"], err
    assert executor.ok("PING")["pong"] > 0
    # A DEALER sending only the delimiter sends a request of no frames: refused as well.
    sock = dealer()
    sock.send()
    reply = sock.recv()
    assert reply["id"] is None
    error_of(reply, "BAD_REQUEST")
    sock.send(request_frame("PING", id="after-empty"))
    assert sock.recv()["id"] == "after-empty"


def test_a_frame_over_the_socket_limit_is_dropped_and_others_are_served(executor, dealer):
    sock = dealer()
    sock.send(b"\x00" * (1024 * 1024 + 16))  # over MAXMSGSIZE: ZMQ drops it (and the connection)
    assert sock.nothing_within(0.3)
    assert executor.ok("PING")["pong"] > 0
    with ControlClient(executor.config.control_endpoint, timeout_s=REPLY_TIMEOUT_S,
                       data_dir=executor.config.data_dir) as fresh:
        assert fresh.request("PING")["ok"]


def test_a_dealer_with_an_empty_delimiter_is_served_in_pipeline(executor, dealer):
    sock = dealer()
    ids = [f"pipe-{i}" for i in range(3)]
    sock.send(request_frame("PING", id=ids[0]))
    sock.send(request_frame("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}, id=ids[1]))
    sock.send(request_frame("STATUS_REQUEST", id=ids[2]))
    replies = {r["id"]: r for r in (sock.recv() for _ in ids)}
    assert set(replies) == set(ids)
    assert all(r["ok"] for r in replies.values()), replies
    assert [p["ticket"] for p in sim_positions(executor)] == [replies["pipe-1"]["data"]["ticket"]]
    assert sock.nothing_within(0.1), "one request, one reply"


def test_a_repeated_id_runs_once_and_returns_the_first_reply(executor):
    data = {"symbol": "EURUSD", "side": "buy", "volume": 0.1}
    first = executor.request("OPEN_POSITION", data, id="dup-open")
    assert first["ok"], first
    second = executor.request("OPEN_POSITION", data, id="dup-open")
    assert second == first
    # Even with other content, a repeated id is answered from the first reply.
    third = executor.request("OPEN_POSITION", {**data, "side": "sell"}, id="dup-open")
    assert third == first
    [position] = sim_positions(executor)
    assert position["ticket"] == first["data"]["ticket"] and position["type"] == 0

    pong = executor.request("PING", id="dup-ping")
    assert executor.request("PING", id="dup-ping") == pong

    started = executor.request("START_STRATEGY", {"strategy_id": "once", "strategy": NEVER}, id="dup-start")
    assert started["ok"]
    assert executor.request("START_STRATEGY", {"strategy_id": "once", "strategy": NEVER}, id="dup-start") == started
    refused = executor.request("CLOSE_POSITION", {"ticket": 77}, id="dup-err")
    error_of(refused, "NOT_FOUND")
    assert executor.request("CLOSE_POSITION", {"ticket": 77}, id="dup-err") == refused


def test_a_repeated_id_sent_concurrently_runs_once(executor, dealer):
    a, b = dealer(), dealer()
    frame = request_frame("OPEN_POSITION", {"symbol": "GBPUSD", "side": "sell", "volume": 0.1}, id="race-1")
    a.send(frame)
    b.send(frame)
    reply_a, reply_b = a.recv(), b.recv()
    assert reply_a == reply_b and reply_a["ok"], (reply_a, reply_b)
    assert [p["ticket"] for p in sim_positions(executor)] == [reply_a["data"]["ticket"]]


# ------------------------------------------------------------------------- events ---
def test_open_position_publishes_order_filled_and_position_opened(executor, events):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    filled = events.wait("OrderFilled", lambda e: e["ticket"] == opened["ticket"])
    assert (filled["symbol"], filled["side"], filled["volume"], filled["closing"], filled["strategy_id"]) == \
        ("EURUSD", "buy", 0.1, False, "manual")
    assert filled["price"] == pytest.approx(opened["price"])
    position = events.wait("PositionOpened", lambda e: e["ticket"] == opened["ticket"])
    assert (position["symbol"], position["side"], position["volume"]) == ("EURUSD", "buy", 0.1)
    assert position["price_open"] == pytest.approx(opened["price"])

    executor.ok("CLOSE_POSITION", {"ticket": opened["ticket"]})
    closing = events.wait("OrderFilled", lambda e: e["ticket"] == opened["ticket"] and e["closing"])
    assert closing["volume"] == 0.1
    events.wait("PositionClosed", lambda e: e["ticket"] == opened["ticket"])


def test_a_refused_order_publishes_risk_rejected(executor, events):
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 0}})
    error_of(executor.request("OPEN_POSITION", {"symbol": "GBPUSD", "side": "sell", "volume": 0.1}), "RISK_REJECTED")
    rejected = events.wait("RiskRejected", lambda e: e["symbol"] == "GBPUSD")
    assert rejected["side"] == "sell" and rejected["strategy_id"] == "manual"
    assert any("max_positions" in r for r in rejected["reasons"]), rejected


def test_emergency_stop_publishes_kill_switch_engaged(executor, events):
    data = executor.ok("EMERGENCY_STOP", {"reason": "event test"})
    engaged = events.wait("KillSwitchEngaged")
    assert engaged["reason"] == "event test" and engaged["locked_until"] == data["locked_until"]
    assert engaged["engaged_at"] <= engaged["locked_until"]


# -------------------------------------------------------------------------- audit ---
def test_every_command_is_audited(executor):
    expected: dict[str, tuple[str, bool, str]] = {}  # request id -> (type, ok, error_code)

    def send(type_: str, data: dict[str, Any] | None, code: str = "") -> dict[str, Any]:
        rid = f"audit-{len(expected)}-{type_.lower()}"
        reply = executor.request(type_, data, id=rid)
        if code:
            error_of(reply, code)
        else:
            assert reply["ok"], reply
        expected[rid] = (type_, not code, code)
        return reply

    # Reads are sampled (a row per key and minute): the fixture's STATUS polling took this minute's.
    executor.request("PING", None, id="audit-read-ping")
    executor.request("STATUS_REQUEST", {}, id="audit-read-status")
    expected["audit-read-ping"], expected["audit-read-status"] = ("PING", True, ""), ("STATUS_REQUEST", True, "")
    send("START_STRATEGY", {"strategy_id": "aud", "strategy": NEVER})
    send("START_STRATEGY", {"strategy_id": "aud", "strategy": NEVER}, "CONFLICT")
    send("PAUSE_STRATEGY", {"strategy_id": "aud"})
    send("RESUME_STRATEGY", {"strategy_id": "aud"})
    send("UPDATE_STRATEGY", {"strategy_id": "aud", "strategy": NEVER})
    send("STOP_STRATEGY", {"strategy_id": "aud"})
    send("PAUSE_STRATEGY", {"strategy_id": "ghost"}, "NOT_FOUND")
    ticket = send("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.2})["data"]["ticket"]
    send("OPEN_POSITION", {"symbol": "EURUSD", "side": "up"}, "BAD_REQUEST")
    send("MODIFY_POSITION", {"ticket": ticket, "tp": 2.0})
    send("CLOSE_POSITION", {"ticket": ticket, "volume": 0.1})
    send("CLOSE_POSITION", {"ticket": 999}, "NOT_FOUND")
    send("CLOSE_ALL", {})
    send("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 0}})
    send("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}, "RISK_REJECTED")
    send("PERFORMANCE_REQUEST", {})
    send("EMERGENCY_STOP", {"reason": "audit"})
    send("RESET_KILL_SWITCH", {}, "TRADING_LOCKED")
    send("SELF_DESTRUCT", {}, "UNKNOWN_COMMAND")
    error_of(executor.client.send_raw(b"\xc1garbage"), "BAD_REQUEST")
    assert {t for t, _, _ in expected.values()} >= {
        "START_STRATEGY", "STOP_STRATEGY", "PAUSE_STRATEGY", "RESUME_STRATEGY", "UPDATE_STRATEGY", "OPEN_POSITION",
        "CLOSE_POSITION", "MODIFY_POSITION", "CLOSE_ALL", "UPDATE_RISK_LIMITS", "EMERGENCY_STOP",
        "RESET_KILL_SWITCH", "STATUS_REQUEST", "PERFORMANCE_REQUEST", "PING"}

    reads = {"audit-read-ping", "audit-read-status"}

    def unaudited(rows: list[tuple]) -> list[str]:
        ids = {r[0] for r in rows}
        return sorted(set(expected) - ids - reads) + ([] if None in ids else ["<the undecodable frame>"])

    deadline = time.monotonic() + 5.0  # the journal writes audit rows asynchronously
    while unaudited(rows := audit_rows(executor)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not unaudited(rows), f"commands without an audit row: {unaudited(rows)}"
    assert {"PING", "STATUS_REQUEST"} <= {r[1] for r in rows}, "the first read of each kind has its row"
    for rid, (type_, ok, code) in expected.items():
        mine = [r for r in rows if r[0] == rid]
        if rid in reads and not mine:
            continue
        assert len(mine) == 1, f"{rid}: expected one audit row, got {mine}"
        assert (mine[0][1], bool(mine[0][2]), mine[0][3]) == (type_, ok, code), (rid, mine)
    [garbage] = [r for r in rows if r[0] is None]
    assert (garbage[1], bool(garbage[2]), garbage[3]) == ("?", False, "BAD_REQUEST")
