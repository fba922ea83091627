"""TOTP (actors/runtime/totp.py): the RFC 6238 test vectors, 6-digit codes, drift window, replay."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from actors.runtime.totp import (TotpError, decode_secret, generate_secret, hotp, provisioning_uri, time_step, totp,
                         verify)

# RFC 6238 Appendix B: the ASCII seeds for SHA-1, SHA-256 and SHA-512, 8 digits, T0 = 0, X = 30.
SEED1 = b"12345678901234567890"
SEED256 = b"12345678901234567890123456789012"
SEED512 = b"1234567890123456789012345678901234567890123456789012345678901234"
SHA1_VECTORS = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")]
SHA256_VECTORS = [(59, "46119246"), (1111111109, "68084774"), (1111111111, "67062674"),
                  (1234567890, "91819424"), (2000000000, "90698825"), (20000000000, "77737706")]
SHA512_VECTORS = [(59, "90693936"), (1111111109, "25091201"), (1111111111, "99943326"),
                  (1234567890, "93441116"), (2000000000, "38618901"), (20000000000, "47863826")]
SECRET = base64.b32encode(SEED1).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


@pytest.mark.parametrize(("at", "code"), SHA1_VECTORS)
def test_rfc6238_sha1_vectors(at, code):
    assert totp(SEED1, at, digits=8) == code
    assert totp(SECRET, at, digits=8) == code  # the same key as base32 text


@pytest.mark.parametrize(("seed", "algorithm", "vectors"), [(SEED256, "SHA256", SHA256_VECTORS),
                                                           (SEED512, "SHA512", SHA512_VECTORS)])
def test_rfc6238_sha256_and_sha512_vectors(seed, algorithm, vectors):
    for at, code in vectors:
        assert totp(seed, at, digits=8, algorithm=algorithm) == code


@pytest.mark.parametrize(("at", "code"), SHA1_VECTORS)
def test_six_digits_are_the_last_six_of_the_eight(at, code):
    # Both are the same 31-bit number mod 10^d, so the 6-digit code is the 8-digit one's tail.
    assert totp(SEED1, at) == code[-6:]


def test_rfc4226_hotp_vectors():
    # RFC 4226 Appendix D, counters 0..9.
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
    assert [hotp(SEED1, i) for i in range(10)] == expected


def test_time_step():
    assert time_step(59) == 1 and time_step(60) == 2 and time_step(0) == 0 and time_step(29.999) == 0
    assert time_step(1111111109) == 0x023523EC  # RFC 6238's table


def test_leading_zeros_are_kept():
    assert totp(SEED1, 1111111109, digits=8) == "07081804"


def test_verify_accepts_one_step_of_drift_either_way():
    at = 1_234_567_890.0
    now_step = time_step(at)
    assert verify(SECRET, totp(SECRET, at), at) == now_step
    assert verify(SECRET, totp(SECRET, at - 30), at) == now_step - 1
    assert verify(SECRET, totp(SECRET, at + 30), at) == now_step + 1
    assert verify(SECRET, totp(SECRET, at - 60), at) is None
    assert verify(SECRET, totp(SECRET, at + 60), at) is None
    assert verify(SECRET, totp(SECRET, at - 60), at, window=2) == now_step - 2


def test_verify_refuses_a_replayed_code():
    at = 1_234_567_890.0
    code = totp(SECRET, at)
    step = verify(SECRET, code, at)
    assert step is not None
    assert verify(SECRET, code, at + 5, last_step=step) is None  # same code, same step: replay
    assert verify(SECRET, totp(SECRET, at - 30), at, last_step=step) is None  # an older step too
    assert verify(SECRET, totp(SECRET, at + 30), at + 30, last_step=step) == step + 1  # the next one is fine


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12 34 5x", None])
def test_verify_refuses_malformed_codes(bad):
    assert verify(SECRET, bad, 59.0) is None


def test_verify_accepts_spaces_in_the_code():
    code = totp(SECRET, 59)
    assert verify(SECRET, f"{code[:3]} {code[3:]}", 59) == 1


def test_verify_wrong_code():
    right = totp(SECRET, 59)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert verify(SECRET, wrong, 59, window=0) is None


def test_generate_secret():
    secret = generate_secret()
    assert len(decode_secret(secret)) == 20 and "=" not in secret
    assert secret != generate_secret()
    assert verify(secret, totp(secret, 1000.0), 1000.0) == time_step(1000.0)


def test_decode_secret_forgives_case_spaces_and_padding():
    assert decode_secret(SECRET.lower()) == SEED1
    assert decode_secret(" ".join(SECRET[i:i + 4] for i in range(0, len(SECRET), 4))) == SEED1
    assert decode_secret("MZXW6===") == decode_secret("MZXW6") == b"foo"


@pytest.mark.parametrize("bad", ["not base32!", "", "1"])
def test_decode_secret_refuses_garbage(bad):
    with pytest.raises(TotpError, match="otp-setup"):
        decode_secret(bad)


def test_provisioning_uri():
    uri = provisioning_uri(SECRET, "login 12345678")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    assert unquote(parsed.path) == "/MT5 Executor:login 12345678"
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert query == {"secret": SECRET, "issuer": "MT5 Executor", "algorithm": "SHA1", "digits": "6", "period": "30"}
    assert " " not in uri


def test_provisioning_uri_refuses_a_bad_secret():
    with pytest.raises(TotpError):
        provisioning_uri("!!", "me")
