"""What an order is priced from: the symbol's properties as the terminal reported them and
its latest quote on the status board. A missing one is a ControlError the caller can reply.
"""

from __future__ import annotations

from typing import Any

from actors import errors
from actors.account.view import AccountView
from actors.runtime.status_board import StatusBoard


class Market:
    def __init__(self, *, login: int, view: AccountView, board: StatusBoard) -> None:
        self.login = login
        self.view = view
        self.board = board

    def quote(self, name: str) -> tuple[dict[str, Any], float, float]:
        """The symbol's properties, bid and ask."""
        symbol = self.view.symbols.get(name)
        if symbol is None:
            raise errors.ControlError(errors.NOT_FOUND, f"symbol {name} is not offered by account {self.login}; "
                                      f"known: {sorted(self.view.symbols)[:20]}")
        quote = self.board.get(f"quote:{self.login}:{name}")
        if quote is None:
            raise errors.ControlError(errors.UNAVAILABLE, f"no quote for {name} yet; retry once prices arrive")
        return symbol, quote[1], quote[2]
