"""The relay floor: the least any Python process can take to turn a published tick into orders.

`python -m stress.floor` plays the executor's sockets and nothing else: it BINDS a SUB and a
ROUTER as the executor does (MT5_BRIDGE.md), and for every tick it reads it sends `fanout`
`order_send` requests to the EA's routing id, built and packed with `bridge.protocol` like
the real ones. `measure_floor()` plays the EA (PUB and DEALER connecting, as the terminal
does), publishes one tick per symbol in a row, and times each order's arrival on the same
clock: what a bar costs with no actors, no journal and no risk checks in between. The
executor's figures are printed as multiples of it.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.app.ports import free_endpoint  # noqa: E402
from bridge import protocol  # noqa: E402

LOGIN = 5_000_001
IDLE_EXIT_S = 60.0
MAX_MESSAGES = 20_000  # per measurement: samples shrink when a bar has many orders
WAIT_ORDER_S = 2.0
PAUSE_S = 0.02


def serve(sub_endpoint: str, router_endpoint: str, login: int, fanout: int) -> int:
    """The executor stand-in: tick in, `fanout` orders out, until a `stop` message or idle."""
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.LINGER, 0)
    sub.bind(sub_endpoint)
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(router_endpoint)
    envelope = protocol.Envelope(boot="floor", term=0)
    peer = protocol.routing_id(login)
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    poller.register(router, zmq.POLLIN)
    sent = 0
    try:
        while True:
            ready = dict(poller.poll(int(IDLE_EXIT_S * 1000)))
            if not ready:
                return 1
            if router in ready:
                router.recv_multipart()  # the EA's hello: it is connected, so orders can be routed
                router.send_multipart([peer, protocol.pack(envelope.message(protocol.HELLO_ACK, id="floor"))])
            if sub in ready:
                tick = protocol.unpack(sub.recv_multipart()[1])
                if tick["type"] == "stop":
                    return 0
                for _ in range(fanout):
                    sent += 1
                    request = {"action": 1, "symbol": tick["symbol"], "volume": 0.01, "type": 0,
                               "price": tick["ask"][-1], "magic": sent, "comment": f"floor-{sent}"}
                    order = envelope.message(protocol.ORDER_SEND, id=f"floor-{sent}", request=request)
                    router.send_multipart([peer, protocol.pack(order)])
    finally:
        context.destroy(linger=0)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def measure_floor(symbols: list[str], per_symbol: int, samples: int = 60, timeout_s: float = 20.0) -> dict[str, Any]:
    """Per-order and last-order latency of the floor relay, for `per_symbol` orders on each of
    `symbols` per tick round (what one bar asks of the executor)."""
    per_round = max(1, per_symbol) * len(symbols)
    samples = max(3, min(samples, MAX_MESSAGES // per_round))
    sub_endpoint, router_endpoint = free_endpoint(), free_endpoint()
    proc = subprocess.Popen([sys.executable, "-m", "stress.floor", "--sub", sub_endpoint, "--router", router_endpoint,
                             "--fanout", str(max(1, per_symbol))], cwd=Path(__file__).resolve().parents[1])
    context = zmq.Context.instance()
    pub, dealer = context.socket(zmq.PUB), context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.ROUTING_ID, protocol.routing_id(LOGIN))
    for sock in (pub, dealer):
        sock.setsockopt(zmq.LINGER, 0)
    pub.connect(sub_endpoint)
    dealer.connect(router_endpoint)
    envelope = protocol.Envelope(boot="ea", term=LOGIN)
    per_order: list[float] = []
    last_out: list[float] = []
    try:
        _handshake(pub, dealer, envelope, symbols[0], timeout_s)
        for _ in range(samples):
            published = {}
            for symbol in symbols:
                published[symbol] = time.monotonic_ns()
                _publish(pub, envelope, symbol)
            arrivals = _receive(dealer, per_round)
            per_order.extend((t - published[symbol]) / 1e6 for symbol, t in arrivals)
            if len(arrivals) == per_round:
                last_out.append((max(t for _, t in arrivals) - min(published.values())) / 1e6)
            time.sleep(PAUSE_S)
        pub.send_multipart([b"stop", protocol.pack(envelope.message("stop"))])
    finally:
        pub.close(linger=0)
        dealer.close(linger=0)
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)
    if not per_order:
        return {"error": "the floor relay answered nothing"}
    return {"per_order_p50_ms": _percentile(per_order, 50), "per_order_p99_ms": _percentile(per_order, 99),
            "last_out_p50_ms": _percentile(last_out, 50) if last_out else None, "samples": samples,
            "orders_per_round": per_round, "symbols": len(symbols)}


def _publish(pub: zmq.Socket, envelope: protocol.Envelope, symbol: str) -> None:
    now = protocol.now_ms()
    tick = envelope.message(protocol.TICK, seq_key=symbol, symbol=symbol, time_msc=[now], bid=[1.1], ask=[1.1001],
                            last=[0.0], volume_real=[0.0], flags=[6])
    pub.send_multipart([protocol.tick_topic(symbol), protocol.pack(tick)])


def _handshake(pub: zmq.Socket, dealer: zmq.Socket, envelope: protocol.Envelope, symbol: str, timeout_s: float) -> None:
    """Hello until acknowledged, then ticks until one comes back as an order (SUB's slow join)."""
    deadline = time.monotonic() + timeout_s
    acked = False
    while time.monotonic() < deadline:
        if not acked:
            dealer.send(protocol.pack(envelope.message(protocol.HELLO, id="hello")))
        else:
            _publish(pub, envelope, symbol)
        if dealer.poll(100):
            message = protocol.unpack(dealer.recv())
            if message["type"] == protocol.HELLO_ACK:
                acked = True
            elif message["type"] == protocol.ORDER_SEND:
                while dealer.poll(200):
                    dealer.recv()  # the rest of the warm-up's orders
                return
    raise TimeoutError("the floor relay did not answer within its deadline")


def _receive(dealer: zmq.Socket, count: int) -> list[tuple[str, int]]:
    arrivals = []
    while len(arrivals) < count and dealer.poll(int(WAIT_ORDER_S * 1000)):
        frame = dealer.recv()
        t = time.monotonic_ns()
        arrivals.append((protocol.unpack(frame)["request"]["symbol"], t))
    return arrivals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--sub", required=True)
    parser.add_argument("--router", required=True)
    parser.add_argument("--login", type=int, default=LOGIN)
    parser.add_argument("--fanout", type=int, default=1)
    args = parser.parse_args(argv)
    return serve(args.sub, args.router, args.login, args.fanout)


if __name__ == "__main__":
    sys.exit(main())
