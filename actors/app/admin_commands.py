"""`run.py keys`, `run.py secrets` and `run.py audit`: the data dir's keys, sealed secrets and
audit trail from the shell. Each command prints its result, or one line on stderr, and returns
the exit code (0 ok, 1 the files could not be read or changed)."""

from __future__ import annotations

import argparse
import sys


def run_keys(args: argparse.Namespace) -> int:
    from actors.control import keys

    try:
        match args.keys_command:
            case "add":
                print(keys.show_secret(*keys.add_key(args.data_dir, args.role, args.name), "added"))
            case "list":
                print(keys.show_keys(list(keys.load_keys(args.data_dir).values())))
            case "revoke":
                key = keys.revoke_key(args.data_dir, args.key_id)
                print(f"key {key.key_id} revoked; a running executor refuses it from its next request")
            case "rotate":
                print(keys.show_secret(*keys.rotate_key(args.data_dir, args.key_id), "rotated (the old secret "
                                                                                      "no longer works)"))
            case _:
                return run_curve_keys(args)
    except (keys.KeysError, OSError) as exc:
        print(f"run.py keys: {exc}", file=sys.stderr)
        return 1
    return 0


def run_curve_keys(args: argparse.Namespace) -> int:
    from actors.runtime import curve_keys
    from actors.runtime.curve_keys import CurveKeysError, show_made, show_lists

    try:
        match args.keys_command:
            case "curve-client":
                print(show_made(curve_keys.add_client(args.data_dir, args.name, args.out), args.data_dir))
            case "curve-terminal":
                print(show_made(curve_keys.add_terminal(args.data_dir, args.login, args.out), args.data_dir,
                                terminal=True))
            case "curve-list":
                print(show_lists(args.data_dir))
            case "curve-revoke":
                kind = curve_keys.TERMINALS if args.terminal else curve_keys.CLIENTS
                curve_keys.remove_entry(args.data_dir, kind, args.name)
                print(f"{args.name} taken off {curve_keys.allow_list_path(args.data_dir, kind)}; a running executor "
                      "refuses its key from its next connection")
    except (CurveKeysError, OSError) as exc:
        print(f"run.py keys: {exc}", file=sys.stderr)
        return 1
    return 0


def run_secrets(args: argparse.Namespace) -> int:
    from actors.runtime import sealing

    try:
        match args.secrets_command:
            case "new-key":
                key = sealing.new_seal_key()
                if args.keyring:
                    sealing.store_in_keyring(key)
                    print(f"seal key stored in the OS keyring ({sealing.KEYRING_SERVICE}/{sealing.KEYRING_USER}); "
                          f"`run.py secrets seal --data-dir {args.data_dir}` seals the files with it")
                else:
                    print(key)
                    print(f"keep it out of the data dir: set {sealing.ENV_VAR} to it in the service's environment, "
                          f"then `run.py secrets seal --data-dir {args.data_dir}`", file=sys.stderr)
            case "seal" | "unseal":
                changed = sealing.reseal(args.data_dir, sealed=args.secrets_command == "seal")
                print(f"{args.secrets_command}ed {len(changed)} file(s)" + "".join(f"\n  {p}" for p in changed))
            case "check":
                warnings = sealing.secret_file_warnings(args.data_dir)
                print("\n".join(warnings) if warnings else f"secret files in {args.data_dir}: owner-only" +
                      (", sealed" if sealing.seal_key() else " (not sealed: no seal key configured)"))
                return 1 if warnings else 0
    except sealing.SealError as exc:
        print(f"run.py secrets: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"run.py secrets: {exc}", file=sys.stderr)
        return 1
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from actors.journal import audit_check

    try:
        if args.audit_command == "verify":
            report = audit_check.verify(args.data_dir)
            print(report.text())
            return 0 if report.ok else 1
        print(audit_check.show(audit_check.tail(args.data_dir, args.n)))
    except audit_check.AuditReadError as exc:
        print(f"run.py audit: {exc}", file=sys.stderr)
        return 1
    return 0
