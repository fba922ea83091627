"""The simulated terminal over real loopback sockets, with the test playing the executor.

Also the pure parts it stands on: the seeded price feed and the market history.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import pytest
import zmq

from bridge.candles import bar_open_time
from bridge import mt5, protocol
from bridge.sim.price_feed import RandomWalkFeed
from bridge.sim.clock import ManualClock, SimClock
from bridge.sim.events import ReplyCache, TradeEvents
from bridge.sim.terminal import SimTerminal
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import TradeServer

LOGIN = 7_000_123
WEDNESDAY_10_UTC = int(datetime(2024, 3, 6, 10, 0, tzinfo=timezone.utc).timestamp() * 1000)
WAIT_S = 3.0

Message = dict[str, Any]


class Executor:
    """The executor's side of the bridge: ROUTER for CTL, SUB for MD, both bound."""

    def __init__(self) -> None:
        self.context = zmq.Context()
        self.router = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.bind("tcp://127.0.0.1:*")
        self.sub = self.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.bind("tcp://127.0.0.1:*")
        self.ctl_endpoint = self.router.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.md_endpoint = self.sub.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.inbox: list[Message] = []  # every CTL message seen, in arrival order
        self._request_no = 0

    def close(self) -> None:
        self.router.close(0)
        self.sub.close(0)
        self.context.term()

    def ctl_until(self, wanted: Callable[[Message], bool], timeout_s: float = WAIT_S) -> Message:
        deadline = time.monotonic() + timeout_s
        while (left_ms := int((deadline - time.monotonic()) * 1000)) > 0:
            if not self.router.poll(left_ms):
                break
            identity, payload = self.router.recv_multipart()
            assert identity == protocol.routing_id(LOGIN)
            message = protocol.unpack(payload)
            self.inbox.append(message)
            if wanted(message):
                return message
        raise AssertionError(f"no matching CTL message within {timeout_s} s")

    def ctl_during(self, seconds: float) -> list[Message]:
        seen = []
        deadline = time.monotonic() + seconds
        while (left_ms := int((deadline - time.monotonic()) * 1000)) > 0:
            if self.router.poll(left_ms):
                _, payload = self.router.recv_multipart()
                seen.append(protocol.unpack(payload))
        self.inbox.extend(seen)
        return seen

    def md_until(self, wanted: Callable[[bytes, Message], bool], timeout_s: float = WAIT_S) -> tuple[bytes, Message]:
        deadline = time.monotonic() + timeout_s
        while (left_ms := int((deadline - time.monotonic()) * 1000)) > 0:
            if not self.sub.poll(left_ms):
                break
            topic, payload = self.sub.recv_multipart()
            message = protocol.unpack(payload)
            if wanted(topic, message):
                return topic, message
        raise AssertionError(f"no matching MD message within {timeout_s} s")

    def send(self, type_: str, request_id: str | None = None, **fields: Any) -> str:
        self._request_no += 1
        request_id = request_id or f"rq-{self._request_no}"
        message = {"v": 1, "type": type_, "id": request_id, "seq": self._request_no,
                   "ts": protocol.now_ms(), "boot": "executor", "term": 0, **fields}
        self.router.send_multipart([protocol.routing_id(LOGIN), protocol.pack(message)])
        return request_id

    def request(self, type_: str, request_id: str | None = None, **fields: Any) -> Message:
        sent = self.send(type_, request_id, **fields)
        return self.ctl_until(lambda m: protocol.is_reply(m) and m["id"] == sent)


@pytest.fixture
def executor():
    side = Executor()
    yield side
    side.close()


def make_terminal(executor: Executor, **options: Any) -> SimTerminal:
    settings = dict(ctl_endpoint=executor.ctl_endpoint, md_endpoint=executor.md_endpoint,
                    login=LOGIN, seed=11, clock=SimClock(60.0, WEDNESDAY_10_UTC), history_minutes=300)
    settings.update(options)
    return SimTerminal(**settings)


@pytest.fixture
def start_terminal(executor):
    started: list[SimTerminal] = []

    def start(**options: Any) -> SimTerminal:
        terminal = make_terminal(executor, **options).start()
        started.append(terminal)
        executor.ctl_until(lambda m: m["type"] == protocol.HELLO)
        return terminal

    yield start
    for terminal in started:
        terminal.stop()


