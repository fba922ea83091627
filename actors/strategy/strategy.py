"""The Strategy actor: one running strategy; evaluates its rules on every closed bar.

The definition is compiled once (actors.rules); bars come from MarketData (history first,
then each closed bar) into the strategy's own ring buffer. A signal becomes an intent for
the Account: an exit closes the strategy's positions on that side, an entry asks for a new
position sized and protected by the strategy's settings. Paused: exits only.

Strategies with the same rules on the same bars reach the same signals: the first to
evaluate a bar leaves them in the bar's shared store (actors.indicators.cache), the others
read them there, so a bar costs the rules once per distinct strategy definition, not once
per strategy. What each strategy holds is read from the Account's board entry by strategy,
not by scanning every position.
"""

from __future__ import annotations

import json
import time
from typing import Any

from loguru import logger

from actors.indicators import batch as indicators
from actors import messages as m
from bridge.candles import Bar, BarSeries
from actors.runtime.directory import Directory
from actors.indicators.cache import IndicatorCache
from actors.rules.program import Signals, compile_rules
from actors.runtime.status_board import StatusBoard
from actors.runtime.supervision import LaneSupervised

HISTORY_MARGIN = 10
MIN_HISTORY = 50
WINDOW_STEP = 100  # windows are rounded up to this, so strategies on a series share indicators
ATR_SIZING = ("atr_based", "volatility_based")
SIGNALS = "signals"  # first item of a shared-store key that holds a rules text's Signals


