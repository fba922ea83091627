"""The simulated terminal from plain options (bridge/sim/options.py): what `run.py sim` and the
service's embedded simulator are built with. Nothing here starts a terminal."""

from __future__ import annotations

import json

import pytest

from bridge import mt5
from bridge.sim.ea_prices import DEFAULT_PRICES_CTL
from bridge.sim.options import InjectedFaults, SimOptionsError, build_terminal, terminal_arguments
from bridge.sim.paper_terminal import PaperTerminal
from bridge.sim.terminal import DEFAULT_LOGIN, SimTerminal
from tests.conftest import free_endpoint

FAULTS = InjectedFaults(requotes=1, rejects=2, timeout_after_fill=3, rate_limit_per_s=4, drop_replies=5,
                        drop_ticks=6, delay_replies=7, delay_s=0.5)


def endpoints() -> dict[str, str]:
    return {"ctl_endpoint": free_endpoint(), "md_endpoint": free_endpoint()}


def test_faults_reach_the_trade_server_and_the_socket_shell():
    terminal = build_terminal(**endpoints(), faults=FAULTS)
    assert isinstance(terminal, SimTerminal) and terminal.login == DEFAULT_LOGIN
    faults = terminal.server.faults
    assert (faults.requotes, faults.rejects, faults.timeout_after_fill, faults.rate_limit_per_s) == (1, 2, 3, 4)
    assert (terminal.drop_replies, terminal.drop_tick_batches) == (5, 6)
    assert (terminal.delayed.count, terminal.delayed.delay_s) == (7, 0.5)
    untouched = build_terminal(**endpoints()).server.faults
    assert (untouched.requotes, untouched.rejects, untouched.rate_limit_per_s) == (0, 0, 0)


def test_options_win_over_the_broker_file(tmp_path):
    broker = tmp_path / "broker.json"
    broker.write_text(json.dumps({"account": {"balance": 2500, "leverage": 30, "trade_mode": "real"}}))
    terminal = build_terminal(**endpoints(), login=42, broker_file=broker, leverage=50, account="demo",
                              always_open=True, start="2026-11-24T08:00:00Z")
    server = terminal.server
    assert (terminal.login, server.balance, server.leverage) == (42, 2500.0, 50)
    assert server.trade_mode == mt5.ACCOUNT_TRADE_MODE_DEMO and not terminal.enforce_sessions


def test_prices_from_ea_make_a_paper_terminal_whose_faults_wait_for_its_sim_terminal():
    cls, arguments = terminal_arguments(prices_from_ea=True, faults=FAULTS)
    assert cls is PaperTerminal and arguments["prices_ctl"] == DEFAULT_PRICES_CTL
    assert arguments["on_started"] == FAULTS.inject  # set on the SimTerminal once the real EA is ready
    assert "speed" not in arguments and "start_ms" not in arguments  # the real clock
    assert isinstance(build_terminal(**endpoints(), prices_from_ea=True), PaperTerminal)


@pytest.mark.parametrize("options, message", [
    ({"speed": 0}, "--speed must be positive and --fault-delay-s not negative"),
    ({"faults": InjectedFaults(delay_s=-1)}, "--speed must be positive and --fault-delay-s not negative"),
    ({"prices_from_ea": True, "speed": 5}, "--prices-from-ea runs on the real clock; drop --speed and --start"),
    ({"prices_from_ea": True, "start": "2026-11-24T08:00:00Z"}, "--prices-from-ea runs on the real clock"),
    ({"start": "tuesday"}, "ISO 8601"),
    ({"account": "paper"}, "account must be one of demo, live"),
    ({"broker_file": "/nonexistent/broker.json"}, "cannot read broker file /nonexistent/broker.json: not found"),
    ({"calendar_file": "/nonexistent/calendar.json"}, "cannot read calendar file"),
])
def test_what_cannot_be_simulated_is_one_line(options, message):
    with pytest.raises(SimOptionsError, match=message) as refused:
        terminal_arguments(**options)
    assert "\n" not in str(refused.value)