@pytest.fixture
def terminal(start_terminal):
    return start_terminal()


def buy_request(executor: Executor, volume: float = 0.1, **extra: Any) -> dict[str, Any]:
    tick = executor.request("symbol_info_tick", symbol="EURUSD")["data"]
    return {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": volume,
            "type": mt5.ORDER_TYPE_BUY, "price": tick["ask"], "deviation": 20, "magic": 42,
            "comment": "cid-1", "type_filling": mt5.ORDER_FILLING_FOK, **extra}


# --- session ---

def test_hello_carries_account_terminal_and_symbols(executor):
    terminal = make_terminal(executor).start()
    try:
        hello = executor.ctl_until(lambda m: m["type"] == protocol.HELLO)
    finally:
        terminal.stop()
    assert hello["term"] == LOGIN and hello["boot"] == terminal.boot and hello["v"] == 1
    assert hello["account"]["login"] == LOGIN and hello["account"]["balance"] == 10_000.0
    assert hello["terminal"] == {"build": hello["terminal"]["build"], "connected": True,
                                 "trade_allowed": True, "name": "SimTerminal"}
    assert hello["symbols"] == sorted(DEFAULT_SYMBOLS)
    assert hello["tz_offset_s"] == 7200
    assert abs(hello["server_time"] - WEDNESDAY_10_UTC) < 60_000 * 10


def test_ping_is_answered_with_a_pong(executor, terminal):
    pong = executor.request("ping", request_id="p-1")
    assert pong["type"] == "ping" and pong["id"] == "p-1" and pong["ok"] is True
    assert abs(pong["data"]["ts"] - protocol.now_ms()) < 5_000


def test_hello_repeats_until_acknowledged(executor, start_terminal):
    start_terminal(hello_repeat_s=0.1)
    executor.ctl_until(lambda m: m["type"] == protocol.HELLO)  # a repeat, not only the first
    ack = executor.request("hello_ack")
    assert ack["ok"] is True
    later = executor.ctl_during(0.5)
    assert [m for m in later if m["type"] == protocol.HELLO] == []


def test_restart_changes_boot_and_says_hello_again(executor, terminal):
    executor.request("hello_ack")
    old_boot = terminal.boot
    terminal.restart()
    hello = executor.ctl_until(lambda m: m["type"] == protocol.HELLO)
    assert hello["boot"] != old_boot and hello["boot"] == terminal.boot


# --- market data ---

def test_ticks_arrive_on_md_with_increasing_seq(executor, terminal):
    batches = []
    deadline = time.monotonic() + WAIT_S
    while len(batches) < 3 and time.monotonic() < deadline:
        _, message = executor.md_until(lambda topic, m: topic == b"tick.EURUSD")
        batches.append(message)
    seqs = [m["seq"] for m in batches]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    times = [t for m in batches for t in m["time_msc"]]
    assert times == sorted(times) and len(times) >= 3
    for m in batches:
        assert m["symbol"] == "EURUSD" and m["type"] == "tick"
        assert len(m["bid"]) == len(m["ask"]) == len(m["time_msc"]) == len(m["flags"])
        assert all(bid < ask for bid, ask in zip(m["bid"], m["ask"]))


def test_heartbeats_are_published(executor, terminal):
    _, hb = executor.md_until(lambda topic, m: topic == b"hb")
    assert hb["type"] == "hb" and hb["term"] == LOGIN


def test_subscribed_bars_are_published_when_they_close(executor, start_terminal):
    start_terminal(clock=SimClock(600.0, WEDNESDAY_10_UTC))
    reply = executor.request("subscribe", symbols=["EURUSD"], timeframes=["M1"])
    assert reply["ok"] and ["EURUSD", "M1"] in reply["data"]["subscriptions"]
    topic, bar = executor.md_until(lambda topic, m: topic.startswith(b"bar."))
    assert topic == b"bar.EURUSD.M1" and bar["closed"] is True and bar["timeframe"] == "M1"
    assert bar["low"] <= min(bar["open"], bar["close"]) <= max(bar["open"], bar["close"]) <= bar["high"]
    assert bar["time"] % 60_000 == 0 and bar["tick_volume"] >= 1


