"""What an operator reads: `ctl` tables and error lines, event sentences, the log tail (pure)."""

from __future__ import annotations

import argparse
import json
import queue
import re
import threading
import time
from pathlib import Path

import pytest

from actors.control import ctl, live, logtail, views
from actors.runtime.event_text import describe

pytestmark = pytest.mark.timeout(30)

NOW = 1_795_000_000_000  # 2026-11-18 11:06:40 UTC
LATER = NOW + 3_600_000
EPOCH_MS = re.compile(r"\b1\d{12}\b")


def status(kill_active: bool = False, trading_state: str = "ACTIVE", locked_until: int | None = None) -> dict:
    return {
        "state": "running", "uptime_s": 3725.0,
        "kill_switch": {"active": kill_active, "reason": "operator" if kill_active else None,
                        "locked_until": LATER if kill_active else None},
        "accounts": [{"login": 5000001, "type": "demo", "currency": "USD", "balance": 10000.0, "equity": 9990.5,
                      "margin": 108.0, "margin_free": 9882.5, "connected": True, "trading_state": trading_state,
                      "trading_state_reason": None, "locked_until": locked_until, "clock_skew_ms": 350,
                      "limits": {"max_lot_size": 2.0, "max_positions": 10}}],
        "positions": [{"ticket": 100000000, "account": 5000001, "symbol": "EURUSD", "side": "buy", "volume": 0.1,
                       "price_open": 1.0802, "sl": 0.0, "tp": 0.0, "profit": -9.5, "strategy_id": "manual"}],
        "orders": [],
        "strategies": [{"strategy_id": "s1", "name": "sma", "symbol": "EURUSD", "timeframe": "M1",
                        "account": 5000001, "state": "running", "restarts": 0, "last_bar": NOW,
                        "last_signal": {"signal": "entry_long", "time": NOW}}],
    }


def test_the_kill_switch_shows_beside_an_account_that_calls_itself_active():
    assert views.effective_state(status()["accounts"][0], status()["kill_switch"], NOW) == "ACTIVE"
    engaged = status(kill_active=True)
    assert views.effective_state(engaged["accounts"][0], engaged["kill_switch"], NOW) == \
        "LOCKED by kill switch until 2026-11-18 12:06:40 UTC"
    halted = status(trading_state="HALTED", locked_until=LATER)
    assert views.effective_state(halted["accounts"][0], halted["kill_switch"], NOW) == \
        "HALTED (locked until 2026-11-18 12:06:40 UTC)"
    text = views.to_text(views.render_status(engaged, NOW))
    assert "LOCKED by kill switch until 2026-11-18 12:06:40 UTC" in text
    assert "KILL SWITCH ENGAGED (operator)" in text and "`ctl reset-kill-switch`" in text


def test_status_tables_show_dates_never_epoch_milliseconds():
    text = views.to_text(views.render_status(status(), NOW))
    for heading in ("ACCOUNTS", "POSITIONS", "STRATEGIES", "EA link", "clock skew", "last signal"):
        assert heading in text
    assert "2026-11-18 11:06:40 UTC" in text and "entry_long at 2026-11-18 11:06 UTC" in text
    assert "+350 ms" in text and "up 1h 2m" in text
    assert not EPOCH_MS.search(text), text


def test_the_ea_link_says_when_it_is_still_reconciling():
    reconciling = status()
    reconciling["accounts"][0]["reconciling"] = ["symbols", "positions"]
    assert "up, reconciling symbols, positions" in views.to_text(views.render_status(reconciling, NOW))
    down = status()
    down["accounts"][0]["connected"] = False
    assert "DOWN" in views.to_text(views.render_status(down, NOW))


def test_a_reply_without_a_view_shows_its_times_as_dates():
    text = views.to_text(views.render_reply({"closed_positions": 2, "remaining": 0, "locked_until": LATER,
                                             "pong": NOW}))
    assert "2026-11-18 12:06:40 UTC" in text and "2026-11-18 11:06:40 UTC" in text
    assert not EPOCH_MS.search(text)


