"""The executor's command line: `service`, `sim`, `replay`, `ctl` and `otp-setup`.

Thin on purpose: parse, call, map failures to exit codes (0 ok, 1 runtime failure,
2 bad usage) with one line that says what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

DEFAULT_SIM_LOGIN = 5_000_001


def main(argv: list[str] | None = None) -> int:
    from actors.control import ctl

    parser = argparse.ArgumentParser(prog="run.py", description="MetaTrader 5 strategy executor")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    svc = sub.add_parser("service", help="run the executor (with an embedded simulated MT5 terminal by default)")
    svc.add_argument("--data-dir", type=Path, default=Path("data"), help="journal, logs and keys (default ./data)")
    svc.add_argument("--config", type=Path, help="JSON file of settings (command-line options win)")
    svc.add_argument("--control", help="control endpoint (default tcp://127.0.0.1:5555)")
    svc.add_argument("--events", help="events endpoint (default tcp://127.0.0.1:5556)")
    svc.add_argument("--ea-ctl", help="where EAs connect for requests (default tcp://127.0.0.1:5557)")
    svc.add_argument("--ea-md", help="where EAs publish market data (default tcp://127.0.0.1:5558)")
    svc.add_argument("--sim-speed", type=float, help="simulated clock speed-up (1 = real time, 60 = a minute a second)")
    svc.add_argument("--sim-seed", type=int, help="seed of the simulated prices")
    svc.add_argument("--no-sim", action="store_true", help="no embedded simulator: wait for a real EA")
    svc.add_argument("--sim-account", choices=("demo", "live"), help="the simulated account's type (default demo)")
    svc.add_argument("--sim-calendar", help="economic calendar JSON the simulated terminal answers (news blackouts)")
    svc.add_argument("--sim-broker", metavar="FILE", help='broker JSON {"account": {...}, "symbols": {...}} to simulate')
    svc.add_argument("--sim-start", metavar="WHEN", help="simulated market start, ISO 8601 UTC or epoch ms (default now)")
    svc.add_argument("--sim-always-open", action="store_true", default=None,
                     help="quote and trade round the clock, ignoring the symbols' sessions and the weekend")
    svc.add_argument("--paper-prices", action="store_true", default=None,
                     help="paper trading: the simulated terminal quotes a real EA's ticks (the EA connects to "
                          "--prices-ctl/--prices-md instead of --ea-ctl/--ea-md); orders stay simulated")
    svc.add_argument("--prices-ctl", help="with --paper-prices: the real EA's request endpoint (default tcp://127.0.0.1:5567)")
    svc.add_argument("--prices-md", help="with --paper-prices: the real EA's market-data endpoint (default tcp://127.0.0.1:5568)")
    svc.add_argument("--log-level", default=None, help="stderr log level (default INFO)")

    sim = sub.add_parser("sim", help="run the simulated MT5 terminal as its own process")
    sim.add_argument("--ctl", default="tcp://127.0.0.1:5557", help="the executor's EA request endpoint")
    sim.add_argument("--md", default="tcp://127.0.0.1:5558", help="the executor's EA market-data endpoint")
    sim.add_argument("--login", type=int, default=DEFAULT_SIM_LOGIN)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--speed", type=float, default=1.0)
    sim.add_argument("--broker", type=Path, help='broker JSON {"account": {...}, "symbols": {...}} to simulate')
    sim.add_argument("--symbols", type=Path, help="JSON file describing your broker's symbols (over --broker's)")
    sim.add_argument("--account", choices=("demo", "live"), help="the account type it reports (default: the broker file's, else demo)")
    sim.add_argument("--balance", type=float, help="starting balance (default: the broker file's, else 10000)")
    sim.add_argument("--leverage", type=int, help="account leverage (default: the broker file's, else 100)")
    sim.add_argument("--tz-offset-s", type=int, help="server time minus UTC in seconds (default: the broker file's, else 7200)")
    sim.add_argument("--start", metavar="WHEN", help="simulated market start, ISO 8601 UTC or epoch ms (default now)")
    sim.add_argument("--always-open", action="store_true", help="quote and trade round the clock, ignoring sessions")
    sim.add_argument("--calendar", type=Path, help="economic calendar JSON it answers (news blackouts)")
    paper = sim.add_argument_group("paper trading on real prices")
    paper.add_argument("--prices-from-ea", action="store_true",
                       help="quote a real EA's ticks, symbols and history, in real time; orders stay simulated")
    paper.add_argument("--prices-ctl", default="tcp://127.0.0.1:5567", help="where the real EA connects for requests")
    paper.add_argument("--prices-md", default="tcp://127.0.0.1:5568", help="where the real EA publishes its ticks")
    faults = sim.add_argument_group("faults to inject (counts: the next N occurrences)")
    faults.add_argument("--fault-requotes", type=int, default=0, metavar="N", help="requote the next N deals (10004)")
    faults.add_argument("--fault-rejects", type=int, default=0, metavar="N", help="reject the next N deals (10006)")
    faults.add_argument("--fault-timeout-after-fill", type=int, default=0, metavar="N",
                        help="fill the next N orders but answer 10012 TIMEOUT")
    faults.add_argument("--fault-rate-limit", type=int, default=0, metavar="PER_S",
                        help="refuse trade requests beyond PER_S a second (10024)")
    faults.add_argument("--fault-drop-replies", type=int, default=0, metavar="N", help="lose the next N replies")
    faults.add_argument("--fault-drop-ticks", type=int, default=0, metavar="N",
                        help="lose the next N tick publishes (the executor backfills)")
    faults.add_argument("--fault-delay-replies", type=int, default=0, metavar="N",
                        help="hold the next N replies --fault-delay-s seconds, then send them")
    faults.add_argument("--fault-delay-s", type=float, default=5.0, metavar="D", help="how long a delayed reply is held")

    rep = sub.add_parser("replay", help="replay a history file through the live path and report")
    source = rep.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="MT5 'Export bars' CSV or time,open,high,low,close,volume")
    source.add_argument("--ticks", type=Path, help="MT5 'Export ticks' CSV or time_msc,bid,ask[,last,volume]")
    rep.add_argument("--strategy", required=True, help="strategy JSON file (CONTROL_API.md format)")
    rep.add_argument("--symbol", help="the symbol the file holds (default: the strategy's)")
    rep.add_argument("--tz-offset-s", type=int, default=0, help="the file's server time minus UTC, in seconds")
    rep.add_argument("--balance", type=float, default=10_000.0, help="starting balance of the replay account")
    rep.add_argument("--json", action="store_true", help="print the PERFORMANCE_REQUEST reply with trades as JSON")

    otp = sub.add_parser("otp-setup", help="create the TOTP secret that confirms risky commands on live accounts")
    otp.add_argument("--data-dir", type=Path, default=Path("data"), help="the service's data dir (default ./data)")
    otp.add_argument("--account-name", default="executor", help="the label your authenticator app shows")
    otp.add_argument("--force", action="store_true", help="replace an existing secret (its codes stop working)")

    ctl.add_parser(sub)
    args = parser.parse_args(argv)
    commands = {"service": run_service, "sim": run_sim, "ctl": run_ctl, "replay": run_replay,
                "otp-setup": run_otp_setup}
    try:
        code = commands[args.command](args)
        sys.stdout.flush()  # inside the try: a reader gone away is seen here, not at exit
        return code
    except ctl.UsageError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours. Point stdout at devnull so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run_service(args: argparse.Namespace) -> int:
    from actors.app.config import ConfigError, load_config
    from actors.app.logs import setup_logging
    from actors.app.service import Service, ServiceError, sim_setup
    from bridge.sim.calendar import load_calendar

    sim_overrides = {k: v for k, v in (("speed", args.sim_speed), ("seed", args.sim_seed),
                                       ("account", args.sim_account), ("calendar_file", args.sim_calendar),
                                       ("broker_file", args.sim_broker), ("start", args.sim_start),
                                       ("always_open", args.sim_always_open),
                                       ("prices", "ea" if args.paper_prices else None),
                                       ("prices_ctl", args.prices_ctl), ("prices_md", args.prices_md)) if v is not None}
    if args.no_sim and args.paper_prices:
        print("run.py service: --paper-prices needs the embedded simulated terminal; drop --no-sim", file=sys.stderr)
        return 2
    try:
        base = load_config(args.config)
        sim = None if args.no_sim or base.sim is None else {**_sim_dict(base.sim), **sim_overrides}
        config = load_config(args.config, data_dir=args.data_dir, control_endpoint=args.control,
                             events_endpoint=args.events, ea_ctl_endpoint=args.ea_ctl, ea_md_endpoint=args.ea_md,
                             log_level=args.log_level, sim=sim, no_sim=args.no_sim or None)
        if config.sim is not None:
            sim_setup(config.sim)  # a bad broker file is bad usage, found before anything starts
            if config.sim.calendar_file:
                load_calendar(config.sim.calendar_file)  # so is a bad calendar file
    except (ConfigError, OSError, TypeError, ValueError) as exc:
        print(f"run.py service: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.data_dir, config.log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service = Service(config)
    try:
        service.start()
    except ServiceError as exc:
        print(f"run.py service: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        return service.wait(stop)
    finally:
        service.stop()


def _sim_dict(sim: object) -> dict:
    import dataclasses
    return dataclasses.asdict(sim)


def run_sim(args: argparse.Namespace) -> int:
    from actors.app.logs import setup_logging
    from bridge.sim.terminal import SimTerminal
    from bridge.sim.calendar import CalendarError, load_calendar
    from bridge.sim.config import broker_setup, parse_start

    setup_logging(None)
    try:  # options given win over the broker file, which wins over the defaults
        symbols, options = broker_setup(args.broker, args.symbols, account=args.account, balance=args.balance,
                                        leverage=args.leverage, tz_offset_s=args.tz_offset_s,
                                        enforce_sessions=False if args.always_open else None)
        start_ms = parse_start(args.start)
        calendar = load_calendar(args.calendar) if args.calendar else None
    except (OSError, CalendarError, ValueError) as exc:
        print(f"run.py sim: {exc}", file=sys.stderr)
        return 2
    if not args.speed > 0 or args.fault_delay_s < 0:
        print("run.py sim: --speed must be positive and --fault-delay-s not negative", file=sys.stderr)
        return 2
    if args.prices_from_ea:
        return run_paper_sim(args, symbols, options, calendar)
    terminal = SimTerminal(ctl_endpoint=args.ctl, md_endpoint=args.md, login=args.login, seed=args.seed,
                           speed=args.speed, symbols=symbols, server_options=options, start_ms=start_ms,
                           calendar=calendar)
    _set_faults(terminal, args)
    signal.signal(signal.SIGTERM, lambda *_: terminal.stop())
    terminal.run_forever()
    return 0


def _set_faults(terminal, args: argparse.Namespace) -> None:
    terminal.server.faults.requotes = args.fault_requotes
    terminal.server.faults.rejects = args.fault_rejects
    terminal.server.faults.timeout_after_fill = args.fault_timeout_after_fill
    terminal.server.faults.rate_limit_per_s = args.fault_rate_limit
    terminal.drop_replies, terminal.drop_tick_batches = args.fault_drop_replies, args.fault_drop_ticks
    terminal.delayed.count, terminal.delayed.delay_s = args.fault_delay_replies, args.fault_delay_s


def run_paper_sim(args: argparse.Namespace, fixtures, options, calendar) -> int:
    """`sim --prices-from-ea`: the simulated terminal on a real EA's prices; the broker and
    symbols files only fill in what the real symbol_info lacks."""
    from bridge.sim.paper_terminal import PaperTerminal

    if args.speed != 1.0 or args.start:
        print("run.py sim: --prices-from-ea runs on the real clock; drop --speed and --start", file=sys.stderr)
        return 2
    terminal = PaperTerminal(ctl_endpoint=args.ctl, md_endpoint=args.md, prices_ctl=args.prices_ctl,
                             prices_md=args.prices_md, login=args.login, seed=args.seed, fixtures=fixtures,
                             server_options=options, calendar=calendar,
                             on_started=lambda sim: _set_faults(sim, args))
    signal.signal(signal.SIGTERM, lambda *_: terminal.stop())
    try:
        terminal.run_forever()
    except RuntimeError as exc:
        print(f"run.py sim: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from actors.control import ctl
    from actors.app.logs import setup_logging
    from actors.app.replay import ReplayError, replay, replay_ticks

    setup_logging(None, "ERROR")
    strategy = ctl.build_request(argparse.Namespace(ctl_command="start", strategy_id=STRATEGY_FOR_REPLAY,
                                                    definition=args.strategy, account=None))[1]["strategy"]
    run, source = (replay_ticks, args.ticks) if args.ticks is not None else (replay, args.csv)
    try:
        report = run(source, strategy, symbol=args.symbol, tz_offset_s=args.tz_offset_s, balance=args.balance)
    except ReplayError as exc:
        print(f"run.py replay: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        replayed = f"{report['bars']} bars replayed" if args.ticks is None else (
            f"{report['ticks']} ticks replayed over {report['bars']} {strategy['timeframe']} bars "
            f"({report['skipped_ticks']} rows skipped: before both bid and ask were known, or changing neither)")
        print(f"{replayed}; {len(report['open_positions'])} position(s) open at the end\n")
        print(ctl.render_performance(report))
    return 0


STRATEGY_FOR_REPLAY = "replay"


def run_otp_setup(args: argparse.Namespace) -> int:
    from actors.runtime.confirmation import SecretExists, secret_path, write_secret
    from actors.runtime.totp import provisioning_uri

    try:
        secret = write_secret(args.data_dir, force=args.force)
    except SecretExists as exc:
        print(f"run.py otp-setup: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"run.py otp-setup: cannot write the secret: {exc}", file=sys.stderr)
        return 1
    print(f"TOTP secret written to {secret_path(args.data_dir)} (owner-only); restart the executor to use it.")
    print("Add it to your authenticator app (paste the URI or make a QR code of it):")
    print(provisioning_uri(secret, args.account_name))
    print(f"secret: {secret}")
    return 0


def run_ctl(args: argparse.Namespace) -> int:
    from actors.control import ctl
    from actors.control.client import ControlClient, ControlTimeout

    type_, data = ctl.build_request(args)
    with ControlClient(args.control, timeout_s=args.timeout) as client:
        try:
            reply = client.request(type_, data, **({"otp": args.otp} if args.otp else {}))
        except ControlTimeout as exc:
            print(f"run.py ctl: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(reply, indent=2, sort_keys=True))
    elif reply.get("ok"):
        print(ctl.render(type_, reply.get("data") or {}))
    if not reply.get("ok"):
        error = reply.get("error") or {}
        if not args.json:
            details = f" {json.dumps(error.get('details'))}" if error.get("details") else ""
            print(f"run.py ctl: {error.get('code')}: {error.get('message')}{details}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
