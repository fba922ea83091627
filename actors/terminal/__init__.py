"""The MT5 side of the executor: the Gateway that owns the EA sockets, one Terminal
actor per MT5 account (requests, heartbeats, the server clock), and MarketData (ticks in,
closed bars out)."""
