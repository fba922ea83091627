"""The executor's command line: `service`, `sim`, `replay`, `ctl`, `keys`, `otp-setup`, `backup`,
`restore`, `doctor`, `config`, `secrets` and `audit`.

Thin on purpose: parse, call, map failures to exit codes (0 ok, 1 runtime failure,
2 bad usage) with one line that says what to do. The options are defined here, in one
place, because they are what a user reads (`--help`); what they mean lives in the packages:
the service's configuration and its precedence in `actors.app.config`, the simulated
terminal (`sim` and its faults) in `bridge.sim.options`, replay in `actors.app.replay`,
the `ctl` commands in `actors.control.ctl`, the `keys`, `secrets` and `audit` commands in
`actors.app.admin_commands`, the TOTP secret in `actors.runtime.confirmation`,
journal backups in `actors.journal.backup`, the readiness checks in `actors.app.doctor`, the
config file and its example in `actors.app.config_file` and `config_example`. Every option
that names an endpoint is checked at parse time (`actors.app.endpoints`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path


class OneLineParser(argparse.ArgumentParser):
    """Bad usage is one line naming the mistake and where help is, not the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


SERVER_TZ_HELP = ("the server's time zone: seconds east of UTC, UTC+2, an IANA "
                  "name (Europe/Athens) or NY+7 (New York close: UTC+2, UTC+3 in US daylight time)")


