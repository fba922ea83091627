"""Operator confirmation by TOTP (RFC 6238) for risk-increasing commands on live accounts.

This module owns the secret file (`<data dir>/otp.secret`, written by `run.py otp-setup`,
owner-only and sealed when a seal key is configured: actors/runtime/sealing.py)
and `OtpVerifier`, the one object that decides whether a request's `otp` is good. It is
shared by the ControlServer (commands confirmed before routing) and every RiskGuard
(limit loosening, which only the guard can recognise), so it guards its state with a
lock. A code is good once: the time step of the last success is kept here, written to the
journal through `persist`, and restored at start, so a code seen on the wire cannot be
replayed, not even across a restart.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from actors.runtime import totp
from actors.runtime.sealing import SealError, read_secret_text, write_secret_text

SECRET_FILE = "otp.secret"
SETUP_HINT = "run `python run.py otp-setup` on the executor host, then restart the executor"


class ConfirmationRequired(Exception):
    """The command needs a valid TOTP code; the message says why and how to get one."""


class SecretExists(FileExistsError):
    """otp-setup would overwrite a secret that authenticator apps already hold."""


def secret_path(data_dir: Path) -> Path:
    return Path(data_dir) / SECRET_FILE


def write_secret(data_dir: Path, *, force: bool = False) -> str:
    """Create a new secret, readable by the owner only. Refuses to replace one unless
    `force`: a silent overwrite would lock out the operator's authenticator app."""
    path = secret_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not force:
        raise SecretExists(f"{path} already exists; pass --force to replace it (the old codes stop working)")
    secret = totp.generate_secret()
    # Owner-only from its first byte, and sealed when a seal key is configured.
    write_secret_text(path, secret + "\n")
    return secret


def setup_secret(data_dir: Path, *, account_name: str, force: bool = False) -> str:
    """`run.py otp-setup`: write a new secret (as `write_secret`) and say, for the operator,
    where it is and how to add it to an authenticator app."""
    secret = write_secret(data_dir, force=force)
    return "\n".join([
        f"TOTP secret written to {secret_path(data_dir)} (owner-only); restart the executor to use it.",
        "Add it to your authenticator app (paste the URI or make a QR code of it):",
        totp.provisioning_uri(secret, account_name),
        f"secret: {secret}"])


def read_secret(data_dir: Path) -> str | None:
    """The configured secret, or None (with the reason logged) when there is none usable."""
    path = secret_path(data_dir)
    try:
        secret = read_secret_text(path).strip()
        totp.decode_secret(secret)
    except FileNotFoundError:
        return None
    except (OSError, totp.TotpError, SealError) as exc:  # their text names the file, never the secret
        logger.error("TOTP secret {} is unusable ({}); live accounts refuse confirmed commands", path, exc)
        return None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        logger.warning("TOTP secret {} is readable by other users; chmod 600 it", path)
    return secret


class OtpVerifier:
    def __init__(self, secret: str | None, *, persist: Callable[[int], object] = lambda step: None,
                 clock: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.persist = persist
        self.clock = clock  # tests move it forward a step per code instead of sleeping 30 s
        self.last_step: int | None = None
        self._lock = threading.Lock()

    def restore(self, last_step: int | None) -> None:
        with self._lock:
            if last_step is not None and (self.last_step is None or last_step > self.last_step):
                self.last_step = last_step

    def confirm(self, code: str | None, what: str) -> None:
        """Accept `code` for `what` (a phrase naming the command and account) or raise
        ConfirmationRequired. A success uses the code up."""
        if self.secret is None:
            raise ConfirmationRequired(f"{what} needs a TOTP code, but no TOTP secret is set up; {SETUP_HINT}")
        if not code:
            raise ConfirmationRequired(f"{what} needs a TOTP code: resend with a new id and `otp` set to the "
                                       "6-digit code of your authenticator app (set up by `run.py otp-setup`)")
        with self._lock:  # check and use up in one step, so two requests cannot share a code
            step = totp.verify(self.secret, code, self.clock(), last_step=self.last_step)
            if step is None:
                raise ConfirmationRequired(f"{what}: the TOTP code is wrong, expired or already used; "
                                           "resend with a new id and the next code of your authenticator app")
            self.last_step = step
        self.persist(step)
