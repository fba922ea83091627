"""Time-based one-time passwords, RFC 6238 (pure, standard library only).

HOTP (RFC 4226) over the time step T = floor((now − T0) / 30): HMAC-SHA-1 by default, six
digits, and one step of clock drift either way. A code is good once: `verify` returns the
step it matched and refuses any step at or before the `last_step` the caller stored from the
previous success, so a code overheard on the wire cannot be replayed inside its 90 s.
Secrets are base32 (what authenticator apps expect), shown through an otpauth:// URI.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

STEP_S = 30
DIGITS = 6
WINDOW = 1  # steps of drift accepted either side
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation for SHA-1
ISSUER = "MT5 Executor"
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


class TotpError(ValueError):
    """A secret or code that cannot be used; the message says how to fix it."""


def generate_secret(nbytes: int = SECRET_BYTES) -> str:
    """A random base32 secret without padding, e.g. for `run.py otp-setup`."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").rstrip("=")


def decode_secret(secret: str) -> bytes:
    """The key bytes of a base32 secret; case, spaces and missing padding are forgiven."""
    cleaned = secret.replace(" ", "").replace("-", "").upper()
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise TotpError("the TOTP secret is not valid base32; run `python run.py otp-setup` for a new one") from None
    if not key:
        raise TotpError("the TOTP secret is empty; run `python run.py otp-setup`")
    return key


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    """RFC 4226: dynamic truncation of HMAC(key, counter), zero-padded to `digits`."""
    mac = hmac.new(key, struct.pack(">Q", counter), DIGESTS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10 ** digits).zfill(digits)


def time_step(at: float, *, step_s: int = STEP_S, t0: int = 0) -> int:
    return int((at - t0) // step_s)


def totp(secret: str | bytes, at: float | None = None, *, digits: int = DIGITS, step_s: int = STEP_S,
         algorithm: str = "SHA1") -> str:
    """The code at Unix time `at` (default now); `secret` as base32 text or raw key bytes."""
    key = secret if isinstance(secret, bytes) else decode_secret(secret)
    return hotp(key, time_step(time.time() if at is None else at, step_s=step_s), digits=digits,
                algorithm=algorithm)


def verify(secret: str | bytes, code: str, at: float | None = None, *, last_step: int | None = None,
           window: int = WINDOW, digits: int = DIGITS, step_s: int = STEP_S, algorithm: str = "SHA1") -> int | None:
    """The time step `code` matches within ±`window` steps of `at`, or None.

    Replay protection: steps <= `last_step` (the value returned by the last success, which
    the caller keeps, e.g. in the journal) never match. Comparison is constant-time.
    """
    code = str(code).strip().replace(" ", "")
    if len(code) != digits or not code.isdigit():
        return None
    key = secret if isinstance(secret, bytes) else decode_secret(secret)
    now = time_step(time.time() if at is None else at, step_s=step_s)
    matched = None
    for step in range(now - window, now + window + 1):
        # Every candidate is computed and compared, so timing does not tell which one matched.
        if hmac.compare_digest(hotp(key, step, digits=digits, algorithm=algorithm), code) and matched is None:
            matched = step
    if matched is None or (last_step is not None and matched <= last_step):
        return None
    return matched


def provisioning_uri(secret: str, account: str, *, issuer: str = ISSUER, digits: int = DIGITS,
                     step_s: int = STEP_S, algorithm: str = "SHA1") -> str:
    """The otpauth:// URI an authenticator app imports (as text or a QR code)."""
    decode_secret(secret)  # refuse a secret no app could use
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode({"secret": secret.replace(" ", "").upper().rstrip("="), "issuer": issuer,
                       "algorithm": algorithm, "digits": digits, "period": step_s}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"
