"""Remote control and the EA link under CURVE, over real sockets on loopback: one test per
refusal (a non-loopback bind without CURVE, a client key not on the allow-list, an address
outside the allowed ranges, a terminal key not on the EA allow-list, a terminal whose login
is not its routing id's or its key's), and the way in for those allowed: ctl with its keys,
the embedded and the separate simulated terminal as CURVE clients.

Non-loopback addresses are only ever checked, never bound: the refusal comes before a socket.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

import run
from actors.app.config import service_config
from actors.control.client import ControlClient, ControlTimeout
from actors.runtime import curve_keys
from bridge import protocol
from bridge.curve import ClientKeys, new_keypair
from bridge.sim.config import parse_start
from bridge.sim.terminal import SimTerminal
from conftest import SIM_START, wait_for

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parent.parent


def log_lines(executor, text: str) -> list[str]:
    path = executor.config.data_dir.parent / "logs" / "executor.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["record"]["message"] for line in path.read_text().splitlines()
            if text in line]


def local_keys(data_dir: Path) -> ClientKeys:
    return ClientKeys(curve_keys.server_public(data_dir), *curve_keys.local_client_pair(data_dir))


def handshake(endpoint: str, curve: ClientKeys | None, kind: int = zmq.DEALER, timeout_s: float = 10.0) -> str:
    """How a socket's handshake with `endpoint` ends: succeeded, auth-refused or protocol-refused."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        curve.apply(sock)
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                      | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    try:
        sock.connect(endpoint)
        if not monitor.poll(int(timeout_s * 1000)):
            return "no outcome"
        event = recv_monitor_message(monitor)["event"]
        return {zmq.EVENT_HANDSHAKE_SUCCEEDED: "succeeded", zmq.EVENT_HANDSHAKE_FAILED_AUTH: "auth-refused"}.get(
            event, "protocol-refused")
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)


