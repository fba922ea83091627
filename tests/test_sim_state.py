"""A simulated paper account outlives its process: the trade server's book as data, the state
file (atomic, refused whole when damaged), and the simulated terminal continuing it."""

from __future__ import annotations

import msgpack
import pytest

from bridge import mt5
from bridge.sim.options import SimOptionsError, build_terminal, terminal_arguments
from bridge.sim.state_file import StateFile, StateFileError, StateKeeper
from bridge.sim.clock import ManualClock
from bridge.sim.terminal import SimTerminal
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import FIRST_DEAL_TICKET, FIRST_ORDER_TICKET, TradeServer
from bridge.trade_server.snapshot import SnapshotError, from_data, to_data
from tests.conftest import free_endpoint

pytestmark = pytest.mark.timeout(30)

T0 = 1_700_000_000_000  # one time for every quote and request: no rollover in between
LOGIN = 5551234


def traded_server() -> TradeServer:
    """An account with an open position, a closed one, a pending order and moved balance."""
    server = TradeServer(login=LOGIN, symbols=DEFAULT_SYMBOLS, slippage_points=3)
    server.on_quote("EURUSD", T0, 1.10000, 1.10010)
    server.on_quote("GBPUSD", T0, 1.27000, 1.27014)
    kept = server.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "GBPUSD", "volume": 0.2,
                              "type": mt5.ORDER_TYPE_BUY, "deviation": 10, "sl": 1.26, "magic": 7, "comment": "x"})
    assert kept["retcode"] == mt5.TRADE_RETCODE_DONE, kept
    first = server.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                               "type": mt5.ORDER_TYPE_SELL, "deviation": 10})
    closed = server.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                                "type": mt5.ORDER_TYPE_BUY, "position": first["order"], "deviation": 10})
    assert closed["retcode"] == mt5.TRADE_RETCODE_DONE, closed
    placed = server.order_send({"action": mt5.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.3,
                                "type": mt5.ORDER_TYPE_BUY_LIMIT, "price": 1.09})
    assert placed["retcode"] == mt5.TRADE_RETCODE_PLACED, placed
    return server


def round_trip(server: TradeServer) -> TradeServer:
    data = msgpack.unpackb(msgpack.packb(to_data(server.book()), use_bin_type=True), strict_map_key=False)
    again = TradeServer(login=LOGIN, symbols=DEFAULT_SYMBOLS, slippage_points=3)
    again.restore(from_data(data))
    return again


def test_a_restored_server_is_the_same_account_and_continues_its_tickets():
    server = traded_server()
    again = round_trip(server)
    assert again.positions_get() == server.positions_get()
    assert again.orders_get() == server.orders_get()
    assert again.history_deals_get() == server.history_deals_get()
    assert again.history_orders_get() == server.history_orders_get()
    assert again.account_info() == server.account_info()
    assert again.balance != 10_000.0  # the closed trade's profit and nothing else
    # The next order, deal and slippage are those the first server would have made.
    request = {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1, "type": mt5.ORDER_TYPE_BUY,
               "deviation": 10}
    assert again.order_send(dict(request)) == server.order_send(dict(request))
    tickets = [d["ticket"] for d in again.history_deals_get()]
    assert len(tickets) == len(set(tickets)) and min(tickets) == FIRST_DEAL_TICKET
    assert max(o["ticket"] for o in again.history_orders_get()) > FIRST_ORDER_TICKET


def test_a_book_of_another_account_or_an_unknown_symbol_is_refused():
    book = traded_server().book()
    with pytest.raises(ValueError, match="saved account is 5551234"):
        TradeServer(login=42, symbols=DEFAULT_SYMBOLS).restore(book)
    with pytest.raises(ValueError, match="GBPUSD"):
        TradeServer(login=LOGIN, symbols={"EURUSD": DEFAULT_SYMBOLS["EURUSD"]}).restore(book)


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(format=99), "format 99"),
    (lambda d: d.update(balance="lots"), "balance"),
    (lambda d: d["positions"][0].update(volume="0.2"), r"positions\[0\].volume"),
    (lambda d: d["positions"][0].pop("ticket"), r"positions\[0\]"),
    (lambda d: d["history_deals"][0].update(surprise=1), "unknown field 'surprise'"),
    (lambda d: d.update(quotes={"EURUSD": [1, 2]}), "quote of 'EURUSD'"),
    (lambda d: d.update(rng_state=None), "rng_state"),
])
def test_damaged_data_is_refused_whole_with_what_is_wrong(damage, message):
    data = to_data(traded_server().book())
    damage(data)
    with pytest.raises(SnapshotError, match=message):
        from_data(data)


