"""How many peer messages were refused, and when a refusal deserves a log line.

A broken or hostile EA can send thousands of bad messages a second; each is refused and
counted, but the log gets one line per account and message type at most every
`LOG_EVERY_S`, and that line says how many went unsaid since the previous one. Kinds are
the bounded set of `messages.kind_of`, so the counters cannot grow with what a peer invents.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

LOG_EVERY_S = 10.0


class Refusals:
    def __init__(self, log_every_s: float = LOG_EVERY_S) -> None:
        self.log_every_s = log_every_s
        self.counts: Counter[tuple[Any, str]] = Counter()
        self._said: dict[tuple[Any, str], tuple[float, int]] = {}  # key -> (when, count) of the last line

    def refuse(self, account: Any, kind: str, now: float) -> int | None:
        """Count one refusal of a `kind` message from `account`. When a log line is due, the
        number refused since the last line and not logged (0 for the first); else None."""
        key = (account, kind)
        self.counts[key] += 1
        said = self._said.get(key)
        if said is not None and now - said[0] < self.log_every_s:
            return None
        self._said[key] = (now, self.counts[key])
        return self.counts[key] - 1 - (said[1] if said else 0)

    def total(self, account: Any = None) -> int:
        """Refusals of `account`, or of every account when None."""
        return sum(n for (who, _), n in self.counts.items() if account is None or who == account)

    def by_kind(self, account: Any) -> dict[str, int]:
        return {kind: n for (who, kind), n in sorted(self.counts.items()) if who == account}
