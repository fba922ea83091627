"""Who sent a request, and may their key run it (CONTROL_API.md, "Security").

The wire form is the contract's: a second frame, msgpack `{"key_id": str, "sig": hex}`, where
`sig` is the HMAC-SHA256 of the exact bytes of the first frame (no re-encoding, so any
language's msgpack works), keyed by the 32 bytes of the key's 64 hex characters; and the
request's `ts` within ±30 s of the executor's clock. A key's role says what it may run.

Pure: no sockets, no files (the key lookup is passed in) and no clock (`now_ms` too), so each
refusal is unit-testable. `authorize` returns the key or a `Refusal`; the ControlServer
answers a refusal with UNAUTHORIZED, does not cache it (an unsigned frame must not poison an
id its owner will use) and runs nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

from actors import errors
from actors.control import schema as s
from actors.control.keys import ControlKey

TS_WINDOW_MS = 30_000
MAX_AUTH_FRAME_BYTES = 1024
SIG_HEX_CHARS = 64

# What each role may run; a role may run what the roles before it may. EMERGENCY_STOP is open
# to every valid key: whoever can see trouble must be able to stop it.
VIEWER = frozenset({s.PING, s.STATUS_REQUEST, s.PERFORMANCE_REQUEST})
TRADER = VIEWER | {s.START_STRATEGY, s.STOP_STRATEGY, s.PAUSE_STRATEGY, s.RESUME_STRATEGY, s.UPDATE_STRATEGY,
                   s.OPEN_POSITION, s.CLOSE_POSITION, s.MODIFY_POSITION, s.CLOSE_ALL}
ADMIN = s.COMMANDS
EVERY_KEY = frozenset({s.EMERGENCY_STOP})
ALLOWED = {"viewer": VIEWER | EVERY_KEY, "trader": TRADER | EVERY_KEY, "admin": ADMIN}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is not authorized: `reason` is a stable word, `message` one line for a human."""
    reason: str  # unsigned | bad_auth_frame | unknown_key | bad_signature | revoked | stale_ts | role
    message: str

    def as_error(self) -> dict[str, Any]:
        return errors.error(errors.UNAUTHORIZED, self.message, {"reason": self.reason})


def sign(secret: bytes, frame: bytes) -> str:
    return hmac.new(secret, frame, hashlib.sha256).hexdigest()


def auth_frame(key: ControlKey, frame: bytes) -> bytes:
    """The second frame that signs `frame` with `key` (what a client sends)."""
    return msgpack.packb({"key_id": key.key_id, "sig": sign(key.secret, frame)}, use_bin_type=True)


def authorize(frame: bytes, auth: bytes | None, type_: str, ts: int | None,
              lookup: Callable[[str], ControlKey | None], now_ms: int) -> ControlKey | Refusal:
    """The key that signed `frame` if it may run `type_` now; else the first reason it may not.

    The order matters: nothing about a key (revoked, its role) is said to a sender who has not
    proved they hold it, and `ts` is judged only once it is known to be the signer's."""
    if auth is None:
        return Refusal("unsigned", "unsigned request: send a second frame {key_id, sig}, sig = HMAC-SHA256 of the "
                                   "first frame's bytes (run.py ctl signs with <data dir>/control.key)")
    parsed = _parse_auth(auth)
    if isinstance(parsed, Refusal):
        return parsed
    key_id, sig = parsed
    key = lookup(key_id)
    if key is None:
        return Refusal("unknown_key", f"unknown key id {key_id!r}; `run.py keys list` on the executor host shows "
                                      "the keys")
    if not hmac.compare_digest(sign(key.secret, frame), sig.lower()):
        return Refusal("bad_signature", f"bad signature for key {key_id!r}: sign the exact bytes of the first frame "
                                        "with HMAC-SHA256 keyed by the secret's 32 bytes")
    if key.revoked is not None:
        return Refusal("revoked", f"key {key_id!r} is revoked; use another key (`run.py keys add` makes one)")
    if ts is None:
        return Refusal("stale_ts", "the request has no ts; send ts = your clock in ms since the Unix epoch")
    if abs(now_ms - ts) > TS_WINDOW_MS:
        return Refusal("stale_ts", f"ts is {(ts - now_ms) / 1000:+.1f} s off the executor's clock (allowed "
                                   f"±{TS_WINDOW_MS // 1000} s); sync your clock and resend with a fresh ts")
    if type_ in s.COMMANDS and type_ not in ALLOWED[key.role]:
        return Refusal("role", f"key {key_id!r} ({key.role}) may not run {type_}; that needs a "
                               f"{_roles_for(type_)} key")
    return key


def _parse_auth(auth: bytes) -> tuple[str, str] | Refusal:
    bad = Refusal("bad_auth_frame", 'the second frame must be a msgpack map {"key_id": str, "sig": 64 hex '
                                    "characters} and nothing else")
    if len(auth) > MAX_AUTH_FRAME_BYTES:
        return bad
    try:
        value = msgpack.unpackb(auth, raw=False, max_str_len=MAX_AUTH_FRAME_BYTES, max_bin_len=0,
                                max_array_len=0, max_map_len=4, max_ext_len=0)
    except Exception:  # msgpack raises several unrelated exception types
        return bad
    if not isinstance(value, dict) or set(value) != {"key_id", "sig"}:
        return bad
    key_id, sig = value["key_id"], value["sig"]
    if not (isinstance(key_id, str) and 1 <= len(key_id) <= 64 and isinstance(sig, str)
            and len(sig) == SIG_HEX_CHARS and all(c in "0123456789abcdefABCDEF" for c in sig)):
        return bad
    return key_id, sig


def _roles_for(type_: str) -> str:
    return " or ".join(role for role, allowed in ALLOWED.items() if type_ in allowed)
