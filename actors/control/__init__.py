"""The control API: the ControlServer actor, the wire rules, the command schemas, the
routes, the reply cache, and the client behind `run.py ctl`."""