def test_the_state_file_is_replaced_whole_and_a_damaged_one_points_at_the_reset(tmp_path):
    server = traded_server()
    store = StateFile(tmp_path / "state" / "sim.msgpack")
    assert store.load() is None
    store.save(server.book(), [("req-1", 2.5, {"ok": True, "data": {"retcode": 10009}})])
    saved = store.load()
    assert saved is not None and saved.replies == [("req-1", 2.5, {"ok": True, "data": {"retcode": 10009}})]
    assert [p.ticket for p in saved.book.positions] == list(server.positions)
    assert [p.name for p in store.path.parent.iterdir()] == ["sim.msgpack"]  # no temporary left
    for damaged in (store.path.read_bytes()[:-40], b"\x00garbage", msgpack.packb({"kind": "something else"})):
        store.path.write_bytes(damaged)
        with pytest.raises(StateFileError, match=r"sim\.msgpack .*--sim-reset"):
            store.load()
    aside = store.set_aside()
    assert aside is not None and aside.read_bytes() == damaged and not store.path.exists()


def test_the_keeper_writes_when_the_book_changes_and_otherwise_at_its_interval(tmp_path):
    server = traded_server()
    store = StateFile(tmp_path / "sim.msgpack")
    keeper = StateKeeper(store, server, lambda: [], interval_s=10.0)
    keeper.step(100.0)
    written = store.path.stat().st_mtime_ns
    store.path.unlink()
    keeper.step(101.0)  # nothing changed, interval not up
    assert not store.path.exists()
    server.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                       "type": mt5.ORDER_TYPE_BUY, "deviation": 10})
    keeper.step(101.5)  # a fill: written at once
    assert len(store.load().book.positions) == 2
    store.path.unlink()
    keeper.step(111.6)  # only the clock moved: at the interval
    assert store.path.exists() and written


def test_options_refuse_a_damaged_or_foreign_state_file_unless_reset(tmp_path):
    path = tmp_path / "sim.msgpack"
    path.write_bytes(b"not msgpack at all")
    with pytest.raises(SimOptionsError, match="--reset"):
        terminal_arguments(state_file=path, reset_hint="--reset")
    _, arguments = terminal_arguments(state_file=path, reset_state=True)
    assert arguments["saved"] is None
    StateFile(path).save(traded_server().book(), [])
    with pytest.raises(SimOptionsError, match="account 5551234, not 5000001"):
        terminal_arguments(state_file=path)
    _, arguments = terminal_arguments(state_file=path, login=LOGIN)
    assert arguments["saved"].book.login == LOGIN


def test_a_reset_keeps_the_old_file_aside_and_starts_fresh(tmp_path):
    path = tmp_path / "sim.msgpack"
    StateFile(path).save(traded_server().book(), [])
    terminal = build_terminal(ctl_endpoint=free_endpoint(), md_endpoint=free_endpoint(), login=LOGIN,
                              state_file=path, reset_state=True, history_minutes=0)
    assert terminal.server.positions == {} and terminal.server.balance == 10_000.0
    assert not path.exists() and len(list(tmp_path.glob("sim.msgpack.*.old"))) == 1


def test_a_continued_terminal_resumes_its_clock_and_prices_never_earlier(tmp_path):
    server = traded_server()
    path = tmp_path / "sim.msgpack"
    StateFile(path).save(server.book(), [("req-9", 1.0, {"ok": True, "data": {"retcode": 10009}})])
    saved = StateFile(path).load()
    earlier = SimTerminal(ctl_endpoint=free_endpoint(), md_endpoint=free_endpoint(), login=LOGIN,
                          start_ms=T0 - 3_600_000, saved=saved, history_minutes=0, enforce_sessions=False)
    assert earlier.clock.now_ms() >= T0  # the saved server time, not the configured start before it
    assert earlier.symbols["GBPUSD"].sim_start_price == pytest.approx(1.27007)
    assert earlier.replies.get("req-9", __import__("time").monotonic()) is not None
    later = SimTerminal(ctl_endpoint=free_endpoint(), md_endpoint=free_endpoint(), login=LOGIN,
                        clock=ManualClock(T0 + 86_400_000), saved=saved, history_minutes=0, enforce_sessions=False)
    assert later.server.positions_get() == server.positions_get()
