"""Correlation and currency exposure (actors/risk/correlation.py).

Closes are built from log returns with a known correlation: a and e are zero-mean,
orthogonal patterns of equal size, so returns a·ρ + e·√(1 − ρ²) correlate exactly ρ with a.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from actors.risk.correlation import correlation, currency_exposure, decide, symbol_currencies

N = 100  # returns; a multiple of 4 so both patterns are zero-mean and orthogonal
A = np.array([1, -1] * (N // 2)) * 0.001
E = np.array([1, 1, -1, -1] * (N // 4)) * 0.001


def closes(returns, start: float = 1.0) -> list[float]:
    return list(start * np.exp(np.concatenate([[0.0], np.cumsum(returns)])))


def like_a(rho: float, start: float = 1.0) -> list[float]:
    return closes(A * rho + E * math.sqrt(1 - rho * rho), start)


CLOSES = {"EURUSD": closes(A, 1.08), "GBPUSD": like_a(0.9, 1.27), "USDCHF": like_a(-0.9, 0.88),
          "AUDUSD": like_a(0.7, 0.66), "USDJPY": closes(E, 150.0)}


def test_correlation_by_construction():
    assert correlation(CLOSES["EURUSD"], CLOSES["GBPUSD"]) == pytest.approx(0.9)
    assert correlation(CLOSES["EURUSD"], CLOSES["USDCHF"]) == pytest.approx(-0.9)
    assert correlation(CLOSES["EURUSD"], CLOSES["USDJPY"]) == pytest.approx(0.0, abs=1e-9)
    assert correlation(CLOSES["EURUSD"], CLOSES["EURUSD"]) == pytest.approx(1.0)


def test_correlation_uses_the_last_window_aligned_at_the_end():
    longer = closes(np.concatenate([np.full(50, 0.003), A]), 1.08)  # 50 older bars of something else
    assert correlation(longer, CLOSES["GBPUSD"]) == pytest.approx(0.9)
    assert correlation(longer, CLOSES["GBPUSD"], window=100) == pytest.approx(0.9)


def test_correlation_needs_data():
    assert correlation(CLOSES["EURUSD"][:20], CLOSES["GBPUSD"][:20]) is None  # 19 returns < 20
    assert correlation(CLOSES["EURUSD"][-21:], CLOSES["GBPUSD"][-21:]) is not None
    assert correlation([1.0] * 50, CLOSES["GBPUSD"]) is None  # a flat series
    assert correlation([1.0, 0.0] * 30, CLOSES["GBPUSD"]) is None  # not prices


# ------------------------------------------------------------------- decide ---
def test_same_direction_correlated_is_reduced_by_the_rule():
    # c = 0.9 > 0.8: factor (1 − 0.9) / (1 − 0.8) = 0.5 → 0.4 lots become 0.2.
    d = decide("EURUSD", "buy", 0.4, [("GBPUSD", "buy", 1.0)], CLOSES, max_correlation=0.8)
    assert d.volume == pytest.approx(0.2) and d.reason is None
    assert d.warning == ("volume reduced from 0.4 to 0.2: EURUSD buy correlates 0.90 with open GBPUSD buy "
                         "(max_correlation 0.8)")
    assert d.correlated == (("GBPUSD", 0.9),)


def test_same_direction_correlated_is_refused_when_configured():
    d = decide("EURUSD", "buy", 0.4, [("GBPUSD", "buy", 1.0)], CLOSES, max_correlation=0.8, action="refuse")
    assert d.volume == 0.0
    assert d.reason == "EURUSD buy correlates 0.90 with open GBPUSD buy (max_correlation 0.8)"


def test_inverse_exposure_is_a_hedge():
    # Long EURUSD against short GBPUSD (ρ 0.9, opposite sides) or long USDCHF (ρ −0.9, same side): c = −0.9.
    for position in (("GBPUSD", "sell", 1.0), ("USDCHF", "buy", 1.0)):
        d = decide("EURUSD", "buy", 0.4, [position], CLOSES, max_correlation=0.8)
        assert d.volume == 0.4 and d.reason is None
        assert d.warning == f"EURUSD buy hedges open {position[0]} (-0.90)"


def test_negative_correlation_opposite_sides_adds_exposure():
    # Long EURUSD + short USDCHF is the same bet against the dollar: c = −0.9 × −1 = 0.9.
    d = decide("EURUSD", "buy", 0.4, [("USDCHF", "sell", 1.0)], CLOSES, max_correlation=0.8)
    assert d.volume == pytest.approx(0.2)


def test_the_most_correlated_position_decides():
    # GBPUSD c 0.9 and AUDUSD c 0.7 with max 0.6: factor (1 − 0.9) / (1 − 0.6) = 0.25.
    d = decide("EURUSD", "buy", 0.4, [("AUDUSD", "buy", 1.0), ("GBPUSD", "buy", 1.0)], CLOSES, max_correlation=0.6)
    assert d.volume == pytest.approx(0.1)
    assert d.correlated == (("GBPUSD", 0.9), ("AUDUSD", 0.7))


def test_below_the_threshold_same_symbol_and_unknown_data_pass():
    assert decide("EURUSD", "buy", 0.4, [("AUDUSD", "buy", 1.0)], CLOSES, max_correlation=0.8).warning is None
    assert decide("EURUSD", "buy", 0.4, [("EURUSD", "buy", 1.0)], CLOSES, max_correlation=0.8).volume == 0.4
    assert decide("EURUSD", "buy", 0.4, [("NZDUSD", "buy", 1.0)], CLOSES, max_correlation=0.8).volume == 0.4
    assert decide("EURUSD", "buy", 0.4, [("GBPUSD", "buy", 1.0)], CLOSES, max_correlation=1.0).volume == 0.4


# ---------------------------------------------------------- currency exposure ---
def test_long_eurusd_and_gbpusd_is_double_short_usd():
    exposure = currency_exposure([("EURUSD", "buy", 1.0), ("GBPUSD", "buy", 1.0)])
    assert exposure == {"EUR": 1.0, "GBP": 1.0, "USD": -2.0}


def test_exposure_nets_across_symbols():
    exposure = currency_exposure([("EURUSD", "buy", 1.0), ("USDJPY", "buy", 0.5), ("EURUSD", "sell", 0.25)])
    assert exposure == {"EUR": 0.75, "USD": -0.25, "JPY": -0.5}


def test_exposure_in_notional_units():
    exposure = currency_exposure([("EURUSD", "buy", 1.0), ("XAUUSD", "sell", 0.5)],
                                 {"XAUUSD": ("XAU", "USD")}, contract_sizes={"EURUSD": 100_000, "XAUUSD": 100},
                                 prices={"EURUSD": 1.08, "XAUUSD": 2350.0})
    # +100 000 EUR, −108 000 USD; −50 XAU, +117 500 USD.
    assert exposure == {"EUR": 100_000.0, "USD": pytest.approx(9_500.0), "XAU": -50.0}


def test_symbol_currencies():
    assert symbol_currencies("EURUSD") == ("EUR", "USD")
    assert symbol_currencies("EURUSD.m") == ("EUR", "USD")
    assert symbol_currencies("XAUUSD", {"XAUUSD": ("XAU", "USD")}) == ("XAU", "USD")
    assert symbol_currencies("US500") == ("US500", "")