def build_parser() -> argparse.ArgumentParser:
    from actors.app.endpoints import endpoint_arg as endpoint
    from actors.control import ctl

    parser = OneLineParser(prog="run.py", description="MetaTrader 5 strategy executor")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    svc = sub.add_parser("service", help="run the executor (with an embedded simulated MT5 terminal by default)")
    svc.add_argument("--data-dir", type=Path, help="journal, logs and keys (default ./data)")
    svc.add_argument("--config", type=Path, help="JSON file of settings (command-line options win)")
    svc.add_argument("--control", type=endpoint, help="control endpoint (default tcp://127.0.0.1:5555)")
    svc.add_argument("--events", type=endpoint, help="events endpoint (default tcp://127.0.0.1:5556)")
    svc.add_argument("--ea-ctl", type=endpoint, help="where EAs connect for requests (default tcp://127.0.0.1:5557)")
    svc.add_argument("--ea-md", type=endpoint, help="where EAs publish market data (default tcp://127.0.0.1:5558)")
    svc.add_argument("--sim-speed", type=float, help="simulated clock speed-up (1 = real time, 60 = a minute a second)")
    svc.add_argument("--sim-seed", type=int, help="seed of the simulated prices")
    svc.add_argument("--no-sim", action="store_true", help="no embedded simulator: wait for a real EA")
    svc.add_argument("--sim-account", choices=("demo", "live"), help="the simulated account's type (default demo)")
    svc.add_argument("--sim-calendar", help="economic calendar JSON the simulated terminal answers (news blackouts)")
    svc.add_argument("--sim-broker", metavar="FILE", help='broker JSON {"account": {...}, "symbols": {...}} to simulate')
    svc.add_argument("--sim-start", metavar="WHEN", help="simulated market start, ISO 8601 UTC or epoch ms (default now)")
    svc.add_argument("--sim-server-tz", metavar="ZONE", help=f"{SERVER_TZ_HELP} (default: the broker file's, else UTC+2)")
    svc.add_argument("--sim-always-open", action="store_true", default=None,
                     help="quote and trade round the clock, ignoring the symbols' sessions and the weekend")
    svc.add_argument("--paper-prices", action="store_true", default=None,
                     help="paper trading: the simulated terminal quotes a real EA's ticks (the EA connects to "
                          "--prices-ctl/--prices-md instead of --ea-ctl/--ea-md); orders stay simulated")
    svc.add_argument("--prices-ctl", type=endpoint, help="with --paper-prices: the real EA's request endpoint (default tcp://127.0.0.1:5567)")
    svc.add_argument("--prices-md", type=endpoint, help="with --paper-prices: the real EA's market-data endpoint (default tcp://127.0.0.1:5568)")
    svc.add_argument("--log-level", default=None, help="stderr log level (default INFO)")
    svc.add_argument("--no-auth", dest="control_auth", action="store_false", default=None,
                     help="accept unsigned control requests (loopback binds only; logged as a warning)")
    svc.add_argument("--curve", action="store_true", default=None, help="CURVE on the control and events sockets: "
                     "encrypted, allow-listed client keys only (`keys curve-client`); required off loopback")
    svc.add_argument("--ea-curve", action="store_true", default=None, help="CURVE on the EA sockets: allow-listed "
                     "terminal keys only (`keys curve-terminal`); required off loopback")
    svc.add_argument("--sim-reset", action="store_true", help="start the simulated terminal's paper account afresh "
                     "(it is kept in the data dir and continued otherwise; the old state is kept aside)")

    sim = sub.add_parser("sim", help="run the simulated MT5 terminal as its own process")
    sim.add_argument("--ctl", type=endpoint, default="tcp://127.0.0.1:5557", help="the executor's EA request endpoint")
    sim.add_argument("--md", type=endpoint, default="tcp://127.0.0.1:5558", help="the executor's EA market-data endpoint")
    sim.add_argument("--login", type=int, help="the account number it reports (default 5000001)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--speed", type=float, default=1.0)
    sim.add_argument("--broker", type=Path, help='broker JSON {"account": {...}, "symbols": {...}} to simulate')
    sim.add_argument("--symbols", type=Path, help="JSON file describing your broker's symbols (over --broker's)")
    sim.add_argument("--account", choices=("demo", "live"), help="the account type it reports (default: the broker file's, else demo)")
    sim.add_argument("--balance", type=float, help="starting balance (default: the broker file's, else 10000)")
    sim.add_argument("--leverage", type=int, help="account leverage (default: the broker file's, else 100)")
    sim.add_argument("--tz-offset-s", type=int, help="server time minus UTC in seconds (default: the broker file's, else 7200)")
    sim.add_argument("--server-tz", metavar="ZONE", help=f"{SERVER_TZ_HELP} (default: the broker file's, else UTC+2); "
                     "instead of --tz-offset-s")
    sim.add_argument("--start", metavar="WHEN", help="simulated market start, ISO 8601 UTC or epoch ms (default now)")
    sim.add_argument("--always-open", action="store_true", help="quote and trade round the clock, ignoring sessions")
    sim.add_argument("--calendar", type=Path, help="economic calendar JSON it answers (news blackouts)")
    sim.add_argument("--state", type=Path, metavar="FILE", help="keep the paper account in FILE and continue "
                     "it at the next start (money, positions, orders, history, tickets, clock)")
    sim.add_argument("--reset", action="store_true", help="with --state: start a fresh account (the old file kept aside)")
    sim.add_argument("--stepped", type=Path, metavar="PLAN", help="stress harness mode (stress/): server time moves "
                     "a step at a time on the harness's command; ticks and orders are time-stamped")
    sim.add_argument("--server-key", metavar="KEY|FILE", help="the executor's CURVE public key (its data dir's "
                     "curve/server.key) when it runs with --ea-curve; needs --client-key")
    sim.add_argument("--client-key", metavar="FILE", help="this terminal's CURVE keys (the .key_secret file "
                     "`run.py keys curve-terminal LOGIN` wrote)")
    paper = sim.add_argument_group("paper trading on real prices")
    paper.add_argument("--prices-from-ea", action="store_true",
                       help="quote a real EA's ticks, symbols and history, in real time; orders stay simulated")
    paper.add_argument("--prices-ctl", type=endpoint, help="where the real EA connects for requests (default tcp://127.0.0.1:5567)")
    paper.add_argument("--prices-md", type=endpoint, help="where the real EA publishes its ticks (default tcp://127.0.0.1:5568)")
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
    rep.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the price with entries and exits, and the "
                     "equity curve, into a PNG")

    otp = sub.add_parser("otp-setup", help="create the TOTP secret that confirms risky commands on live accounts")
    otp.add_argument("--data-dir", type=Path, default=Path("data"), help="the service's data dir (default ./data)")
    otp.add_argument("--account-name", default="executor", help="the label your authenticator app shows")
    otp.add_argument("--force", action="store_true", help="replace an existing secret (its codes stop working)")

    backup = sub.add_parser("backup", help="back the journal up now (also while the service runs)")
    backup.add_argument("--data-dir", type=Path, default=Path("data"), help="the service's data dir (default ./data)")
    backup.add_argument("--to", type=Path, help="the folder to put the backup in (default <data dir>/backups)")
    restore = sub.add_parser("restore", help="put a journal backup in place (the service must be stopped)")
    restore.add_argument("backup", type=Path, metavar="FILE", help="a backup folder, or the journal.sqlite3 in it")
    restore.add_argument("--data-dir", type=Path, default=Path("data"), help="the service's data dir (default ./data)")

    keys = sub.add_parser("keys", help="control keys: who may send commands, and with which role")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="make a key and print its secret, once")
    add.add_argument("--role", required=True, choices=("viewer", "trader", "admin"),
                     help="viewer: status, performance, ping; trader: also trading and strategies; admin: everything")
    add.add_argument("--name", default="", help="a label for the list (who or what uses the key)")
    actions.add_parser("list", help="every key's id, role, created and revoked (never a secret)")
    actions.add_parser("revoke", help="refuse a key from now on").add_argument("key_id")
    actions.add_parser("rotate", help="a new secret for a key (printed once); the old one stops working").add_argument(
        "key_id")
    curve = actions.add_parser("curve-client", help="CURVE keys for a remote control client, allow-listed on the "
                               "control and events sockets (the secret goes to that client only)")
    curve.add_argument("name", help="who or what uses it (letters, digits, . _ -)")
    curve.add_argument("--out", type=Path, help="write its key files here (default <data dir>/curve/clients)")
    curve = actions.add_parser("curve-terminal", help="CURVE keys for the EA of one account, allow-listed on the EA "
                               "sockets for that login only; prints the EA's three key inputs")
    curve.add_argument("login", type=int)
    curve.add_argument("--out", type=Path, help="write its key files here (default <data dir>/curve/terminals)")
    actions.add_parser("curve-list", help="the executor's CURVE public key and the allow-listed keys")
    curve = actions.add_parser("curve-revoke", help="take a CURVE client (or --terminal LOGIN) off its allow-list")
    curve.add_argument("name")
    curve.add_argument("--terminal", action="store_true", help="NAME is a terminal's login")
    for action in actions.choices.values():
        action.add_argument("--data-dir", type=Path, default=Path("data"), help="the executor's data dir (default ./data)")

    secrets = sub.add_parser("secrets", help="the data dir's secret files: seal them at rest, check them")
    secret_actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    secret_actions.add_parser("seal", help="seal every secret file (AES-256-GCM) with $EXECUTOR_SEAL_KEY or the OS "
                              "keyring's key")
    secret_actions.add_parser("unseal", help="write every sealed secret file back as plain text (owner-only)")
    secret_actions.add_parser("check", help="secret files readable by others, or not sealed though a key is set")
    new_key = secret_actions.add_parser("new-key", help="make a seal key: print it, or keep it in the OS keyring")
    new_key.add_argument("--keyring", action="store_true", help="store it in the OS keyring instead of printing it")
    for action in secret_actions.choices.values():
        action.add_argument("--data-dir", type=Path, default=Path("data"), help="the executor's data dir (default ./data)")

    audit = sub.add_parser("audit", help="the audit trail of control commands: verify its hash chain, show the newest")
    audit_actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_actions.add_parser("verify", help="find edited, deleted or reordered rows (exit 1 when there are)")
    audit_actions.add_parser("tail", help="the newest rows").add_argument("-n", type=int, default=20,
                                                                        help="how many (default 20)")
    for action in audit_actions.choices.values():
        action.add_argument("--data-dir", type=Path, default=Path("data"), help="the service's data dir (default ./data)")

    doc = sub.add_parser("doctor", help="is this executor ready for production? checks it, scores it, says what to do")
    doc.add_argument("--data-dir", type=Path, help="the service's data dir (default: the config's, else ./data)")
    doc.add_argument("--config", type=Path, help="the service's config file (TOML or JSON)")

    cfg = sub.add_parser("config", help="the service's configuration file: an example, or check one")
    what = cfg.add_mutually_exclusive_group(required=True)
    what.add_argument("--example", action="store_true", help="print a commented example of every setting (TOML)")
    what.add_argument("--check", type=Path, metavar="FILE", help="check a config file without starting anything")

    ctl.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from actors.app import admin_commands
    from actors.control import ctl

    args = build_parser().parse_args(argv)
    commands = {"service": run_service, "sim": run_sim, "ctl": run_ctl, "replay": run_replay,
                "otp-setup": run_otp_setup, "keys": admin_commands.run_keys, "backup": run_backup,
                "restore": run_restore, "doctor": run_doctor, "config": run_config,
                "secrets": admin_commands.run_secrets, "audit": admin_commands.run_audit}
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
    from actors.app.config import service_config
    from actors.app.endpoints import busy
    from actors.app.data_dir_lock import DataDirBusy
    from actors.app.logs import setup_logging
    from actors.app.service import Service, ServiceError

    try:
        config = service_config(args)
    except (OSError, TypeError, ValueError) as exc:  # ConfigError, or a value of the wrong type
        print(f"run.py service: {exc}", file=sys.stderr)
        return 2
    service = Service(config, sim_reset=args.sim_reset)
    try:
        service.lock.acquire()  # before the log file: a second service must not write in it
    except DataDirBusy as exc:
        print(f"run.py service: {exc}", file=sys.stderr)
        return 2
    if clash := busy({"--control": config.control_endpoint, "--events": config.events_endpoint,
                      "--ea-ctl": config.ea_ctl_endpoint, "--ea-md": config.ea_md_endpoint}):
        print(f"run.py service: cannot start: {clash}", file=sys.stderr)
        return 1
    setup_logging(config.data_dir, config.log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        service.start()
    except ServiceError as exc:
        print(f"run.py service: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        return service.wait(stop)
    finally:
        service.stop()


def run_sim(args: argparse.Namespace) -> int:
    from actors.app.logs import setup_logging
    from bridge.sim.options import InjectedFaults, SimOptionsError, build_terminal

    setup_logging(None)
    faults = InjectedFaults(requotes=args.fault_requotes, rejects=args.fault_rejects,
                            timeout_after_fill=args.fault_timeout_after_fill, rate_limit_per_s=args.fault_rate_limit,
                            drop_replies=args.fault_drop_replies, drop_ticks=args.fault_drop_ticks,
                            delay_replies=args.fault_delay_replies, delay_s=args.fault_delay_s)
    try:
        terminal = build_terminal(
            ctl_endpoint=args.ctl, md_endpoint=args.md, login=args.login, seed=args.seed, speed=args.speed,
            broker_file=args.broker, symbols_file=args.symbols, account=args.account, balance=args.balance,
            leverage=args.leverage, tz_offset_s=args.tz_offset_s, server_tz=args.server_tz, start=args.start,
            always_open=args.always_open,
            calendar_file=args.calendar, prices_from_ea=args.prices_from_ea, prices_ctl=args.prices_ctl,
            prices_md=args.prices_md, faults=faults, state_file=args.state, reset_state=args.reset,
            reset_hint="--reset", curve=_sim_curve(args))
    except SimOptionsError as exc:
        print(f"run.py sim: {exc}", file=sys.stderr)
        return 2
    if args.stepped is not None:  # the stress harness drives time and reads the stamps
        from bridge.sim.stepped import run_stepped
        return run_stepped(terminal, args.stepped)
    signal.signal(signal.SIGTERM, lambda *_: terminal.stop())
    try:
        terminal.run_forever()
    except RuntimeError as exc:  # a paper terminal's price endpoints are taken
        print(f"run.py sim: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _sim_curve(args: argparse.Namespace):
    """`run.py sim --server-key --client-key`: connect as a CURVE client, as an EA with keys does."""
    from bridge.curve import CurveKeyError, client_keys
    from bridge.sim.options import SimOptionsError

    if not (args.server_key or args.client_key):
        return None
    if not (args.server_key and args.client_key):
        raise SimOptionsError("--server-key and --client-key go together (`run.py keys curve-terminal LOGIN` "
                              "writes the client's file; the server's is <data dir>/curve/server.key)")
    try:
        return client_keys(args.server_key, args.client_key)
    except CurveKeyError as exc:
        raise SimOptionsError(str(exc)) from None


def run_replay(args: argparse.Namespace) -> int:
    import json

    from actors.app.logs import setup_logging
    from actors.app.replay import ReplayError, replay_file
    from actors.control import ctl

    setup_logging(None, "ERROR")
    try:
        report, shown = replay_file(args.strategy, csv_path=args.csv, ticks_path=args.ticks, symbol=args.symbol,
                                    tz_offset_s=args.tz_offset_s, balance=args.balance, plot=args.plot)
    except ReplayError as exc:
        print(f"run.py replay: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        ctl.show(shown)
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from actors.app import doctor

    return doctor.run(args.data_dir, args.config)


def run_config(args: argparse.Namespace) -> int:
    from actors.app.config import ConfigError, load_config
    from actors.app.config_example import EXAMPLE

    if args.example:
        print(EXAMPLE, end="")
        return 0
    try:
        load_config(args.check)
    except ConfigError as exc:
        print(f"run.py config: {exc}", file=sys.stderr)
        return 2
    print(f"{args.check}: valid")
    return 0


def run_otp_setup(args: argparse.Namespace) -> int:
    from actors.runtime.confirmation import SecretExists, setup_secret

    try:
        print(setup_secret(args.data_dir, account_name=args.account_name, force=args.force))
    except SecretExists as exc:
        print(f"run.py otp-setup: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"run.py otp-setup: cannot write the secret: {exc}", file=sys.stderr)
        return 1
    return 0


def run_backup(args: argparse.Namespace) -> int:
    from actors.journal.backup import BACKUPS, BackupError, back_up

    try:
        print(back_up(args.data_dir, args.to or args.data_dir / BACKUPS, "manual"))
    except BackupError as exc:
        print(f"run.py backup: {exc}", file=sys.stderr)
        return 1
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from actors.app.data_dir_lock import DataDirBusy, DataDirLock
    from actors.journal.backup import BackupError, restore

    try:
        with DataDirLock(args.data_dir):  # held throughout: no service starts on a half-restored journal
            done = restore(args.backup, args.data_dir)
    except DataDirBusy as exc:
        print(f"run.py restore: refused, the service is running: {exc}", file=sys.stderr)
        return 2
    except BackupError as exc:
        print(f"run.py restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {done.journal} from {done.backup}")
    if done.replaced is not None:
        print(f"the journal it replaced is kept at {done.replaced}")
    print("the next start reconciles against the terminal: positions, orders and deals since the backup "
          "are read from it")
    return 0


def run_ctl(args: argparse.Namespace) -> int:
    from actors.control import ctl
    from actors.control.client import ControlClient, ControlTimeout
    from actors.control.keys import KeyNotFound, KeysError, client_key
    from actors.runtime.curve_keys import CurveKeysError, client_keys_for

    if args.ctl_command == "logs":  # the data dir's log file: no executor needed
        return ctl.run_logs(args)
    try:
        key, missing = client_key(args.data_dir, args.key_file), None
    except KeyNotFound as exc:
        key, missing = None, str(exc)  # sent unsigned: an executor with auth off still answers
    except KeysError as exc:
        raise ctl.UsageError(str(exc)) from None
    try:
        args.curve = curve = client_keys_for(args.data_dir, args.server_key, args.client_key)
    except CurveKeysError as exc:
        raise ctl.UsageError(str(exc)) from None
    if args.ctl_command in ctl.LOCAL_COMMANDS:  # watch, top: a stream, not one reply
        return ctl.run_live(args, lambda timeout_s: ControlClient(args.control, timeout_s=timeout_s, key=key,
                                                                  curve=curve))
    type_, data = ctl.build_request(args)
    with ControlClient(args.control, timeout_s=ctl.timeout_s(args, type_), key=key, curve=curve) as client:
        try:
            before = ctl.before(args, client)
            reply = client.request(type_, data, **({"otp": args.otp} if args.otp else {}))
        except ControlTimeout:
            print(f"run.py ctl: {ctl.no_reply(args, client.timeout_s)}", file=sys.stderr)
            return 1
    if missing and ((reply.get("error") or {}).get("details") or {}).get("reason") == "unsigned":
        print(f"run.py ctl: {missing}", file=sys.stderr)
        return 1
    out, err = ctl.output(type_, reply, as_json=args.json, args=args, before=before)
    if out is not None:
        ctl.show(out)
    if err is not None:
        print(err, file=sys.stderr)
    return 0 if reply.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
