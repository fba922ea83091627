"""The one error type of the rules language, and the limits that keep hostile input cheap.

Every stage (lexer, parser, compiler, `compile_rules`) reports a problem the user can fix
as a `RuleError` that points at a 0-based character offset, so the control server can
answer `BAD_REQUEST` naming the position.
"""

from __future__ import annotations

from typing import Any

MAX_EXPRESSION_CHARS = 2000
# AST depth and bracket nesting; the parser recurses about ten frames per level, so this
# stays far below Python's recursion limit even inside a deep caller.
MAX_DEPTH = 64
# Periods and lookbacks are bounded so one rule cannot ask the market data side for an
# absurd history; MAX_HISTORY_BARS bounds what a whole expression may need.
MAX_PERIOD = 5000
MAX_LOOKBACK = 5000
MAX_HISTORY_BARS = 50_000
MAX_FILTERS = 32


class RuleError(ValueError):
    """A rule expression that cannot be accepted.

    `position` is the 0-based character offset of the problem in `expression`; `rule`
    names the rule (`rules.entry_long`, `rules.filters[0]`) once known. The message reads
    "<what went wrong> at <position>; <what to do>".
    """

    def __init__(
        self,
        reason: str,
        position: int,
        expression: str = "",
        *,
        hint: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.reason = reason
        self.position = position
        self.expression = expression
        self.hint = hint
        self.rule = rule
        text = f"{reason} at {position}"
        if hint:
            text += f"; {hint}"
        if rule:
            text = f"{rule}: {text}"
        super().__init__(text)

    def with_rule(self, rule: str) -> RuleError:
        return RuleError(
            self.reason, self.position, self.expression, hint=self.hint, rule=rule
        )

    def details(self) -> dict[str, Any]:
        """The msgpack-ready `details` of a `BAD_REQUEST` reply."""
        return {
            "rule": self.rule,
            "position": self.position,
            "expression": self.expression,
            "reason": self.reason,
            "hint": self.hint,
        }
