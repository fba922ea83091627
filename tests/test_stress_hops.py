"""stress.hops: a bar's hops found in the stamps --trace-hops writes, and their medians."""

from __future__ import annotations

import json

from stress import hops


def bar(origin: float, journal_ms: float) -> list[tuple]:
    ms = 1e-3
    return [(origin, origin + 0.1 * ms, "pump-gateway", "drain-md", 1),
            (origin + 0.5 * ms, origin + 0.6 * ms, "MarketData", "TickBatch", 2),
            (origin + 0.7 * ms, origin + 0.8 * ms, "MarketData", "TickBatch", 2),
            (origin + 1.0 * ms, origin + 1.2 * ms, "Strategy", "BarClosed", 3),
            (origin + journal_ms * ms, origin + (journal_ms + 2) * ms, "Journal", "RecordIntent", 4)]


def test_bars_start_at_the_md_read_before_a_burst_and_medians_are_taken_over_them(tmp_path):
    records = bar(10.0, 4.0) + bar(11.0, 6.0) + bar(12.0, 20.0)
    records.append((10.2, 10.2001, "pump-gateway", "drain-md", 1))  # a heartbeat between bars: no bar
    path = tmp_path / "hops.json"
    path.write_text(json.dumps(records))
    loaded = hops.load(path)
    assert hops.bar_starts(loaded) == [10.0, 11.0, 12.0]
    rows = {(actor, kind): rest for actor, kind, *rest in hops.timeline(loaded, hops.bar_starts(loaded), 0.1)}
    count, first, last, busy = rows[("Journal", "RecordIntent")]
    assert count == 1 and round(first, 6) == 6.0 and round(last, 6) == 8.0 and round(busy, 6) == 2.0
    count, first, _last, _busy = rows[("MarketData", "TickBatch")]
    assert count == 2 and round(first, 6) == 0.5


def test_a_file_without_a_bar_or_unreadable_is_one_line_and_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert hops.main([str(empty)]) == 2
    assert hops.main([str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("python -m stress.hops: ") for line in err)