def test_copy_rates_from_pos_returns_count_bars_oldest_first(executor, terminal):
    reply = executor.request("copy_rates_from_pos", symbol="EURUSD", timeframe="M1", start_pos=0, count=50)
    rates = reply["data"]
    assert reply["ok"] and len(rates["time"]) == 50
    assert all(b - a == 60_000 for a, b in zip(rates["time"], rates["time"][1:]))
    server_now = terminal.clock.now_ms()
    assert rates["time"][-1] in (bar_open_time(server_now, "M1"), bar_open_time(server_now, "M1") - 60_000)
    older = executor.request("copy_rates_from_pos", symbol="EURUSD", timeframe=mt5.TIMEFRAME_M1,
                             start_pos=10, count=5)["data"]
    assert older["time"] == rates["time"][-15:-10] or older["time"] == rates["time"][-14:-9]
    hourly = executor.request("copy_rates_from_pos", symbol="EURUSD", timeframe="H1", start_pos=0, count=3)["data"]
    assert [t % 3_600_000 for t in hourly["time"]] == [0, 0, 0] and len(hourly["open"]) == 3


def test_copy_ticks_from_returns_recent_ticks(executor, terminal):
    executor.md_until(lambda topic, m: topic == b"tick.GBPUSD")
    reply = executor.request("copy_ticks_from", symbol="GBPUSD", date_from=0, count=5, flags=mt5.COPY_TICKS_ALL)
    ticks = reply["data"]
    assert reply["ok"] and ticks["symbol"] == "GBPUSD" and 1 <= len(ticks["time_msc"]) <= 5
    assert ticks["time_msc"][0] == WEDNESDAY_10_UTC  # the feed quotes at once on start


def test_bad_arguments_are_refused_with_invalid_params(executor, terminal):
    reply = executor.request("copy_rates_from_pos", symbol="EURUSD", timeframe="W7", start_pos=0, count=5)
    assert reply["ok"] is False and reply["error"][0] == mt5.RES_E_INVALID_PARAMS and "W7" in reply["error"][1]
    missing = executor.request("symbol_info", symbol="NOPE")
    assert missing["error"][0] == mt5.RES_E_NOT_FOUND
    info = executor.request("symbol_info", symbol="USDJPY")
    assert info["ok"] and info["data"]["digits"] == 3


# --- trading ---

def test_order_send_fills_and_reports_transactions_and_positions(executor, terminal):
    reply = executor.request("order_send", request=buy_request(executor))
    assert reply["ok"] and reply["data"]["retcode"] == mt5.TRADE_RETCODE_DONE
    ticket = reply["data"]["order"]

    snapshot = executor.ctl_until(lambda m: m["type"] == protocol.POSITIONS and m["positions"])
    transactions = [m for m in executor.inbox if m["type"] == protocol.TRADE_TRANSACTION]
    assert transactions and all(m["id"].startswith("ev-") for m in transactions)
    assert {m["trans"]["type_name"] for m in transactions} >= {"DEAL_ADD", "REQUEST"}
    assert [p["ticket"] for p in snapshot["positions"]] == [ticket]
    executor.ctl_until(lambda m: m["type"] == protocol.ORDERS and m["version"] == snapshot["version"])
    account = executor.ctl_until(lambda m: m["type"] == protocol.ACCOUNT and m["account"]["margin"] > 0)
    assert account["account"]["login"] == LOGIN

    positions = executor.request("positions_get", symbol="EURUSD")["data"]
    assert [p["ticket"] for p in positions] == [ticket] and positions[0]["magic"] == 42
    deals = executor.request("history_deals_get", position=ticket)["data"]
    assert [d["entry"] for d in deals] == [mt5.DEAL_ENTRY_IN]


def test_a_repeated_id_is_answered_from_memory(executor, terminal):
    request = buy_request(executor)
    first = executor.request("order_send", request_id="cid-7", request=request)
    again = executor.request("order_send", request_id="cid-7", request=request)
    assert first["data"] == again["data"] and first["data"]["retcode"] == mt5.TRADE_RETCODE_DONE
    assert len(executor.request("positions_get")["data"]) == 1


def test_an_unknown_request_key_is_refused(executor, terminal):
    reply = executor.request("order_send", request=buy_request(executor, foo=1))
    assert reply["ok"] is False and reply["error"] == [mt5.RES_E_INVALID_PARAMS, 'Invalid "foo" argument']
    assert executor.request("positions_get")["data"] == []


