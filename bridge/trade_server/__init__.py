"""The simulated MT5 trade server (pure): `server.TradeServer` and the helpers it is
built from. The helpers see the server only through `state.ServerState`, so nothing here
imports the server module but the server itself."""
