"""The simulated MT5 terminal and EA: the socket shell around the trade server, its market
memory and price feeds, its calendar and broker file, and paper trading on a real EA's prices."""
