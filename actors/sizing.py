"""Position sizing and price distances from a symbol's real properties (pure).

Volumes are rounded *down* to the symbol's `volume_step` and clamped to its `volume_max`
and the account's `max_lot_size`; a result below `volume_min` is a refusal, never a silent
minimum lot. Distances in pips convert through the symbol's digits: on fractional-pip
quotes (3 or 5 digits, e.g. EURUSD 1.08123, USDJPY 151.234) a pip is 10 points; otherwise
a pip is one point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SizingError = ValueError


def pip_size(symbol: Mapping[str, Any]) -> float:
    point = float(symbol["point"])
    return point * 10 if int(symbol["digits"]) in (3, 5) else point


def round_volume(volume: float, symbol: Mapping[str, Any], max_lot: float | None = None) -> float:
    """`volume` fitted to the symbol's step and limits; SizingError when it cannot be."""
    step = float(symbol["volume_step"])
    limit = float(symbol["volume_max"]) if max_lot is None else min(float(symbol["volume_max"]), max_lot)
    # The epsilon keeps 0.3 / 0.01 = 29.999999 from rounding a valid 0.3 down to 0.29.
    steps = math.floor(min(volume, limit) / step + 1e-9)
    rounded = round(steps * step, 8)
    if rounded < float(symbol["volume_min"]) - 1e-12:
        raise SizingError(f"volume {volume:g} is below {symbol['name']}'s minimum of {symbol['volume_min']:g} lots "
                          f"(step {step:g}, limit {limit:g})")
    return rounded


def size_position(sizing: Mapping[str, Any], symbol: Mapping[str, Any], max_lot: float | None = None) -> float:
    """Lots for an entry. Only `fixed` is built so far; the others refuse with a clear reason."""
    method = sizing.get("method", "fixed")
    if method == "fixed":
        return round_volume(float(sizing["lots"]), symbol, max_lot)
    raise SizingError(f"sizing method {method!r} is not available yet; use {{'method': 'fixed', 'lots': ...}}")


def stop_prices(side: str, entry: float, symbol: Mapping[str, Any], *, sl_pips: float | None = None,
                tp_pips: float | None = None, tp_rr: float | None = None) -> tuple[float, float]:
    """(sl, tp) prices for an entry at `entry`; 0.0 means none, as in MT5."""
    pip = pip_size(symbol)
    digits = int(symbol["digits"])
    direction = 1.0 if side == "buy" else -1.0
    sl = tp = 0.0
    if sl_pips:
        sl = round(entry - direction * sl_pips * pip, digits)
    if tp_pips:
        tp = round(entry + direction * tp_pips * pip, digits)
    elif tp_rr and sl_pips:
        tp = round(entry + direction * tp_rr * sl_pips * pip, digits)
    return sl, tp