def test_dead_man_refuses_orders_until_pings_resume(executor, start_terminal):
    start_terminal(dead_man_s=0.2)
    request = buy_request(executor)
    executor.request("ping")
    executor.ctl_during(0.35)
    refused = executor.request("order_send", request=request)
    assert refused["ok"] is False and refused["error"][0] == mt5.RES_E_FAIL
    assert refused["error"][1].startswith("dead-man: no ping from executor")
    executor.request("ping")
    resumed = executor.request("order_send", request=request)
    assert resumed["ok"] and resumed["data"]["retcode"] == mt5.TRADE_RETCODE_DONE


def test_a_stop_hit_by_a_quote_is_reported_without_a_request(executor, start_terminal):
    clock = ManualClock(WEDNESDAY_10_UTC)  # prices stand still until the test moves time
    start_terminal(clock=clock)
    tick = executor.request("symbol_info_tick", symbol="EURUSD")["data"]
    point = DEFAULT_SYMBOLS["EURUSD"].point
    request = buy_request(executor, sl=round(tick["bid"] - 3 * point, 5), tp=round(tick["bid"] + 3 * point, 5))
    opened = executor.request("order_send", request=request)
    assert opened["data"]["retcode"] == mt5.TRADE_RETCODE_DONE, opened["data"]
    clock.advance(10 * 60_000)  # ten minutes of walk: many times the 3-point distance

    closing = executor.ctl_until(lambda m: m["type"] == protocol.TRADE_TRANSACTION
                                 and m["trans"]["type_name"] == "DEAL_ADD"
                                 and m["trans"]["position"] == opened["data"]["order"]
                                 and m["trans"]["deal"] != opened["data"]["deal"])
    flat = executor.ctl_until(lambda m: m["type"] == protocol.POSITIONS and not m["positions"])
    assert flat["version"] > 0
    deals = executor.request("history_deals_get", position=opened["data"]["order"])["data"]
    assert [d["reason"] for d in deals][-1] in (mt5.DEAL_REASON_SL, mt5.DEAL_REASON_TP)
    assert closing["trans"]["deal"] == deals[-1]["ticket"]


def test_order_check_and_calc_margin(executor, terminal):
    check = executor.request("order_check", request=buy_request(executor))
    assert check["ok"] and check["data"]["retcode"] == 0 and check["data"]["margin"] > 0
    margin = executor.request("order_calc_margin", action=mt5.ORDER_TYPE_BUY, symbol="EURUSD",
                              volume=1.0, price=1.1)
    assert margin["data"] == pytest.approx(1100.0)


# --- robustness ---

def test_unknown_request_type_is_an_error(executor, terminal):
    reply = executor.request("teleport")
    assert reply["ok"] is False and reply["error"] == [mt5.RES_E_INVALID_PARAMS, "unknown request type"]


def test_a_garbage_frame_does_not_kill_the_terminal(executor, terminal):
    identity = protocol.routing_id(LOGIN)
    executor.router.send_multipart([identity, b"\xc1\xff not msgpack"])
    executor.router.send_multipart([identity, protocol.pack({"v": 1, "no": "type"})])
    executor.router.send_multipart([identity, b"two", b"frames"])
    odd_id = executor.request("order_send", request_id=[1, 2], request="not a map")
    assert odd_id["ok"] is False and odd_id["error"][0] == mt5.RES_E_INVALID_PARAMS
    assert executor.request("ping")["ok"] is True


def test_dropped_replies_still_execute(executor, terminal):
    terminal.drop_replies = 1
    lost = executor.send("ping")
    assert executor.request("ping")["ok"] is True
    assert all(m.get("id") != lost for m in executor.inbox)


def test_terminal_status_is_sent_when_auto_trading_is_switched_off(executor, terminal):
    terminal.trade_allowed = False
    status = executor.ctl_until(lambda m: m["type"] == protocol.TERMINAL_STATUS)
    assert status["trade_allowed"] is False and status["connected"] is True


def test_stop_is_idempotent(executor):
    terminal = make_terminal(executor).start()
    terminal.stop()
    terminal.stop()


# --- EA bookkeeping ---

