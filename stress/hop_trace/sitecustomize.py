"""Per-hop stamps of a stress run's executor: `python -m stress --trace-hops FILE`.

The harness puts this directory first on the executor's PYTHONPATH and names the output file
in STRESS_HOP_TRACE; Python imports this module at start-up, before the executor's code. It
then wraps pykka's message handling and the socket pump's reads and writes so that each one
leaves (start, end, actor class, message type, thread) in the file, a JSON list rewritten
every 2 s. `python -m stress.hops FILE` reads it. Only `run.py service` is traced (the
terminal and the relay get the same PYTHONPATH); nothing of this is loaded otherwise.
"""

import json
import os
import sys
import threading
import time

_OUT = os.environ.get("STRESS_HOP_TRACE")
if _OUT and len(sys.argv) > 1 and sys.argv[1] == "service":
    import pykka._actor as _pykka_actor

    _records: list = []
    _clock = time.perf_counter
    _handle = _pykka_actor.Actor._handle_receive

    def _traced_handle(self, message):
        start = _clock()
        try:
            return _handle(self, message)
        finally:
            _records.append((start, _clock(), type(self).__name__, type(message).__name__, threading.get_ident()))

    _pykka_actor.Actor._handle_receive = _traced_handle

    def _trace_pump() -> None:
        # The pump module is imported later, by the executor: wrap it once it is there.
        while "actors.runtime.socket_pump" not in sys.modules:
            time.sleep(0.01)
        pump = sys.modules["actors.runtime.socket_pump"].SocketPump
        write, drain = pump._write, pump._drain

        def traced_write(self, sockets, name, frames):
            start = _clock()
            try:
                return write(self, sockets, name, frames)
            finally:
                _records.append((start, _clock(), f"pump-{self.name}", f"write-{name}", threading.get_ident()))

        def traced_drain(self, sock, name, limit=1000):
            start = _clock()
            try:
                return drain(self, sock, name, limit)
            finally:
                _records.append((start, _clock(), f"pump-{self.name}", f"drain-{name}", threading.get_ident()))

        pump._write, pump._drain = traced_write, traced_drain

    def _dump_every(seconds: float) -> None:
        while True:
            time.sleep(seconds)
            with open(_OUT + ".tmp", "w") as out:
                json.dump(list(_records), out)
            os.replace(_OUT + ".tmp", _OUT)

    threading.Thread(target=_trace_pump, name="hop-trace-pump", daemon=True).start()
    threading.Thread(target=_dump_every, args=(2.0,), name="hop-trace-dump", daemon=True).start()