class Strategy(LaneSupervised):
    def __init__(self, *, strategy_id: str, account: int, definition: dict[str, Any], paused: bool,
                 directory: Directory, board: StatusBoard, cache: IndicatorCache | None = None) -> None:
        super().__init__(name=f"strategy:{strategy_id}", parent="strategies", directory=directory)
        self.strategy_id = strategy_id
        self.account = account
        self.definition = definition
        self.settings = definition.get("settings", {})
        self.paused = paused
        self.board = board
        self.rules = compile_rules(definition["rules"])
        self.rules_key = json.dumps(definition["rules"], sort_keys=True, default=str)  # the same text, the same signals
        self.history = max(MIN_HISTORY, self.rules.required_bars + HISTORY_MARGIN)
        # A bounded window: each bar costs the same however long the strategy has run.
        self.window = -(-self.history // WINDOW_STEP) * WINDOW_STEP
        self.bars = BarSeries(self.window)
        self.cache = cache
        self.series_key = (account, definition["symbol"], definition["timeframe"])
        self.ready = False
        self.last_signal: dict[str, Any] | None = None  # {signal, time of its bar}: STATUS shows it

    def on_start(self) -> None:
        # The Account manages exits (it goes on doing so while this strategy is paused or gone).
        self.directory.tell(f"account:{self.account}", m.RegisterExits(
            strategy_id=self.strategy_id, account=self.account, settings=self.settings))
        self.directory.tell("market_data", m.SubscribeBars(
            subscriber=self.name, account=self.account, symbol=self.definition["symbol"],
            timeframe=self.definition["timeframe"], history=self.history))

    def on_stop(self) -> None:
        self.directory.tell("market_data", m.UnsubscribeBars(subscriber=self.name))
        self.board.remove(self.name)

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.HistoryLoaded(rates=rates):
                if not self.ready:
                    self._load_history(rates)
            case m.BarClosed():
                self._on_bar(message)
            case m.PauseStrategy():
                self.paused = True
            case m.ResumeStrategy():
                self.paused = False
            case _:
                return super().on_receive(message)
        return None

    def _load_history(self, rates: dict[str, Any]) -> None:
        for row in zip(*(rates[k] for k in ("time", "open", "high", "low", "close", "tick_volume", "spread"))):
            self.bars.append(Bar(int(row[0]), *map(float, row[1:5]), int(row[5]), int(row[6])))
        self.ready = True
        self._post()
        logger.info("{} ready with {} bars of {} {}", self.name, len(self.bars), self.definition["symbol"],
                    self.definition["timeframe"])

    def _on_bar(self, bar: m.BarClosed) -> None:
        if not self.ready:
            return  # the history reply is on its way and will contain this bar
        if self.bars.last_time is not None and bar.time <= self.bars.last_time:
            return
        self.bars.append(Bar(bar.time, float(bar.open), float(bar.high), float(bar.low), float(bar.close),
                             int(bar.tick_volume), int(bar.spread)))
        tz_offset_s = int(self.board.get(f"terminal:{self.account}", {}).get("tz_offset_s", 0))
        shared = None if self.cache is None else self.cache.for_bars(self.series_key, bar.time, len(self.bars))
        key = (SIGNALS, self.rules_key, tz_offset_s)
        signals = None if shared is None else shared.get(key)
        if signals is None:
            signals = self.rules.evaluate(self.bars.arrays(), tz_offset_s=tz_offset_s, cache=shared)
            if shared is not None:
                shared[key] = signals
        self._act(signals, bar)
        self.directory.tell(f"account:{self.account}", m.StrategyBar(strategy_id=self.strategy_id,
                                                                    account=self.account, time=bar.time))
        self._post()  # after the intents are told: whoever sees this bar here may expect them queued

    def _act(self, signals: Signals, bar: m.BarClosed) -> None:
        held = {"buy": 0, "sell": 0, **self.board.get(f"account:{self.account}", {}).get("held", {}).get(
            self.strategy_id, {})}
        if signals.exit_long and held["buy"]:
            self._signal("exit_long", bar, "closing its buy positions")
            self._close("buy", "exit_long")
        if signals.exit_short and held["sell"]:
            self._signal("exit_short", bar, "closing its sell positions")
            self._close("sell", "exit_short")
        if self.paused:
            return
        if signals.entry_long and signals.entry_short:
            logger.warning("{}: entry_long and entry_short both true at {}; no entry", self.name, bar.time)
            return
        side = "buy" if signals.entry_long else "sell" if signals.entry_short else None
        if side is None or held[side]:
            return  # one position per direction: an entry while holding one is not a new signal
        self._signal("entry_long" if side == "buy" else "entry_short", bar, f"asking to open a {side}")
        stop = self.settings.get("stop_loss", {})
        target = self.settings.get("take_profit", {})
        sizing = self.settings.get("sizing", {"method": "fixed", "lots": 0.01})
        self.directory.tell(f"account:{self.account}", m.OrderIntent(
            strategy_id=self.strategy_id, account=self.account, symbol=self.definition["symbol"], side=side,
            sizing=sizing, sl_pips=stop.get("pips"), tp_pips=target.get("pips"), tp_rr=target.get("rr"),
            comment=self.strategy_id[:31], max_positions=int(self.settings.get("max_positions", 1)),
            atr=self._atr(int(sizing.get("atr_period", 14))) if sizing.get("method") in ATR_SIZING else None))

    def _atr(self, period: int) -> float | None:
        bars = self.bars.arrays()
        value = float(indicators.atr(bars.high, bars.low, bars.close, period)[-1]) if len(bars.close) else float("nan")
        return value if value == value else None  # NaN while warming up: the sizing says so

    def _signal(self, signal: str, bar: m.BarClosed, doing: str) -> None:
        self.last_signal = {"signal": signal, "time": bar.time}
        logger.info("{}: {} on the {} {} bar of {}: {}", self.name, signal, self.definition["symbol"],
                    self.definition["timeframe"], _utc(bar.time), doing)

    def _post(self) -> None:
        self.board.post(self.name, {"ready": self.ready, "last_bar": self.bars.last_time, "paused": self.paused,
                                    "last_signal": self.last_signal})

    def _close(self, side: str, why: str) -> None:
        self.directory.tell(f"account:{self.account}", m.CloseStrategyPositions(
            strategy_id=self.strategy_id, account=self.account, side=side, reason=why, corr=""))


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))
