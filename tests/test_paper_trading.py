"""Paper trading on real prices, end to end without MetaTrader: a seeded simulated terminal
plays the real EA (it speaks exactly the EA protocol) on the price endpoints; the service's
paper terminal (bridge/sim/paper_terminal.py) quotes its ticks to a full executor and fills the
executor's orders on its own simulated trade server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from bridge import mt5, protocol
from bridge.trade_server.faults import DelayedReplies
from bridge.sim.terminal import SimTerminal
from tests.conftest import free_endpoint, wait_for

REAL_LOGIN = 61_234_567
TRADING = frozenset({protocol.ORDER_SEND, protocol.ORDER_CHECK})


class RealEa:
    """The 'real' terminal: a SimTerminal on the price endpoints that records every request."""

    def __init__(self, ctl: str, md: str, *, history_delay_s: float = 0.0) -> None:
        self.terminal = SimTerminal(ctl_endpoint=ctl, md_endpoint=md, login=REAL_LOGIN, seed=5,
                                    history_minutes=180, enforce_sessions=False)
        self.requests: list[str] = []
        answer = self.terminal._answer

        def recording(message, now):
            self.requests.append(message["type"])
            return answer(message, now)
        self.terminal._answer = recording
        if history_delay_s:
            self.terminal.delayed = DelayedReplies(count=100, delay_s=history_delay_s,
                                                   types=frozenset({protocol.COPY_RATES_FROM_POS}))

    def ticks(self, symbol: str, since: int = 0) -> list[tuple[int, float, float]]:
        columns = self.terminal.market.copy_ticks_from(symbol, since, 1_000_000, mt5.COPY_TICKS_ALL)
        return list(zip(columns["time_msc"], columns["bid"], columns["ask"]))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="INFO")
    yield lines
    logger.remove(sink)


def paper_ticks(paper, symbol: str) -> list[tuple[int, float, float]]:
    columns = paper.sim.market.copy_ticks_from(symbol, 0, 1_000_000, mt5.COPY_TICKS_ALL)
    return list(zip(columns["time_msc"], columns["bid"], columns["ask"]))


def test_paper_trading_on_the_real_eas_prices(executor_factory, log_lines):
    prices_ctl, prices_md = free_endpoint(), free_endpoint()
    executor = executor_factory(sim={"prices": "ea", "prices_ctl": prices_ctl, "prices_md": prices_md,
                                     "speed": 1.0, "start": None, "always_open": True, "history_minutes": 120})
    paper = executor.sim
    real = RealEa(prices_ctl, prices_md, history_delay_s=1.5)
    real.terminal.start()
    try:
        # The real EA has said hello but not given its history: the paper terminal stays away
        # from the executor (no hello, no heartbeat), so no account exists there yet.
        wait_for(lambda: paper.source.session.login == REAL_LOGIN, message="the real EA's hello")
        checks = 0
        while not paper.source.ready.wait(0.1):  # (each status request is an audit row: not too many)
            assert executor.status()["accounts"] == [] and paper.sim is None
            checks += 1
        assert checks > 0
        login = executor.wait_connected(timeout=20)
        assert login == executor.config.sim.login != REAL_LOGIN  # a paper account, not the real one
        assert set(paper.sim.symbols) == set(real.terminal.symbols)

        # The quotes the executor sees are the real terminal's ticks, and the paper terminal
        # has every one of them since it started, in order.
        seen = set()

        def executor_quotes() -> bool:
            quote = executor.service.board.get(f"quote:{login}:EURUSD")
            if quote is not None:
                seen.add(tuple(quote))
            return len(seen) >= 4
        wait_for(executor_quotes, timeout=20, message="four EURUSD quotes at the executor")
        real_ticks = real.ticks("EURUSD")
        assert seen <= set(real_ticks)
        mine = paper_ticks(paper, "EURUSD")
        assert mine == real.ticks("EURUSD", mine[0][0])[:len(mine)]
        assert len(mine) >= 4

        # Orders fill on the paper server at the real bid/ask; the real account never trades.
        bought = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
        sold = executor.ok("OPEN_POSITION", {"symbol": "USDJPY", "side": "sell", "volume": 0.2})
        [long_] = paper.server.positions_get(ticket=bought["ticket"])
        [short] = paper.server.positions_get(ticket=sold["ticket"])
        assert long_["price_open"] == bought["price"] and short["price_open"] == sold["price"]
        assert bought["price"] in {ask for _, _, ask in real.ticks("EURUSD")}
        assert sold["price"] in {bid for _, bid, _ in real.ticks("USDJPY")}
        closed = executor.ok("CLOSE_POSITION", {"ticket": bought["ticket"]})
        assert closed["price"] in {bid for _, bid, _ in real.ticks("EURUSD")}
        assert len(paper.server.history_deals_get(0, protocol.now_ms() + 60_000)) == 3
        assert not TRADING & set(real.requests)
        assert real.terminal.server.positions_get() == [] and real.terminal.server.orders_get() == []
        assert real.terminal.server.history_deals_get(0, protocol.now_ms() + 60_000) == []
        assert real.terminal.server.history_orders_get(0, protocol.now_ms() + 60_000) == []

        # The real EA goes silent: the paper terminal stops ticking, says so, and refuses to
        # fill at a stale price.
        real.terminal.stop()
        wait_for(lambda: any("real prices stale" in line for line in log_lines), timeout=10,
                 message="the paper terminal's stale-prices log line")
        assert not paper.sim.connected
        frozen = paper_ticks(paper, "EURUSD")
        quote = executor.service.board.get(f"quote:{login}:EURUSD")
        check = paper.server.order_check({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                                          "type": mt5.ORDER_TYPE_BUY, "price": quote[2],
                                          "type_filling": mt5.ORDER_FILLING_IOC})
        assert check["retcode"] == mt5.TRADE_RETCODE_CONNECTION
        assert executor.status()["accounts"][0]["connected"]  # the link holds: only the prices stopped
        assert paper_ticks(paper, "EURUSD") == frozen
        assert executor.service.board.get(f"quote:{login}:EURUSD") == quote

        # A new instance of the real EA (a new boot): prices resume where they stopped.
        real.terminal.restart()
        real.terminal.start()
        wait_for(lambda: any("real prices are back" in line for line in log_lines), timeout=15,
                 message="the paper terminal's prices-back log line")
        wait_for(lambda: len(paper_ticks(paper, "EURUSD")) > len(frozen), timeout=15, message="new EURUSD ticks")
        wait_for(lambda: executor.service.board.get(f"quote:{login}:EURUSD")[0] > quote[0], timeout=15,
                 message="a newer quote at the executor")
        assert paper.sim.connected and paper.source.session.restarts == 1
        resumed = paper_ticks(paper, "EURUSD")
        assert resumed == real.ticks("EURUSD", resumed[0][0])[:len(resumed)]  # the outage was backfilled
        assert not TRADING & set(real.requests)
        assert real.terminal.server.positions_get() == []
    finally:
        real.terminal.stop()
