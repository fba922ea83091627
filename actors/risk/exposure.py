"""Pre-trade checks on exposure across symbols: correlation and net currency exposure (pure).

Both may reduce an order instead of refusing it (`correlation_action: "reduce"`): they then
return a RiskWarning carrying the reduced volume, rounded down to the order's volume step;
a reduction below the order's volume_min is a refusal. The rules live in actors.correlation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from actors.risk import correlation as corr
from actors.risk.model import Book, OrderToCheck, RiskWarning


def check_correlation(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | RiskWarning | None:
    limit = limits.get("max_correlation")
    if order.closing or limit is None or not book.positions or book.closes is None:
        return None
    involved = {s for s, _, _ in book.positions if s != order.symbol}
    missing = sorted(n for n in involved | {order.symbol} if n not in book.closes) if involved else []
    if missing:
        # Without history the correlation cannot be judged: strict (refusing) limits refuse,
        # lenient (reducing) ones let the order through with the remark.
        text = (f"correlation with open positions not known: no recent closes of {', '.join(missing)} yet "
                f"(history loading; retry in a few seconds)")
        return text if limits.get("correlation_action", corr.REDUCE) == corr.REFUSE else RiskWarning(text)
    decision = corr.decide(order.symbol, order.side, order.volume, book.positions, book.closes,
                           max_correlation=float(limit), action=limits.get("correlation_action", corr.REDUCE),
                           window=int(limits.get("correlation_window", corr.DEFAULT_WINDOW)),
                           rho_of=book.correlation)
    if decision.reason is not None:
        return decision.reason
    if decision.warning is None:
        return None
    if decision.volume >= order.volume:
        return RiskWarning(decision.warning)  # a hedge: allowed as is
    return _reduced(order, decision.volume, decision.why)


def check_currency_exposure(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | RiskWarning | None:
    """Net lots per currency after the order within `max_currency_exposure_lots`.

    A currency the order moves toward zero never blocks it. With correlation_action
    "reduce", the order is cut to the largest volume that fits.
    """
    limit = limits.get("max_currency_exposure_lots")
    if order.closing or limit is None:
        return None
    before = book.exposure if book.exposure is not None else corr.currency_exposure(book.positions, book.currencies)
    base, profit = corr.symbol_currencies(order.symbol, book.currencies)
    sign = 1.0 if order.side == "buy" else -1.0
    # |before + s·v| <= limit  <=>  v <= limit − s·before, per currency the order moves (s = ±1).
    fits = {c: float(limit) - s * before.get(c, 0.0) for c, s in ((base, sign), (profit, -sign)) if c}
    currency, allowed = min(fits.items(), key=lambda item: item[1])
    if order.volume <= allowed + 1e-9:
        return None
    after = before.get(currency, 0.0) + (sign if currency == base else -sign) * order.volume
    why = (f"net {currency} exposure would be {after:+.2f} lots, beyond max_currency_exposure_lots {limit:g} "
           f"(now {before.get(currency, 0.0):+.2f})")
    if limits.get("correlation_action", corr.REDUCE) != corr.REDUCE or allowed <= 0:
        return why
    return _reduced(order, allowed, why)


def _reduced(order: OrderToCheck, volume: float, why: str) -> str | RiskWarning:
    if order.volume_step > 0:
        volume = round(math.floor(volume / order.volume_step + 1e-9) * order.volume_step, 8)
    if volume <= 0 or volume < order.volume_min - 1e-12:
        return f"{why}; reducing {order.volume:g} lots to fit leaves {volume:g}, below the minimum {order.volume_min:g}"
    return RiskWarning(f"volume reduced from {order.volume:g} to {volume:g}: {why}", volume)
