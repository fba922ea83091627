"""Exposure checks (actors/risk/exposure.py) through the check signature and `evaluate`."""

from __future__ import annotations

import math

import numpy as np

from actors.risk.checks import Book, OrderToCheck, RiskWarning, check_max_lot_size, evaluate
from actors.risk.exposure import check_correlation, check_currency_exposure

A = np.array([1, -1] * 50) * 0.001
E = np.array([1, 1, -1, -1] * 25) * 0.001


def closes(returns) -> list[float]:
    return list(np.exp(np.concatenate([[0.0], np.cumsum(returns)])))


CLOSES = {"EURUSD": closes(A), "GBPUSD": closes(A * 0.9 + E * math.sqrt(0.19))}  # ρ = 0.9
LIMITS = {"max_correlation": 0.8, "correlation_action": "reduce"}


def order(**kw) -> OrderToCheck:
    return OrderToCheck(**{"strategy_id": "s", "symbol": "EURUSD", "side": "buy", "volume": 0.35, "closing": False,
                           "volume_step": 0.01, "volume_min": 0.01, **kw})


def book(**kw) -> Book:
    return Book(**{"open_positions": 1, "open_positions_of_strategy": 0, "positions": (("GBPUSD", "buy", 1.0),),
                   "closes": CLOSES, **kw})


def test_correlation_reduces_and_rounds_down_to_the_step():
    # 0.35 × 0.5 = 0.175 → 0.17 on a 0.01 step.
    found = check_correlation(order(), book(), LIMITS)
    assert found == RiskWarning("volume reduced from 0.35 to 0.17: EURUSD buy correlates 0.90 with open GBPUSD "
                                "buy (max_correlation 0.8)", 0.17)


def test_correlation_reduction_below_volume_min_is_a_refusal():
    found = check_correlation(order(volume_min=0.2), book(), LIMITS)
    assert found == ("EURUSD buy correlates 0.90 with open GBPUSD buy (max_correlation 0.8); reducing 0.35 lots "
                     "to fit leaves 0.17, below the minimum 0.2")


def test_correlation_refuse_and_hedge():
    assert check_correlation(order(), book(), {**LIMITS, "correlation_action": "refuse"}) == (
        "EURUSD buy correlates 0.90 with open GBPUSD buy (max_correlation 0.8)")
    hedge = check_correlation(order(side="sell"), book(), LIMITS)
    assert hedge == RiskWarning("EURUSD sell hedges open GBPUSD (-0.90)")


def test_correlation_skips():
    assert check_correlation(order(closing=True), book(), LIMITS) is None
    assert check_correlation(order(), book(closes=None), LIMITS) is None
    assert check_correlation(order(), book(positions=()), LIMITS) is None
    assert check_correlation(order(), book(), {}) is None


def test_unknown_history_is_a_warning_when_reducing_and_a_refusal_when_strict():
    lenient = check_correlation(order(), book(closes={"EURUSD": CLOSES["EURUSD"]}), LIMITS)
    assert isinstance(lenient, RiskWarning) and lenient.volume is None
    assert "no recent closes of GBPUSD yet" in lenient.text
    strict = check_correlation(order(), book(closes={}), {**LIMITS, "correlation_action": "refuse"})
    assert strict == ("correlation with open positions not known: no recent closes of EURUSD, GBPUSD yet "
                      "(history loading; retry in a few seconds)")


def test_evaluate_reduces_before_the_lot_size_check():
    # 0.35 > max_lot_size 0.3, but the correlation cut to 0.17 comes first.
    result = evaluate(order(), book(), {**LIMITS, "max_lot_size": 0.3})
    assert result.approved and result.volume == 0.17 and len(result.warnings) == 1
    assert check_max_lot_size(order(), book(), {"max_lot_size": 0.3}) is not None


# -------------------------------------------------------- currency exposure ---
EXPOSURE = {"max_currency_exposure_lots": 1.5, "correlation_action": "reduce"}
LONG_EUR = (("EURUSD", "buy", 1.0),)  # EUR +1, USD −1


def test_currency_exposure_reduces_to_what_fits():
    # Long 1 GBPUSD would take USD to −2; only 1.5 − 1.0 = 0.5 lots fit.
    found = check_currency_exposure(order(symbol="GBPUSD", volume=1.0), book(positions=LONG_EUR), EXPOSURE)
    assert found == RiskWarning("volume reduced from 1 to 0.5: net USD exposure would be -2.00 lots, beyond "
                                "max_currency_exposure_lots 1.5 (now -1.00)", 0.5)


def test_currency_exposure_refuses_when_configured_or_full():
    refuse = {**EXPOSURE, "correlation_action": "refuse"}
    assert check_currency_exposure(order(symbol="GBPUSD", volume=1.0), book(positions=LONG_EUR), refuse) == (
        "net USD exposure would be -2.00 lots, beyond max_currency_exposure_lots 1.5 (now -1.00)")
    full = (("EURUSD", "buy", 1.5),)
    assert isinstance(check_currency_exposure(order(symbol="GBPUSD", volume=0.1), book(positions=full), EXPOSURE),
                      str)


def test_currency_exposure_toward_zero_is_allowed():
    # Short GBPUSD buys USD back: USD −1 → 0, GBP 0 → −1.
    assert check_currency_exposure(order(symbol="GBPUSD", side="sell", volume=1.0), book(positions=LONG_EUR),
                                   EXPOSURE) is None
    # Even from beyond the limit: USD −3 → −1.5.
    far = (("EURUSD", "buy", 3.0),)
    assert check_currency_exposure(order(symbol="EURUSD", side="sell", volume=1.5), book(positions=far),
                                   EXPOSURE) is None


def test_currency_exposure_skips():
    assert check_currency_exposure(order(volume=99.0, closing=True), book(), EXPOSURE) is None
    assert check_currency_exposure(order(volume=99.0), book(), {}) is None
