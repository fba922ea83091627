"""The EA's CURVE keys (a text check: MQL5 is not compiled here). The EA takes the three keys
`run.py keys curve-terminal` prints as inputs and sets ZMQ_CURVE_SERVERKEY/PUBLICKEY/SECRETKEY
on both sockets before it connects, with 40-byte Z85 values: exactly what bridge.curve.
ClientKeys.apply does for the simulated terminal, which tests/test_curve_e2e.py runs against
a CURVE executor over real sockets."""

from __future__ import annotations

import re
from pathlib import Path

import zmq

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ROOT / "mql5" / "Include" / "ExecutorBridge"
EXPERT = ROOT / "mql5" / "Experts" / "ExecutorBridge.mq5"


def test_the_curve_option_numbers_are_libzmqs():
    defines = dict(re.findall(r"^#define (ZMQ_CURVE_\w+)\s+(\d+)", (INCLUDE / "ZmqImport.mqh").read_text(), re.M))
    assert {name: int(value) for name, value in defines.items()} == {
        "ZMQ_CURVE_PUBLICKEY": zmq.CURVE_PUBLICKEY, "ZMQ_CURVE_SECRETKEY": zmq.CURVE_SECRETKEY,
        "ZMQ_CURVE_SERVERKEY": zmq.CURVE_SERVERKEY}


def test_the_ea_takes_its_keys_as_inputs_and_passes_them_on():
    expert = EXPERT.read_text()
    for name in ("InpServerKey", "InpPublicKey", "InpSecretKey"):
        assert re.search(rf"^input string {name}\s*=\s*\"\";", expert, re.M), name
    assert "g_session.Start(InpCtlEndpoint, InpMdEndpoint, InpServerKey, InpPublicKey, InpSecretKey)" in expert
    assert "m_link.SetCurve(server_key, public_key, secret_key)" in (INCLUDE / "Session.mqh").read_text()


def test_both_sockets_get_the_three_keys_before_they_connect():
    link = (INCLUDE / "Link.mqh").read_text()
    setter = link.split("bool SetCurveKeys(const long socket)", 1)[1].split("}", 1)[0]
    for option, field in (("ZMQ_CURVE_SERVERKEY", "m_server_key"), ("ZMQ_CURVE_PUBLICKEY", "m_public_key"),
                          ("ZMQ_CURVE_SECRETKEY", "m_secret_key")):
        assert f"SetBytes(socket, {option}, {field})" in setter
    opening = link.split("bool Open(", 1)[1].split("\n     }\n", 1)[0]
    curve = opening.index("SetCurveKeys(m_ctl) && SetCurveKeys(m_md)")
    assert curve < opening.index("zmq_connect(m_ctl") and curve < opening.index("zmq_connect(m_md")


def test_the_secret_key_is_never_printed():
    for path in [*INCLUDE.glob("*.mqh"), EXPERT]:
        for line in path.read_text().splitlines():
            if "Print(" in line:
                assert "secret" not in line.lower(), f"{path.name}: {line.strip()}"