def test_error_lines_are_one_line_with_the_code_and_name_ctl_commands():
    line = views.error_line({"code": "TRADING_LOCKED", "message": "trading is locked by the kill switch (x); "
                             "RESET_KILL_SWITCH once the lock expires", "details": {"locked_until": LATER}})
    assert line == ("TRADING_LOCKED: trading is locked by the kill switch (x); `ctl reset-kill-switch` once the lock "
                    "expires (locked_until: 2026-11-18 12:06:40 UTC)")
    refused = views.error_line({"code": "RISK_REJECTED", "message": "a; b", "details": {"reasons": ["a", "b"]}})
    assert refused == "RISK_REJECTED: a; b"  # the reasons are the message: not said twice
    missing = views.error_line({"code": "NOT_FOUND", "message": "no open position with ticket 5;\nSTATUS_REQUEST "
                                "lists the open ones", "details": {"ticket": 5}})
    assert "\n" not in missing and "`ctl status` lists" in missing


def test_a_partial_close_says_what_remains():
    partial = views.to_text(views.render_close({"ticket": 7, "closed_volume": 0.03, "price": 1.1, "profit": 2.5},
                                               {"ticket": 7, "volume": 0.1}))
    assert "PARTIAL close: 0.07 of 0.1 lots remain open (same ticket)" in partial
    whole = views.to_text(views.render_close({"ticket": 7, "closed_volume": 0.1, "price": 1.1, "profit": 2.5},
                                             {"ticket": 7, "volume": 0.1}))
    assert "closed 0.1 lots of ticket 7" in whole and "PARTIAL" not in whole


def test_limits_show_each_beside_its_default_and_flag_looser_ones():
    text = views.to_text(views.render_limits(status()))
    row = next(line for line in text.splitlines() if line.startswith("max_lot_size"))
    assert row.split()[:3] == ["max_lot_size", "2", "1"] and "looser than default" in row
    assert "looser" not in next(line for line in text.splitlines() if line.startswith("max_positions"))
    assert "no account connected" in views.to_text(views.render_limits({"accounts": []}))


@pytest.mark.parametrize("name, event, says", [
    ("OrderFilled", {"account": 1, "strategy_id": "manual", "side": "buy", "volume": 0.1, "symbol": "EURUSD",
                     "price": 1.0802, "ticket": 9, "closing": False},
     "account 1: manual order buy 0.1 EURUSD filled at 1.0802 (ticket 9)"),
    ("RiskRejected", {"account": 1, "strategy_id": "s1", "side": "sell", "symbol": "EURUSD",
                      "reasons": ["max_positions 3 reached (3 open)", "spread too wide"]},
     "account 1: s1 sell EURUSD REFUSED: max_positions 3 reached (3 open); spread too wide"),
    ("OrderRejected", {"account": 1, "strategy_id": "s1", "symbol": "EURUSD", "retcode": 10006, "message": "rejected"},
     "REJECTED by MT5: retcode 10006 rejected"),
    ("ExitActionTaken", {"account": 1, "strategy_id": "s1", "ticket": 9, "action": "partial_close",
                         "reason": "partial exit 1", "volume": 0.05, "remaining": 0.05},
     "PARTIAL close of 0.05 lots of ticket 9 (0.05 lots stay open, same ticket): partial exit 1"),
    ("KillSwitchEngaged", {"reason": "operator", "locked_until": LATER, "engaged_at": NOW},
     "KILL SWITCH ENGAGED: operator; strategies stopped, accounts flattened, trading locked until "
     "2026-11-18 12:06:40 UTC"),
    ("LinkStateChanged", {"account": 1, "connected": False, "boot": "", "reason": "silent 3 s"},
     "account 1: EA link DOWN: silent 3 s"),
    ("LinkStateChanged", {"account": 1, "connected": True, "boot": "ab12", "reason": ""},
     "account 1: EA link up (EA boot ab12): reconciling positions and orders"),
    ("SomethingNew", {"account": 1, "at_time": NOW}, "SomethingNew: account 1, at_time 2026-11-18 11:06:40 UTC"),
])
def test_every_event_reads_as_one_sentence(name, event, says):
    text = describe(name, event)
    assert says in text and "\n" not in text


