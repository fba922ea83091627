"""The executor's command line: `service`, `sim`, `replay`, `ctl` and `otp-setup`.

Thin on purpose: parse, call, map failures to exit codes (0 ok, 1 runtime failure,
2 bad usage) with one line that says what to do.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

DEFAULT_SIM_LOGIN = 5_000_001


def main(argv: list[str] | None = None) -> int:
    from actors import ctl

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
    svc.add_argument("--log-level", default=None, help="stderr log level (default INFO)")

    sim = sub.add_parser("sim", help="run the simulated MT5 terminal as its own process")
    sim.add_argument("--ctl", default="tcp://127.0.0.1:5557", help="the executor's EA request endpoint")
    sim.add_argument("--md", default="tcp://127.0.0.1:5558", help="the executor's EA market-data endpoint")
    sim.add_argument("--login", type=int, default=DEFAULT_SIM_LOGIN)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--speed", type=float, default=1.0)
    sim.add_argument("--symbols", type=Path, help="JSON file describing your broker's symbols")
    sim.add_argument("--account", choices=("demo", "live"), default="demo", help="the account type it reports")
    sim.add_argument("--calendar", type=Path, help="economic calendar JSON it answers (news blackouts)")
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
    try:
        match args.command:
            case "service":
                return run_service(args)
            case "sim":
                return run_sim(args)
            case "ctl":
                return run_ctl(args)
            case "replay":
                return run_replay(args)
            case "otp-setup":
                return run_otp_setup(args)
    except ctl.UsageError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 2


def run_service(args: argparse.Namespace) -> int:
    from actors.config import ConfigError, load_config
    from actors.logs import setup_logging
    from actors.service import Service, ServiceError

    sim_overrides = {k: v for k, v in (("speed", args.sim_speed), ("seed", args.sim_seed),
                                       ("account", args.sim_account), ("calendar_file", args.sim_calendar))
                     if v is not None}
    try:
        base = load_config(args.config)
        sim = None if args.no_sim or base.sim is None else {**_sim_dict(base.sim), **sim_overrides}
        config = load_config(args.config, data_dir=args.data_dir, control_endpoint=args.control,
                             events_endpoint=args.events, ea_ctl_endpoint=args.ea_ctl, ea_md_endpoint=args.ea_md,
                             log_level=args.log_level, sim=sim, no_sim=args.no_sim or None)
    except (ConfigError, TypeError, ValueError) as exc:
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
    from actors.logs import setup_logging
    from bridge.sim_terminal import SimTerminal
    from bridge.sim_calendar import CalendarError, load_calendar
    from bridge.symbols import SymbolConfigError, load_symbols

    setup_logging(None)
    try:
        symbols = load_symbols(args.symbols) if args.symbols else None
        calendar = load_calendar(args.calendar) if args.calendar else None
    except (OSError, SymbolConfigError, CalendarError, ValueError) as exc:
        print(f"run.py sim: {exc}", file=sys.stderr)
        return 2
    if not args.speed > 0:
        print("run.py sim: --speed must be positive", file=sys.stderr)
        return 2
    from actors.config import ACCOUNT_TYPES
    terminal = SimTerminal(ctl_endpoint=args.ctl, md_endpoint=args.md, login=args.login, seed=args.seed,
                           speed=args.speed, symbols=symbols,
                           server_options={"trade_mode": ACCOUNT_TYPES[args.account]}, calendar=calendar)
    terminal.server.faults.requotes = args.fault_requotes
    terminal.server.faults.rejects = args.fault_rejects
    terminal.server.faults.timeout_after_fill = args.fault_timeout_after_fill
    terminal.server.faults.rate_limit_per_s = args.fault_rate_limit
    terminal.drop_replies, terminal.drop_tick_batches = args.fault_drop_replies, args.fault_drop_ticks
    signal.signal(signal.SIGTERM, lambda *_: terminal.stop())
    terminal.run_forever()
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from actors import ctl
    from actors.logs import setup_logging
    from actors.replay import ReplayError, replay, replay_ticks

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
    from actors.confirmation import SecretExists, secret_path, write_secret
    from actors.totp import provisioning_uri

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
    from actors import ctl
    from actors.control_client import ControlClient, ControlTimeout

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
