"""Numeric kernels behind the indicators: recursive smoothing and moving extremes.

This module owns the arithmetic of the recursive indicators: the seeded first-order
smoothing that TA-Lib uses for EMA (alpha = 2/(n+1)) and for Wilder's averages in RSI, ATR
and ADX (alpha = 1/n), the running-sum smoothing of ADX's directional movement, and the
moving maximum/minimum of the channel indicators. The bar-by-bar forms live in
`incremental`.

Both forms seed with fsum(first n values) / n, then apply y = alpha*x + (1-alpha)*y_prev:
the state classes bar by bar, the batch EMA, RSI, ATR and MACD eight bars at a time as
small matrix products (`smooth_in_place`, what brings them within 3x of TA-Lib's time), so
the two agree to ~1e-15 of the value (of the price, for MACD), not bit for bit. ADX's
smoothing runs on lfilter.
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

NAN = float("nan")


def whole_number(indicator: str, name: str, value: object, minimum: int = 1) -> int:
    """`value` as an int >= minimum, or a ValueError naming the indicator and parameter."""
    if not isinstance(value, (bool, np.bool_)):
        try:
            as_int = operator.index(value)
        except TypeError:
            as_int = int(value) if isinstance(value, float) and value.is_integer() else None
        if as_int is not None and as_int >= minimum:
            return as_int
    raise ValueError(f"{indicator}: {name} must be a whole number >= {minimum}, got {value!r}")


def linear_recursion(x: np.ndarray, alpha: float, decay: float, seed: float,
                     start: int, holds: np.ndarray | None = None) -> np.ndarray:
    """y[start] = seed, then y[t] = alpha*x[t] + decay*y[t-1]; NaN before `start`.

    Where `holds[t]` is true the step is skipped and y[t] = y[t-1] (TA-Lib's ADX keeps its
    previous value when DX is undefined). Only the runs between holds are looped over.
    """
    out = np.empty(len(x))
    out[:start] = NAN
    if start >= len(x):
        return out
    out[start] = seed
    if holds is None or not holds[start + 1:].any():
        _filter_into(out, x, alpha, decay, start + 1, len(x))
        return out
    hold = holds[start + 1:]
    edges = np.flatnonzero(np.diff(hold.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [len(hold)])) + start + 1
    for begin, end in zip(bounds[:-1], bounds[1:]):
        if holds[begin]:
            out[begin:end] = out[begin - 1]
        else:
            _filter_into(out, x, alpha, decay, begin, end)
    return out


def _filter_into(out: np.ndarray, x: np.ndarray, alpha: float, decay: float,
                 begin: int, end: int) -> None:
    if begin < end:
        out[begin:end] = lfilter([alpha], [1.0, -decay], x[begin:end],
                                 zi=[decay * out[begin - 1]])[0]


def seeded_smooth(x: np.ndarray, period: int, alpha: float, first: int,
                  recentre: bool = True) -> np.ndarray:
    """Smooth x[first:] seeded with the mean of its first `period` values (TA-Lib style).

    The output starts at index first + period - 1; everything before it is NaN. With
    `recentre` the recursion runs on the deviations from the seed, added back at the end:
    a flat series then stays exactly flat (its deviations are exactly 0), which weighted
    sums of the prices themselves would not guarantee.
    """
    start = first + period - 1
    if start >= len(x):
        return np.full(len(x), NAN)
    seed = math.fsum(x[first:start + 1]) / period
    level = seed if recentre else 0.0
    out = np.empty(len(x))
    np.subtract(x[start + 1:], level, out=out[start + 1:])
    seeded_in_place(out, start, seed - level, alpha)
    if recentre:
        out[start:] += seed
    return out


def seeded_in_place(out: np.ndarray, start: int, seed: float, alpha: float) -> None:
    """NaN before `start`, `seed` at it, and out[start + 1:] (the inputs) smoothed in place."""
    out[:start] = NAN
    out[start] = seed
    smooth_in_place([out[start + 1:]], alpha, 1.0 - alpha, [seed])


# --- the first-order recursion in blocks of BLOCK values, as small matrix products ---
#
# Within a block, y[k] = sum_j alpha*decay**(k-j) * x[j] + decay**(k+1) * y_before, so a
# series reshaped to (blocks, BLOCK) is smoothed by one product with a fixed triangular
# matrix once each block's starting state is known. Those states obey the same recursion
# one level up (decay**BLOCK a block, the blocks' ends as inputs): lfilter on n/BLOCK
# values, or the same scheme again. Why: lfilter takes ~5 ns a value on the benchmark
# machine, over 3x TA-Lib's whole ATR (~1.1 ns a bar); the product ~0.35 ns. BLOCK = 8:
# 0.034 ms for 100k values, against 0.056 and 0.084 ms (and OpenBLAS threads) at 16 and 32.
# The product overwrites the caller's array through a scratch of CHUNK blocks (a product
# cannot write over its own input): a copy, where a second series-long array would cost
# fresh pages on a cold heap (glibc hands freed memory back), far more than the copy.

BLOCK = 8
CHUNK = 4096          # blocks per product through the scratch (256 KB, stays in cache)
_LFILTER_MAX = 2048   # block states solved by lfilter up to this many blocks
SPLIT_RSI = 32_768    # wilder_rsi works in two halves above this many bars (see there)


def smooth_in_place(rows: list[np.ndarray], alpha: float, decay: float,
                    states: list[float]) -> None:
    """row[t] = alpha * row[t] + decay * row[t-1] in place, from row[-1] = states[r].

    Rows are contiguous and equally long. Each block's starting state y enters through
    its first value, x[0] += decay/alpha * y, which adds alpha * decay**k * decay/alpha * y
    = decay**(k+1) * y to the k-th output. Rows share the block-state solve.
    """
    blocks = -(-len(rows[0]) // BLOCK)
    if blocks == 0:
        return
    matrix, last_column, block_decay = _block_matrices(alpha, decay)
    lift = decay / alpha
    ends = np.empty((len(rows), blocks - 1))
    for row, state, row_ends in zip(rows, states, ends):
        row[0] += lift * state
        np.matmul(row[:len(row_ends) * BLOCK].reshape(-1, BLOCK), last_column, out=row_ends)
    if lift:                # decay 0 (a period of 1) carries nothing between blocks
        for row, lifted in zip(rows, _block_states(ends, block_decay, lift)):
            np.add(row[BLOCK::BLOCK], lifted, out=row[BLOCK::BLOCK])
    for row in rows:
        _product_in_place(row, matrix)


def smooth_difference(row: np.ndarray, fast: tuple[float, float],
                      slow: tuple[float, float]) -> None:
    """row = fast smoothing - slow smoothing of row, in place, in one product.

    `fast` and `slow` are (alpha, starting state). The difference is linear in the inputs,
    so one matrix (fast's minus slow's) gives it; the block-state terms, which decay at two
    rates, come from a (blocks, 2) @ (2, BLOCK) product.
    """
    blocks = -(-len(row) // BLOCK)
    if blocks == 0:
        return
    (fast_alpha, fast_state), (slow_alpha, slow_state) = fast, slow
    matrix, last_columns, powers, block_decays = _difference_matrices(fast_alpha, slow_alpha)
    starts = np.empty((blocks, 2))       # each block's starting (fast, -slow) state
    starts[0] = fast_state, slow_state
    if blocks > 1:
        ends = np.matmul(row[:(blocks - 1) * BLOCK].reshape(-1, BLOCK), last_columns).T
        ends[:, 0] += block_decays * starts[0]
        for column, block_decay in enumerate(block_decays):
            starts[1:, column] = _block_states(ends[column:column + 1], block_decay)[0]
    starts[:, 1] *= -1.0
    _product_in_place(row, matrix, (starts, powers))


def _product_in_place(row: np.ndarray, matrix: np.ndarray, plus=None) -> None:
    """Each block of `row` replaced by itself @ matrix (+ starts[b] @ powers if `plus` is
    (starts, powers)); the padded tail block is done on its own, so no padding is stored."""
    full = len(row) // BLOCK
    blocks = row[:full * BLOCK].reshape(full, BLOCK)
    scratch = np.empty((min(full, CHUNK), BLOCK))
    for begin in range(0, full, CHUNK):
        chunk = blocks[begin:begin + CHUNK]
        part = scratch[:len(chunk)]
        np.copyto(part, chunk)
        np.matmul(part, matrix, out=chunk)
        if plus is not None:
            chunk += np.matmul(plus[0][begin:begin + len(part)], plus[1], out=part)
    tail = row[full * BLOCK:]
    if len(tail):
        padded = np.zeros(BLOCK)
        padded[:len(tail)] = tail
        last = padded @ matrix + (0.0 if plus is None else plus[0][full] @ plus[1])
        tail[:] = last[:len(tail)]


def _block_states(ends: np.ndarray, decay: float, scale: float = 1.0) -> np.ndarray:
    """scale * s where s[b] = ends[b] + decay * s[b-1] along each row, s[-1] = 0."""
    if ends.shape[1] <= _LFILTER_MAX:
        return lfilter([scale], [1.0, -decay], ends, axis=-1)
    states = np.array(ends)       # contiguous rows, smoothed in place
    smooth_in_place(list(states), scale, decay, [0.0] * len(states))
    return states


@lru_cache(maxsize=256)
def _block_matrices(alpha: float, decay: float) -> tuple[np.ndarray, np.ndarray, float]:
    """matrix[j, k] = alpha * decay**(k-j) (0 where j > k), its last column, decay**BLOCK."""
    lag = np.subtract.outer(np.arange(BLOCK), np.arange(BLOCK)).T   # lag[j, k] = k - j
    with np.errstate(under="ignore"):
        weights = np.where(lag >= 0, alpha * decay ** np.maximum(lag, 0), 0.0)
    # C order: with a transposed (Fortran-order) right operand the product is 30% slower.
    matrix = np.ascontiguousarray(weights)
    matrix[matrix < np.finfo(float).tiny] = 0.0   # subnormal weights would slow the product
    last_column = np.ascontiguousarray(matrix[:, -1])
    matrix.flags.writeable = last_column.flags.writeable = False
    return matrix, last_column, decay ** BLOCK


@lru_cache(maxsize=64)
def _difference_matrices(fast_alpha: float, slow_alpha: float):
    """smooth_difference's constants: matrix, last columns, decay**(k+1) rows, decay**BLOCK."""
    fast = _block_matrices(fast_alpha, 1.0 - fast_alpha)
    slow = _block_matrices(slow_alpha, 1.0 - slow_alpha)
    decays = np.array([[1.0 - fast_alpha], [1.0 - slow_alpha]])
    powers = decays ** np.arange(1, BLOCK + 1)
    last_columns = np.stack([fast[1], slow[1]], axis=1)
    constants = (np.ascontiguousarray(fast[0] - slow[0]), last_columns, powers,
                 np.array([fast[2], slow[2]]))
    for array in constants:
        array.flags.writeable = False
    return constants


