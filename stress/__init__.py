"""The stress harness: the executor under load and faults, measured from outside.

`python -m stress --scenario bar50` (or `python stress/run.py ...`) starts `run.py service
--no-sim` as its own process with its own data dir and free ports, and a terminal for it to
trade with: `run.py sim --stepped` (the simulated MT5 terminal, its own process) or
`stress/relay_ea.py` (a minimal EA, for pure latency). It drives the executor only as a
platform and an EA would - the control API and the EA protocol - and times every order at
the terminal: the terminal stamps when it published the tick that closed a bar and when each
`order_send` arrived (bridge/sim/stepped.py). The report holds each figure against the
plan's targets (stress/scenarios.py), checks that nothing was lost, duplicated or orphaned
(stress/verify.py), and relates latency to the relay floor (stress/floor.py).

    run.py       the command line          driver.py   one run, start to end
    scenarios.py presets and targets       procs.py    the executor and terminal processes
    observe.py   stamps, events, psutil    figures.py  the figures of a run
    verify.py    journal vs terminal       report.py   table, JSON, plot
    progress.py  the live display          floor.py    the relay floor
    relay_ea.py  the stand-in EA

The `bench_*.py` files beside them are single-process micro-benchmarks.
"""
