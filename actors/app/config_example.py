"""The commented example configuration `run.py config --example` prints: every setting of
`run.py service --config FILE.toml`, its default and what it does.

The values set here are the defaults, and settings whose default is "none" are shown
commented out; `tests/test_config_file.py` loads this text and checks both, and that every
field of `ServiceConfig` and `SimSettings` is here, so the example cannot drift from the code.
"""

EXAMPLE = """\
# Configuration of `python run.py service --config executor.toml`.
# Precedence: command-line options > this file > the built-in defaults shown here.
# Every key is checked at start: an unknown key or a value of the wrong type stops the
# service with one line naming it (exit code 2). JSON files with the same keys work too.
# Check a file without starting anything: `python run.py config --check executor.toml`.

# Journal (journal.sqlite3), logs (logs/executor.jsonl), keys, backups, TOTP secret.
data_dir = "data"

# Where operators and platforms send commands (ZeroMQ ROUTER, bound here). Keep it on
# loopback, or give remote clients keys (`run.py keys add`).
control_endpoint = "tcp://127.0.0.1:5555"
# Where events are published (ZeroMQ PUB): `run.py ctl watch` subscribes here.
events_endpoint = "tcp://127.0.0.1:5556"
# Where the MT5 Expert Advisors connect: requests/replies (CTL) and market data (MD).
ea_ctl_endpoint = "tcp://127.0.0.1:5557"
ea_md_endpoint = "tcp://127.0.0.1:5558"

# Seconds trading stays locked after EMERGENCY_STOP or a limit breach (one hour).
kill_lock_s = 3600.0

# Level of the log on stderr: TRACE, DEBUG, INFO, WARNING, ERROR. The file always has DEBUG.
log_level = "INFO"

# Signed control requests (HMAC keys in the data dir). Off only on a loopback control bind.
control_auth = true

# Journal backups into <data dir>/backups: every this many seconds (0: only the one taken
# when the kill switch engages); the newest `backup_keep` are kept.
backup_every_s = 3600.0
backup_keep = 48

# true: no embedded simulated terminal; wait for a real EA (same as --no-sim).
no_sim = false

# CURVE encryption, and only allow-listed keys connect: on the control and events sockets
# (`run.py keys curve-client NAME` makes a client's keys) and on the EA sockets (`run.py keys
# curve-terminal LOGIN` makes an EA's). Required when those endpoints are not loopback.
curve = false
ea_curve = false
# IP ranges allowed to connect (empty: any address), e.g. ["10.0.0.0/8", "192.168.1.7"].
control_allow_ips = []
ea_allow_ips = []

# The audit trail keeps every command; STATUS_REQUEST and PING only the first per key and
# command every this many seconds (0: every one).
audit_reads_every_s = 60.0

# Reconciliation on every start and reconnect: positions and pending orders no order of
# this journal explains (opened by hand, another journal's) are "adopt"ed as EXTERNAL
# (journaled, shown in STATUS) or "close"d.
reconcile_orphans = "adopt"

# The supervisor pings every actor this often; 3 pings unanswered = hung, and replaced.
ping_every_s = 2.0
# A warning when an actor's mailbox holds this many messages (STATUS shows `mailboxes`).
mailbox_warn_depth = 10000

# Commands per control key and minute, by group (trading, strategy, admin, emergency, reads)
# or by command type, over the built-in defaults. EMERGENCY_STOP always gets one a second.
# [rate_limits]
# trading = 10
# reads = 6000

# Default risk limits per account type, over the built-in ones (`run.py ctl limits` shows
# those in effect). Live limits may only be tightened here; loosen them on the running
# executor with `ctl limits KEY=VALUE` and a TOTP code.
# [risk_limits.demo]
# max_lot_size = 1.0
# [risk_limits.live]
# max_daily_loss_pct = 2.0
# max_drawdown_pct = 6.0
# max_lot_size = 0.1
# max_positions = 3

# The embedded simulated MT5 terminal (ignored with no_sim = true).
[sim]
# The account number it reports.
login = 5000001
# Clock speed-up: 1 = real time, 60 = a minute a second.
speed = 1.0
# Seed of the simulated prices (the same seed, the same market).
seed = 0
# Account settings; left out: the broker file's, else 10 000 USD, 1:100, UTC+2, demo.
# balance = 10000.0
# leverage = 100
# tz_offset_s = 7200
# server_tz = "NY+7"          # its zone instead: seconds, "UTC+2", an IANA name or "NY+7"
# account = "demo"            # or "live": the account type it reports
# Minutes of history it holds before the start.
history_minutes = 10080
# A broker JSON {"account": {...}, "symbols": {...}}, and symbols over it.
# broker_file = "broker.json"
# symbols_file = "symbols.json"
# When the simulated market starts: ISO 8601 UTC or epoch ms (left out: now).
# start = "2026-11-24T08:00:00Z"
# Quote and trade round the clock, ignoring the symbols' sessions and the weekend.
always_open = false
# Economic calendar JSON it answers (news blackouts).
# calendar_file = "calendar.json"
# Paper trading: "sim" = the seeded random walk, "ea" = a real EA's ticks (the EA connects
# to prices_ctl / prices_md instead of the executor; orders stay simulated).
prices = "sim"
prices_ctl = "tcp://127.0.0.1:5567"
prices_md = "tcp://127.0.0.1:5568"
"""
