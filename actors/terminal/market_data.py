"""The MarketData actor: ticks in, closed bars out, per account, symbol and timeframe.

A strategy subscribes to (account, symbol, timeframe) with the history it needs; the first
subscriber of a series makes MarketData fetch that history from the terminal
(`copy_rates_from_pos`), so no strategy starts blind. From then on every closed bar is
told to the series' subscribers. The latest quote of each symbol is posted on the status
board, where the Account prices its orders. Bars open on the server's clock with the offset
valid at each time: the zone the Terminal learnt from hello and hb (`tz:<login>`), read
again with every batch, so bars after a DST switch open at the new server midnight.

Ticks and history come from the EA, checked at the Gateway (bridge.shapes). Should one still
break a handler, the error is caught and told to the account's Terminal, which counts and
logs it: one bad batch of an EA never restarts MarketData (nor, three times over, the tree).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from loguru import logger

from actors import messages as m
from bridge.candles import CandleBuilder
from bridge.server_tz import ServerTz, as_server_tz
from actors.runtime.directory import Directory
from actors.runtime.supervision import Supervised
from actors.runtime.status_board import StatusBoard
from bridge.shapes.refusals import Refusals
from bridge.tick_gaps import Tick, TickSequencer
from actors.runtime.ticker import Ticker

SeriesKey = tuple[int, str, str]  # account, symbol, timeframe
FROM_THE_EA = {m.TickBatch: "tick", m.RatesFetched: "copy_rates_from_pos", m.TicksFetched: "copy_ticks_from"}
HISTORY_RETRY_S = 3.0
WARM_TIMEOUT_S = 5.0
MIN_CAPACITY = 500


@dataclass
class Series:
    subscribers: dict[str, int] = field(default_factory=dict)  # name -> bars of history wanted
    builder: CandleBuilder | None = None
    fetch_sent: float = 0.0  # monotonic time of the last history request
    # The history's newest bar was still forming: its ticks are fetched so the bar is whole
    # (the snapshot cannot say which ticks since it arrived). Live ticks wait meanwhile.
    warming_from: int | None = None
    warm_buffer: list[Tick] = field(default_factory=list)
    warm_deadline: float = 0.0
    covered_until: int = -1  # the fetched ticks reach this far; a late live copy is not new


class MarketData(Supervised):
    def __init__(self, *, directory: Directory, board: StatusBoard) -> None:
        super().__init__(name="market_data", parent="supervisor", directory=directory)
        self.board = board
        self.series: dict[SeriesKey, Series] = {}
        self.by_symbol: dict[tuple[int, str], list[SeriesKey]] = {}
        self.sequencers: dict[tuple[int, str], TickSequencer] = {}
        self.ticker: Ticker | None = None
        self.ticks_seen = 0
        self.last_tick: dict[int, int] = {}  # account -> the newest tick time posted (`last_tick:<login>`)
        self._tracebacks = Refusals()  # when a failure's traceback is worth the debug log again

    def on_start(self) -> None:
        self.ticker = Ticker(self.actor_ref, 1.0).start()

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.TickBatch() | m.RatesFetched() | m.TicksFetched():
                self._guarded(message)
            case m.SubscribeBars():
                self._subscribe(message)
            case m.LinkStateChanged(account=account, connected=True):
                self._link_up(account)
            case m.UnsubscribeBars(subscriber=name):
                for series in self.series.values():
                    series.subscribers.pop(name, None)
            case m.Tick():
                self._retry_history()
                self._expire_backfills()
                self._expire_warming()
            case _:
                return super().on_receive(message)
        return None

    def _guarded(self, message: m.TickBatch | m.RatesFetched | m.TicksFetched) -> None:
        kind = FROM_THE_EA[type(message)]
        try:
            match message:
                case m.TickBatch():
                    self._on_ticks(message)
                case m.RatesFetched():
                    self._on_history(message)
                case m.TicksFetched():
                    self._on_ticks_fetched(message)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, see the module docstring
            if self._tracebacks.refuse(message.account, kind, time.monotonic()) is not None:
                logger.opt(exception=True).debug("market data could not use a {} of account {}", kind, message.account)
            self.directory.tell(f"terminal:{message.account}", m.PeerMessageRefused(
                account=message.account, type=kind,
                reason=f"MarketData could not use it ({type(exc).__name__}: {exc})"))

    def _subscribe(self, sub: m.SubscribeBars) -> None:
        key = (sub.account, sub.symbol, sub.timeframe)
        series = self.series.setdefault(key, Series())
        series.subscribers[sub.subscriber] = sub.history
        if series.builder is None:
            self._fetch_history(key, series)
        else:
            self._send_history(key, series, sub.subscriber, sub.history)

    def _fetch_history(self, key: SeriesKey, series: Series) -> None:
        account, symbol, timeframe = key
        count = max(series.subscribers.values(), default=0) + 1  # + the forming bar
        series.fetch_sent = time.monotonic()
        if not self.directory.tell(f"terminal:{account}", m.FetchRates(
                account=account, symbol=symbol, timeframe=timeframe, count=count, reply_to="market_data")):
            series.fetch_sent = 0.0  # its Terminal is not up yet (a start, a restart): asked again when it is

    def _link_up(self, account: int) -> None:
        """The account's link is (back) up: history still missing is asked for now, not at the
        next retry, so a strategy started before its terminal does not sit idle."""
        for key, series in self.series.items():
            if key[0] == account and series.builder is None and series.subscribers:
                self._fetch_history(key, series)

    def _retry_history(self) -> None:
        now = time.monotonic()
        for key, series in self.series.items():
            if series.builder is None and series.subscribers and now - series.fetch_sent > HISTORY_RETRY_S:
                self._fetch_history(key, series)

    def _on_history(self, msg: m.RatesFetched) -> None:
        key = (msg.account, msg.symbol, msg.timeframe)
        series = self.series.get(key)
        if series is None or series.builder is not None:
            return
        if not msg.ok or msg.rates is None:
            logger.warning("history of {} {} on {} unavailable ({}); retrying", msg.symbol, msg.timeframe,
                           msg.account, msg.error)
            return
        symbol_info = self.board.get(f"symbols:{msg.account}", {}).get(msg.symbol, {})
        capacity = max(MIN_CAPACITY, 2 * max(series.subscribers.values(), default=0))
        series.builder = CandleBuilder(msg.timeframe, self._zone(msg.account), capacity,
                                       float(symbol_info.get("point", 0.0)))
        rows = len(msg.rates.get("time", ()))
        loaded = series.builder.seed({name: list(values)[:-1] for name, values in msg.rates.items()} if rows
                                     else msg.rates)
        if rows:
            series.warming_from = int(msg.rates["time"][-1])
            series.warm_deadline = time.monotonic() + WARM_TIMEOUT_S
            self._fetch_ticks(msg.account, msg.symbol, series.warming_from)
        self.by_symbol.setdefault((msg.account, msg.symbol), []).append(key)
        logger.info("{} {} on {}: {} history bars", msg.symbol, msg.timeframe, msg.account, loaded)
        for name, wanted in series.subscribers.items():
            self._send_history(key, series, name, wanted)

    def _send_history(self, key: SeriesKey, series: Series, subscriber: str, wanted: int) -> None:
        columns = series.builder.series.columns(wanted)
        rates = {name: tuple(np.asarray(values).tolist()) for name, values in columns.items()}
        self.directory.tell(subscriber, m.HistoryLoaded(account=key[0], symbol=key[1], timeframe=key[2], rates=rates))

    def _on_ticks(self, batch: m.TickBatch) -> None:
        if not batch.time_msc:
            return
        self.ticks_seen += len(batch.time_msc)
        quotable = _quotable(batch.time_msc, batch.bid, batch.ask)
        if quotable:
            time_msc, bid, ask = quotable[-1]
            self.board.post(f"quote:{batch.account}:{batch.symbol}", (time_msc, bid, ask))
            if time_msc > self.last_tick.get(batch.account, 0):  # the account's newest tick, any symbol
                self.last_tick[batch.account] = time_msc
                self.board.post(f"last_tick:{batch.account}", time_msc)
            # The Account manages exits on the latest quote; older ticks of the batch add nothing.
            self.directory.tell(f"account:{batch.account}", m.TickBatch(
                account=batch.account, symbol=batch.symbol, seq=batch.seq, time_msc=(time_msc,), bid=(bid,),
                ask=(ask,)))
        sequencer = self.sequencers.setdefault((batch.account, batch.symbol), TickSequencer())
        ticks, backfill_from = sequencer.on_batch(batch.seq, quotable, time.monotonic())
        if backfill_from is not None:
            logger.warning("{} on {}: tick feed gap before seq {}", batch.symbol, batch.account, batch.seq)
            self._fetch_ticks(batch.account, batch.symbol, backfill_from)
        self._build(batch.account, batch.symbol, ticks)

    def _fetch_ticks(self, account: int, symbol: str, date_from: int) -> None:
        self.directory.tell(f"terminal:{account}", m.FetchTicks(
            account=account, symbol=symbol, date_from=date_from, count=100_000, reply_to="market_data"))

    def _on_ticks_fetched(self, msg: m.TicksFetched) -> None:
        columns = msg.ticks or {}
        ticks = _quotable(columns.get("time_msc", ()), columns.get("bid", ()), columns.get("ask", ())) if msg.ok else []
        if not msg.ok:
            logger.error("{} on {}: ticks from {} unavailable ({}); bars may miss ticks", msg.symbol, msg.account,
                         msg.date_from, msg.error)
        for key in self.by_symbol.get((msg.account, msg.symbol), ()):
            series = self.series[key]
            if series.warming_from == msg.date_from:
                self._finish_warming(key, series, ticks)
        sequencer = self.sequencers.get((msg.account, msg.symbol))
        if sequencer is not None and sequencer.answers(msg.date_from):
            released, again_from = sequencer.on_backfill(ticks, time.monotonic())
            self._build(msg.account, msg.symbol, released)
            if again_from is not None:
                self._fetch_ticks(msg.account, msg.symbol, again_from)

    def _finish_warming(self, key: SeriesKey, series: Series, ticks: list[Tick]) -> None:
        fetched = [t for t in ticks if t[0] >= series.warming_from]
        series.warming_from = None
        buffered, series.warm_buffer = series.warm_buffer, []
        self._feed(key, series, fetched)
        series.covered_until = fetched[-1][0] if fetched else -1
        self._feed(key, series, buffered)

    def _expire_warming(self) -> None:
        now = time.monotonic()
        for key, series in self.series.items():
            if series.warming_from is not None and now >= series.warm_deadline:
                logger.error("{} {} on {}: the forming bar's ticks did not come; it may be incomplete", key[1],
                             key[2], key[0])
                self._finish_warming(key, series, [])

    def _expire_backfills(self) -> None:
        now = time.monotonic()
        for (account, symbol), sequencer in self.sequencers.items():
            held = sequencer.expire(now)
            if held is not None:
                logger.error("{} on {}: no backfill in time; bars may miss ticks", symbol, account)
                self._build(account, symbol, held)

    def _build(self, account: int, symbol: str, ticks: list[Tick]) -> None:
        for key in self.by_symbol.get((account, symbol), ()):
            series = self.series[key]
            if series.warming_from is not None:
                series.warm_buffer.extend(ticks)
            else:
                self._feed(key, series, ticks)

    def _zone(self, account: int) -> ServerTz | int:
        """The server's offsets over time as the Terminal learnt them (else its offset now)."""
        zone = self.board.get(f"tz:{account}")
        return zone if zone is not None else int(self.board.get(f"terminal:{account}", {}).get("tz_offset_s", 0))

    def _feed(self, key: SeriesKey, series: Series, ticks: list[Tick]) -> None:
        if ticks:  # an offset switch the Terminal heard of aligns the bars from then on
            series.builder.tz = as_server_tz(self._zone(key[0]))
        for t, bid, ask in ticks:
            if t <= series.covered_until:
                continue
            bar = series.builder.on_tick(t, bid, ask)
            if bar is not None:
                self._publish_bar(key, series, bar)

    def _publish_bar(self, key: SeriesKey, series: Series, bar: Any) -> None:
        message = m.BarClosed(account=key[0], symbol=key[1], timeframe=key[2], time=bar.time, open=bar.open,
                              high=bar.high, low=bar.low, close=bar.close, tick_volume=float(bar.tick_volume),
                              spread=float(bar.spread))
        for name in series.subscribers:
            self.directory.tell(name, message)


def _quotable(times: Any, bids: Any, asks: Any) -> list[Tick]:
    """The ticks with both sides: MT5 sends 0 for a side it has no price for, which is no quote."""
    return [(t, bid, ask) for t, bid, ask in zip(times, bids, asks) if bid > 0 and ask > 0]
