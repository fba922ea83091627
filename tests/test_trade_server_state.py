"""`state.ServerState` is exactly what the trade server's helpers touch, and the server has it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import TradeServer
from bridge.trade_server.state import ServerState

pytestmark = pytest.mark.timeout(30)

PACKAGE = Path(__file__).resolve().parent.parent / "bridge" / "trade_server"
# The server itself, its queries mixin (which reads `self`) and the protocol are not helpers.
NOT_HELPERS = {"__init__.py", "server.py", "queries.py", "state.py"}


def declared() -> set[str]:
    members = set(ServerState.__annotations__)
    members |= {name for name, value in vars(ServerState).items()
                if not name.startswith("_") and (callable(value) or isinstance(value, property))}
    return members


def used_by_helpers() -> dict[str, set[str]]:
    """Attribute name -> helper modules that read, write or call `server.<name>` (or
    `ctx.server.<name>`)."""
    used: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in NOT_HELPERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "server") or (
                    isinstance(owner, ast.Attribute) and owner.attr == "server"):
                used.setdefault(node.attr, set()).add(path.name)
    return used


def test_the_protocol_declares_exactly_what_the_helpers_use():
    used = used_by_helpers()
    undeclared = {name: sorted(modules) for name, modules in used.items() if name not in declared()}
    assert not undeclared, f"helpers use server attributes ServerState lacks: {undeclared}"
    unused = declared() - set(used)
    assert not unused, f"ServerState declares what no helper uses: {sorted(unused)}"


def test_the_trade_server_implements_the_protocol():
    server = TradeServer(login=1, symbols=DEFAULT_SYMBOLS)
    missing = sorted(name for name in declared() if not hasattr(server, name))
    assert not missing, f"TradeServer lacks {missing}"
    assert isinstance(server, ServerState)


def test_no_helper_imports_the_server_module():
    importers = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "server.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "bridge.trade_server.server":
                importers.append(path.name)
    assert not importers, f"{importers} import bridge.trade_server.server"
