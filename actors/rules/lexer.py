"""Tokens of the rules language: numbers, names, operators, and refusals of everything else.

The lexer never raises. A character that is not part of the language ends the token list
with an `error` token carrying its `RuleError`; the parser raises it only when it gets
there, so the error reported is always the leftmost one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from actors.rules.errors import RuleError

NUMBER = "number"
NAME = "name"
OP = "op"
END = "end"
ERROR = "error"

_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_.]")
_OPERATORS = ("==", "!=", ">=", "<=", "(", ")", "[", "]", ",", ".", "+", "-", "*", "/",
              ">", "<", "=")
# Characters people bring from Python, C or Excel, with what to write instead.
_REFUSED = {
    "**": "powers are not supported; multiply instead",
    "&&": "use 'and'",
    "||": "use 'or'",
    "&": "use 'and'",
    "|": "use 'or'",
    "!": "use 'not'",
    "~": "use 'not'",
    "^": "powers are not supported; multiply instead",
    "%": "the remainder operator is not supported",
    "'": "strings are not part of the rules language",
    '"': "strings are not part of the rules language",
    ":": "slices and lambdas are not part of the rules language",
    "{": "braces are not part of the rules language",
    "}": "braces are not part of the rules language",
    ";": "write one expression per rule",
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    position: int
    value: float = 0.0
    error: RuleError | None = None

    def is_op(self, *texts: str) -> bool:
        return self.kind == OP and self.text in texts

    def is_keyword(self, word: str) -> bool:
        return self.kind == NAME and self.text == word


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; ends with an `end` token or an `error` token."""
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in " \t\r\n":
            index += 1
            continue
        token = _read_token(text, index)
        tokens.append(token)
        if token.kind == ERROR:
            return tokens
        index += len(token.text)
    tokens.append(Token(END, "", len(text)))
    return tokens


def _read_token(text: str, index: int) -> Token:
    number = _NUMBER.match(text, index)
    if number:
        return _number_token(text, number.group(), index)
    name = _NAME.match(text, index)
    if name:
        return Token(NAME, name.group(), index)
    for refused, hint in _REFUSED.items():
        if text.startswith(refused, index) and not text.startswith("!=", index):
            return _error(text, index, f"{refused!r} is not part of the rules language", hint)
    for operator in _OPERATORS:
        if text.startswith(operator, index):
            return Token(OP, operator, index)
    return _error(text, index, f"unexpected character {text[index]!r}",
                  "rules use numbers, names, ( ) [ ] , . + - * / and comparisons")


def _number_token(text: str, literal: str, index: int) -> Token:
    end = index + len(literal)
    if end < len(text) and _WORD_CHAR.match(text, end):
        return _error(text, index, f"malformed number '{text[index:end + 1]}'",
                      "write numbers like 14, 0.5 or 1e-3")
    value = float(literal)
    if not math.isfinite(value):
        return _error(text, index, "number too large", "use a finite number")
    return Token(NUMBER, literal, index, value=value)


def _error(text: str, index: int, reason: str, hint: str) -> Token:
    return Token(ERROR, text[index], index, error=RuleError(reason, index, text, hint=hint))


def is_integer_literal(token_text: str) -> bool:
    return token_text.isascii() and token_text.isdigit()