def test_watch_prints_an_events_own_time_and_knows_the_event_names():
    line = live.event_line("KillSwitchReset", {"reset_at": NOW, "time": NOW}, received_ms=LATER)
    assert line.startswith("2026-11-18 11:06:40 UTC  KillSwitchReset ")
    assert live.topics(["orderfilled", "RiskRejected"]) == ["OrderFilled", "RiskRejected"]
    with pytest.raises(ValueError, match="no event 'Fill'; events are ExitActionTaken"):
        live.topics(["Fill"])


def test_the_dashboard_frame_has_every_panel():
    text = views.to_text(live.dashboard(status(kill_active=True), ["an event"], "tcp://127.0.0.1:5555", NOW))
    for panel in ("ACCOUNTS", "POSITIONS", "STRATEGIES", "EVENTS", "an event", "KILL SWITCH ENGAGED",
                  "LOCKED by kill switch"):
        assert panel in text


def test_reads_wait_less_than_trading_commands():
    args = argparse.Namespace(timeout=None)
    assert ctl.timeout_s(args, "STATUS_REQUEST") == ctl.READ_TIMEOUT_S < ctl.timeout_s(args, "OPEN_POSITION")
    assert ctl.timeout_s(args, "EMERGENCY_STOP") > 90  # the executor gives it 90 s
    assert ctl.timeout_s(argparse.Namespace(timeout=7.0), "STATUS_REQUEST") == 7.0
    said = ctl.no_reply(argparse.Namespace(control="tcp://127.0.0.1:1"), 3.0)
    assert "within 3 s" in said and "run.py service" in said and "--control" in said


# ------------------------------------------------------------------ ctl logs ---
def log_line(message: str, level: str = "INFO", no: int = 20, stamp: float = NOW / 1000,
             exception: dict | None = None) -> str:
    record = {"time": {"timestamp": stamp}, "level": {"name": level, "no": no}, "name": "actors.x",
              "message": message, "exception": exception}
    return json.dumps({"text": message, "record": record}) + "\n"


def test_a_json_log_line_reads_as_one_line():
    assert logtail.readable(log_line("hello")) == "2026-11-18 11:06:40.000 UTC INFO     actors.x: hello"
    broken = logtail.readable(log_line("boom", "ERROR", 40, exception={"type": "ValueError", "value": "bad",
                                                                          "traceback": True}))
    assert broken.endswith("boom [ValueError: bad]")
    assert logtail.readable("not json") is None


def test_logs_show_the_last_lines_at_a_level(tmp_path):
    path = logtail.log_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("".join(log_line(f"line {i}", *(("WARNING", 30) if i % 10 == 0 else ())) for i in range(1000)))
    shown: list[str] = []
    assert logtail.run(tmp_path, lines=3, follow_=False, level="INFO", as_json=False, out=shown.append) == 0
    assert [s.rsplit(": ", 1)[1] for s in shown] == ["line 997", "line 998", "line 999"]
    shown.clear()
    logtail.run(tmp_path, lines=2, follow_=False, level="WARNING", as_json=False, out=shown.append)
    assert [s.rsplit(": ", 1)[1] for s in shown] == ["line 980", "line 990"]
    with pytest.raises(logtail.LogError, match="no log at"):
        logtail.run(tmp_path / "nowhere", lines=3, follow_=False, level="INFO", as_json=False)


def test_follow_sees_new_lines_across_a_rotation(tmp_path):
    path = tmp_path / "executor.jsonl"
    path.write_text(log_line("old"))
    stop = threading.Event()
    seen: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [seen.put(line) for line in logtail.follow(path, stop.is_set)])
    reader.start()
    try:
        def append(text: str, target: Path = path) -> None:
            with target.open("a") as f:
                f.write(text)
        deadline = time.monotonic() + 10
        while seen.empty() and time.monotonic() < deadline:  # the reader may open the file after the append
            append(log_line("first"))
            try:
                assert "first" in seen.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        path.rename(tmp_path / "executor.1.jsonl")  # loguru rotates: a new file under the same name
        append(log_line("after rotation"))
        while "after rotation" not in seen.get(timeout=5):
            pass
    finally:
        stop.set()
        reader.join(5)
