"""The executor: pykka actors around a pure core, one package per component.

    app/        the process: configuration, the supervision tree, the service, replay
    runtime/    what every actor leans on: supervision, the directory, timers, socket pumps,
                the kill switch gate, operator confirmation
    terminal/   the MT5 side: the Gateway (EA sockets), one Terminal per account, MarketData
    strategy/   the Strategy actors and their supervisor
    rules/      the rules language (pure)
    indicators/ technical indicators, batch and incremental (pure)
    account/    the Account actor with its sizing, exits and order recovery
    risk/       the RiskGuard actor and its pre-trade checks (pure)
    journal/    the Journal actor, the SQLite tables, performance figures
    control/    the control API: server, wire rules, command schemas, the `ctl` client

`messages` is the one catalogue of what actors say to each other, `errors` the error codes
a command can end with, `schema` the whitelist kit for maps from outside. Imports run one
way: `run.py` -> `actors` -> `bridge`; nothing in `bridge` imports `actors`.

Packages re-export nothing: importing a pure module (`actors.risk.checks`) never starts the
actor runtime or pulls in the sockets.
"""
