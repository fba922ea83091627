"""The MT5 bridge and everything both sides of it share.

    protocol    the EA protocol: endpoints, message types, timing, the msgpack codec
    mt5         MetaTrader 5 constants, named as in the MetaTrader5 Python package
    symbols     symbol specifications (the fixtures and broker overrides)
    candles     bar alignment on the broker clock and tick-to-bar building
    tick_gaps   gap detection on the market-data feed
    json_file   the one reader of the simulator's JSON files

    trade_server/  the simulated MT5 trade server of one account (pure: no sockets, no threads)
    sim/           the simulated terminal and EA around it (sockets), paper trading, price sources
    history/       bar and tick history files, and history replayed as ticks

`bridge` never imports `actors`: the simulator stands on its own, like a real terminal.
"""