def ema_alpha(period: int) -> float:
    return 2.0 / (period + 1)


def ratio_or_zero(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (TA-Lib's rule).

    Overwrites both arguments. Branch-free: a zero denominator is bumped to 1 and its
    quotient multiplied by 0; every other quotient is untouched (x + 0 and x * 1 are exact).
    """
    is_zero = denominator == 0.0
    np.add(denominator, is_zero, out=denominator)
    np.divide(numerator, denominator, out=numerator)
    return np.multiply(numerator, ~is_zero, out=numerator)


def wilder_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib's RSI of a series longer than `period`: NaN before index `period`."""
    n = len(close)
    first = np.diff(close[:period + 1])
    gain, loss = (math.fsum(np.maximum(change, 0.0)) / period for change in (first, -first))
    out = np.empty(n)
    out[:period] = NAN
    out[period] = 0.0 if gain + loss == 0.0 else 100.0 * (gain / (gain + loss))
    # Long series in two halves, carrying the averages over, so the losses need a buffer
    # only half the series long: with a whole-series one, glibc gave the pages back after
    # each call on a cold heap, and faulting them in again (~400 at 100k bars) took 0.7 ms.
    # Short ones in one piece: each piece costs ~20 us of calls.
    bounds = (period + 1, (period + 1 + n) // 2 if n > SPLIT_RSI else n, n)
    buffer = np.empty(max(bounds[1] - bounds[0], n - bounds[1]))
    for begin, end in zip(bounds, bounds[1:]):
        gains, losses = out[begin:end], buffer[:end - begin]
        np.subtract(close[begin:end], close[begin - 1:end - 1], out=losses)
        np.maximum(losses, 0.0, out=gains)
        np.subtract(gains, losses, out=losses)            # max(-change, 0), exactly
        smooth_in_place([gains, losses], 1.0 / period, 1.0 - 1.0 / period, [gain, loss])
        if end > begin:
            gain, loss = gains[-1], losses[-1]
        total = np.add(gains, losses, out=losses)
        # Both averages are >= 0, so a zero total has a zero gain: the smallest normal
        # float in its place gives TA-Lib's 0 (0/tiny) without a mask; no price series
        # has a nonzero total that small.
        np.maximum(total, np.finfo(np.float64).tiny, out=total)
        np.divide(gains, total, out=gains)
        np.multiply(gains, 100.0, out=gains)
    return out


def true_range_into(high: np.ndarray, low: np.ndarray, prev_close: np.ndarray,
                    out: np.ndarray) -> None:
    """The true range of bars whose previous closes are `prev_close`, into `out`.

    Where every high >= low (any real bar) it is max(high, prev) - low, or high - prev
    where prev < low: the same subtraction of the same two numbers as the largest of the
    three differences, so the same float, with no series-long temporary.
    """
    if np.less(high, low).any():
        np.maximum(np.abs(high - prev_close), np.abs(low - prev_close), out=out)
        np.maximum(out, high - low, out=out)
        return
    np.maximum(high, prev_close, out=out)
    np.subtract(out, low, out=out)
    np.subtract(high, prev_close, out=out, where=np.less(prev_close, low))


def moving_max(x: np.ndarray, window: int) -> np.ndarray:
    """Largest of the last `window` values, NaN for the first window-1 bars."""
    return _moving_extreme(np.maximum, x, window)


def moving_min(x: np.ndarray, window: int) -> np.ndarray:
    """Smallest of the last `window` values, NaN for the first window-1 bars."""
    return _moving_extreme(np.minimum, x, window)


def _moving_extreme(pick, x: np.ndarray, window: int) -> np.ndarray:
    # Doubling: level[i] holds the extreme of the `span` values ending at i, so log2(window)
    # vectorised passes cover any window; two overlapping spans give the exact answer.
    # Ten times faster than bottleneck's move_max/move_min at the windows used here, and
    # two buffers are recycled because fresh pages are what large arrays cost most.
    n = len(x)
    if window > n:
        return np.full(n, NAN)
    level, spare, span = x, None, 1
    while span * 2 <= window:
        target = np.empty(n) if spare is None else spare
        pick(level[span:], level[:n - span], out=target[span:])
        spare = None if level is x else level
        level, span = target, span * 2
    out = np.empty(n) if spare is None else spare
    shift = window - span
    pick(level[window - 1:], level[window - 1 - shift:n - shift], out=out[window - 1:])
    out[:window - 1] = NAN
    return out


def check_macd_periods(fast: object, slow: object, signal: object) -> tuple[int, int, int]:
    fast = whole_number("macd", "fast", fast)
    slow = whole_number("macd", "slow", slow)
    signal = whole_number("macd", "signal", signal)
    if fast >= slow:
        raise ValueError(f"macd: fast ({fast}) must be smaller than slow ({slow}); "
                         f"write macd(fast, slow, signal), e.g. macd(12, 26, 9)")
    return fast, slow, signal