# ------------------------------------------------------------ binds off loopback ---
@pytest.mark.parametrize("option", ["--control", "--events", "--ea-ctl", "--ea-md"])
def test_a_non_loopback_bind_without_curve_is_bad_usage(tmp_path, capsys, option):
    code = run.main(["service", "--data-dir", str(tmp_path / "d"), option, "tcp://0.0.0.0:5599"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "reachable from other hosts" in err and "bind 127.0.0.1" in err
    assert ("curve-client" in err) if option in ("--control", "--events") else ("curve-terminal" in err)


def test_with_curve_on_a_non_loopback_bind_is_allowed(tmp_path):
    options = run.build_parser().parse_args(["service", "--data-dir", str(tmp_path), "--control", "tcp://0.0.0.0:5599",
                                             "--curve", "--ea-ctl", "tcp://0.0.0.0:5597", "--ea-curve"])
    config = service_config(options)  # the check only: nothing is bound here
    assert config.curve and config.ea_curve


# ------------------------------------------------------------- control and events ---
def test_only_allow_listed_client_keys_reach_the_control_and_events_sockets(executor_factory):
    executor = executor_factory(curve=True)
    data_dir, config = executor.config.data_dir, executor.config
    started = time.monotonic()
    with ControlClient(config.control_endpoint, timeout_s=10, data_dir=data_dir, curve=local_keys(data_dir)) as client:
        assert client.request("PING")["ok"]
    print(f"first signed request over CURVE answered in {time.monotonic() - started:.3f} s")

    stranger = ClientKeys(curve_keys.server_public(data_dir), *new_keypair())
    assert handshake(config.control_endpoint, stranger) == "auth-refused"
    assert handshake(config.events_endpoint, stranger, zmq.SUB) == "auth-refused"
    assert handshake(config.control_endpoint, None) == "protocol-refused"  # plain ZeroMQ: no CURVE, no talk
    wait_for(lambda: log_lines(executor, "is not on the allow-list"), message="the refusal's log line")

    made = curve_keys.add_client(data_dir, "laptop")
    laptop = ClientKeys(curve_keys.server_public(data_dir), *curve_keys.read_pair(made.secret_file))
    assert handshake(config.events_endpoint, laptop, zmq.SUB) == "succeeded"
    curve_keys.remove_entry(data_dir, curve_keys.CLIENTS, "laptop")  # the running executor follows the file
    assert handshake(config.control_endpoint, laptop) == "auth-refused"


def test_an_address_outside_the_allowed_ranges_is_refused(executor_factory):
    executor = executor_factory(curve=True, control_allow_ips=["10.0.0.0/8"])
    keys = local_keys(executor.config.data_dir)
    assert handshake(executor.config.control_endpoint, keys) == "auth-refused"
    wait_for(lambda: log_lines(executor, "127.0.0.1 is not in an allowed range"), message="the refusal's log line")


def test_allowed_ranges_admit_the_address(executor_factory):
    executor = executor_factory(curve=True, control_allow_ips=["10.0.0.0/8", "127.0.0.0/8"])
    with ControlClient(executor.config.control_endpoint, timeout_s=10, data_dir=executor.config.data_dir,
                       curve=local_keys(executor.config.data_dir)) as client:
        assert client.request("PING")["ok"]


def ctl(data_dir: Path, control: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "ctl", "--data-dir", str(data_dir), "--control",
                           control, "--timeout", "10", *argv], capture_output=True, text=True, timeout=60)


def test_ctl_finds_the_local_keys_or_takes_a_remote_clients(executor_factory, tmp_path):
    executor = executor_factory(curve=True)
    data_dir, control = executor.config.data_dir, executor.config.control_endpoint
    local = ctl(data_dir, control, "ping")  # the data dir's `local` pair: running-config.json says curve is on
    assert local.returncode == 0, local.stderr
    made = subprocess.run([sys.executable, str(ROOT / "run.py"), "keys", "curve-client", "ops", "--data-dir",
                           str(data_dir), "--out", str(tmp_path / "ops")], capture_output=True, text=True, timeout=30)
    assert made.returncode == 0 and curve_keys.server_public(data_dir) in made.stdout
    elsewhere = tmp_path / "elsewhere"  # another host: no data dir of the executor's, only the files given
    elsewhere.mkdir()
    (elsewhere / "ctl.key").write_text("default:" + (data_dir / "control.key").read_text().strip())
    remote = subprocess.run([sys.executable, str(ROOT / "run.py"), "ctl", "--data-dir", str(elsewhere), "--control",
                             control, "--timeout", "10", "--key-file", str(elsewhere / "ctl.key"),
                             "--server-key", str(data_dir / "curve" / "server.key"),
                             "--client-key", str(tmp_path / "ops" / "ops.key_secret"), "ping"],
                            capture_output=True, text=True, timeout=60)
    assert remote.returncode == 0, remote.stderr
    listed = subprocess.run([sys.executable, str(ROOT / "run.py"), "keys", "curve-list", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=30)
    assert "ops" in listed.stdout and "local" in listed.stdout


# ------------------------------------------------------------------------ EA link ---
def terminal(executor, login: int, curve: ClientKeys | None, cls=SimTerminal) -> SimTerminal:
    return cls(ctl_endpoint=executor.config.ea_ctl_endpoint, md_endpoint=executor.config.ea_md_endpoint, login=login,
               seed=3, speed=600.0, start_ms=parse_start(SIM_START), history_minutes=60, curve=curve).start()


def test_the_embedded_simulated_terminal_connects_over_curve(executor_factory):
    executor = executor_factory(curve=True, ea_curve=True)
    board = executor.service.board
    login = executor.config.sim.login
    wait_for(lambda: board.get(f"account:{login}", {}).get("ready"), timeout=30, message="the CURVE terminal")


def test_a_terminal_key_not_on_the_ea_allow_list_is_refused(executor_factory):
    executor = executor_factory(ea_curve=True, no_sim=True)
    data_dir = executor.config.data_dir
    server = curve_keys.server_public(data_dir)
    stranger = terminal(executor, 7001, ClientKeys(server, *new_keypair()))
    try:
        wait_for(lambda: log_lines(executor, "is not on the allow-list"), message="the refusal's log line")
        assert executor.service.directory.get("terminal:7001") is None
    finally:
        stranger.stop()
    listed = terminal(executor, 7002, ClientKeys(server, *curve_keys.terminal_pair(data_dir, 7002)))
    try:
        wait_for(lambda: executor.service.board.get("account:7002", {}).get("ready"), timeout=30,
                 message="the allow-listed terminal")
    finally:
        listed.stop()


class Impostor(SimTerminal):
    """A terminal whose routing id says one login while its messages say its own."""
    claimed = 7009

    def _open_sockets(self, context):
        ctl, md, monitor = super()._open_sockets(context)
        ctl.close(linger=0)
        monitor.close(linger=0)
        ctl = context.socket(zmq.DEALER)
        ctl.setsockopt(zmq.ROUTING_ID, protocol.routing_id(self.claimed))
        ctl.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            self.curve.apply(ctl)
        monitor = ctl.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        ctl.connect(self.ctl_endpoint)
        return ctl, md, monitor


def test_a_hello_whose_login_is_not_the_routing_ids_is_refused(executor_factory):
    executor = executor_factory(no_sim=True)
    impostor = terminal(executor, 7003, None, cls=Impostor)
    try:
        wait_for(lambda: log_lines(executor, "it says it is account 7003"), message="the refusal's log line")
        assert executor.service.directory.get("terminal:7009") is None
        assert executor.service.directory.get("terminal:7003") is None
    finally:
        impostor.stop()


def test_a_terminal_key_speaks_for_its_own_login_only(executor_factory):
    executor = executor_factory(ea_curve=True, no_sim=True)
    data_dir = executor.config.data_dir
    keys_of_7004 = ClientKeys(curve_keys.server_public(data_dir), *curve_keys.terminal_pair(data_dir, 7004))
    borrowed = terminal(executor, 7005, keys_of_7004)  # routing id and messages say 7005, the key is 7004's
    try:
        wait_for(lambda: log_lines(executor, "holding the key of mt5-7004"), message="the refusal's log line")
        assert executor.service.directory.get("terminal:7005") is None
    finally:
        borrowed.stop()


def test_run_sim_connects_with_the_keys_keys_curve_terminal_made(executor_factory):
    executor = executor_factory(ea_curve=True, no_sim=True)
    data_dir = executor.config.data_dir
    made = subprocess.run([sys.executable, str(ROOT / "run.py"), "keys", "curve-terminal", "7006", "--data-dir",
                           str(data_dir)], capture_output=True, text=True, timeout=30)
    assert made.returncode == 0 and "InpSecretKey = " in made.stdout, made.stderr
    sim = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sim", "--login", "7006", "--speed", "600",
                            "--start", SIM_START, "--ctl", executor.config.ea_ctl_endpoint, "--md",
                            executor.config.ea_md_endpoint, "--server-key", str(data_dir / "curve" / "server.key"),
                            "--client-key", str(data_dir / "curve" / "terminals" / "7006.key_secret")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: executor.service.board.get("account:7006", {}).get("ready") or sim.poll() is not None,
                 timeout=45, message="the separate simulated terminal over CURVE")
        assert sim.poll() is None, sim.stderr.read()
    finally:
        sim.terminate()
        sim.wait(10)


def test_run_sim_refuses_half_a_key_pair(tmp_path, capsys):
    assert run.main(["sim", "--server-key", "x" * 40]) == 2
    assert "go together" in capsys.readouterr().err