def test_equity_only_account_events_are_throttled():
    server = TradeServer(login=LOGIN, symbols=DEFAULT_SYMBOLS)
    server.on_quote("EURUSD", WEDNESDAY_10_UTC, 1.10000, 1.10010)
    events = TradeEvents(server, equity_interval_s=1.0)
    assert [kind for kind, _ in events.collect(0.0)] == ["positions", "orders", "account"]
    result = server.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 1.0,
                                "type": mt5.ORDER_TYPE_BUY, "price": 1.10010, "deviation": 10,
                                "type_filling": mt5.ORDER_FILLING_FOK})
    assert result["retcode"] == mt5.TRADE_RETCODE_DONE
    kinds = [kind for kind, _ in events.collect(0.1)]
    assert kinds[-3:] == ["positions", "orders", "account"] and "trade_transaction" in kinds

    server.on_quote("EURUSD", WEDNESDAY_10_UTC + 500, 1.10100, 1.10110)
    assert events.collect(0.5) == []  # equity moved, but an account event went out 0.4 s ago
    (kind, fields), = events.collect(1.2)
    assert kind == "account" and fields["account"]["profit"] == pytest.approx(90.0)
    assert events.collect(3.0) == []  # nothing changed since


def test_the_reply_cache_forgets_after_its_ttl():
    cache = ReplyCache(ttl_s=10.0)
    cache.put("a", {"ok": True, "data": 1}, now_s=0.0)
    cache.put("b", {"ok": True, "data": 2}, now_s=5.0)
    assert cache.get("a", 9.0) == {"ok": True, "data": 1}
    assert cache.get("a", 10.5) is None
    cache.prune(12.0)
    assert len(cache) == 1 and cache.get("b", 12.0) == {"ok": True, "data": 2}


# --- the price feed ---

def feed(seed: int = 5, **options: Any) -> RandomWalkFeed:
    return RandomWalkFeed(DEFAULT_SYMBOLS, seed, WEDNESDAY_10_UTC, **options)


def test_the_feed_is_deterministic_per_seed():
    one, two, other = feed(5), feed(5), feed(6)
    steps = [WEDNESDAY_10_UTC + s * 250 for s in range(1, 200)]
    ticks_one = [t for step in steps for t in one.advance(step)]
    ticks_two = [t for step in steps for t in two.advance(step)]
    ticks_other = [t for step in steps for t in other.advance(step)]
    assert ticks_one == ticks_two and ticks_one != ticks_other
    assert len(ticks_one) > 4 * 40  # about one tick per 0.7 s per symbol over 50 s


def test_feed_ticks_are_ordered_and_on_the_price_grid():
    ticks = feed().advance(WEDNESDAY_10_UTC + 60_000)
    assert [t[1] for t in ticks] == sorted(t[1] for t in ticks)
    for symbol, _, bid, ask in ticks:
        digits = DEFAULT_SYMBOLS[symbol].digits
        assert bid < ask and round(bid, digits) == bid and round(ask, digits) == ask


def test_a_huge_interval_is_capped_per_symbol():
    ticks = feed(max_ticks_per_symbol=50).advance(WEDNESDAY_10_UTC + 24 * 3_600_000)
    per_symbol = {s: sum(1 for t in ticks if t[0] == s) for s in DEFAULT_SYMBOLS}
    assert all(1 <= n <= 50 for n in per_symbol.values())


@pytest.mark.parametrize("cap", [3, 50])
def test_volatility_per_simulated_time_does_not_depend_on_tick_count(cap):
    walk = feed(9, max_ticks_per_symbol=cap)
    hour = 3_600_000
    mids = []
    for step in range(1, 501):
        walk.advance(WEDNESDAY_10_UTC + step * hour)
        mids.append(walk.mid("EURUSD"))
    returns = np.diff(np.log(mids))
    expected = DEFAULT_SYMBOLS["EURUSD"].sim_volatility * math.sqrt(3600)
    assert returns.std() == pytest.approx(expected, rel=0.15)


def test_history_flows_into_the_start_price():
    history = feed().history_m1("XAUUSD", 120)
    assert len(history["time"]) == 120
    assert history["time"][-1] == WEDNESDAY_10_UTC - 60_000
    assert np.all(history["low"] <= history["open"]) and np.all(history["open"] <= history["high"])
    assert history["close"][-1] == pytest.approx(DEFAULT_SYMBOLS["XAUUSD"].sim_start_price, rel=0.002)


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(1000)
    assert clock.now_ms() == 1000 and clock.advance(500) == 1500
    clock.set(10)
    assert clock.now_ms() == 10
    with pytest.raises(ValueError):
        clock.advance(-1)
