"""Syntax of the rules language: tokens to an immutable AST, by recursive descent.

Precedence, loosest first: `or`, `and`, `not`, one comparison (`a < b < c` is refused
rather than guessed), `+ -`, `* /`, unary `-`, then postfix `.field` and `[n]`.
The parser also resolves names (series, indicators, `cross_*`), so the error reported is
always the leftmost one; types, arity and parameters are the compiler's job.
"""

from __future__ import annotations

import difflib
import keyword
from dataclasses import dataclass

from actors.rules.errors import MAX_DEPTH, MAX_EXPRESSION_CHARS, MAX_LOOKBACK, RuleError
from actors.rules.lexer import END, ERROR, NAME, NUMBER, Token, is_integer_literal, tokenize
from actors.rules.vocabulary import FUNCTION_NAMES, INDICATORS, SERIES

COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
_FIELD_HINT = "attribute access is only for indicator fields like macd(12,26,9).signal"


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Argument:
    value: Node
    keyword: str | None
    position: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Argument, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Field:
    target: Call
    name: str
    position: int  # of the field name


@dataclass(frozen=True, slots=True)
class Lookback:
    target: Node
    bars: int
    position: int  # of the '['


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node
    position: int


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic (`+ - * /`) or a comparison; `position` is the operator's."""

    op: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    position: int


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # "and" | "or"; operands are flattened so long chains stay shallow
    operands: tuple[Node, ...]
    position: int  # of the first operator


Node = Number | Series | Call | Field | Lookback | Negate | Binary | Not | Logic


def start_of(node: Node) -> int:
    """Where the text of `node` begins, for errors about a whole operand."""
    while True:
        match node:
            case Binary(left=inner) | Field(target=inner) | Lookback(target=inner):
                node = inner
            case Logic(operands=operands):
                node = operands[0]
            case _:
                return node.position


def parse(text: str) -> Node:
    """Parse one expression; raises `RuleError` for anything that is not one."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise RuleError(f"expression is {len(text)} characters long", MAX_EXPRESSION_CHARS,
                        text, hint=f"the limit is {MAX_EXPRESSION_CHARS}")
    if not text.strip():
        raise RuleError("empty expression", 0, text,
                        hint="write a condition like close > sma(20)")
    return _Parser(text).parse_all()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # --- token access ---
    def peek(self, ahead: int = 0) -> Token:
        token = self.tokens[min(self.index + ahead, len(self.tokens) - 1)]
        if token.kind == ERROR and ahead == 0:
            raise token.error
        return token

    def advance(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, op: str) -> Token:
        token = self.peek()
        if not token.is_op(op):
            raise self.error(f"expected '{op}'", token, hint=_found(token))
        return self.advance()

    def error(self, reason: str, token: Token, hint: str | None = None) -> RuleError:
        return RuleError(reason, token.position, self.text, hint=hint)

    def descend(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("expression nests too deeply", token,
                             hint=f"at most {MAX_DEPTH} levels; split it into filters")

    # --- grammar ---
    def parse_all(self) -> Node:
        node = self.parse_or()
        token = self.peek()
        if token.kind != END:
            raise self.error(f"unexpected {_describe(token)}", token, hint=_trailing_hint(token))
        _check_depth(node, self.text)
        return node

    def parse_or(self) -> Node:
        return self.parse_logic("or", self.parse_and)

    def parse_and(self) -> Node:
        return self.parse_logic("and", self.parse_not)

    def parse_logic(self, word: str, operand) -> Node:
        first = operand()
        if not self.peek().is_keyword(word):
            return first
        position = self.peek().position
        operands = [first]
        while self.peek().is_keyword(word):
            self.advance()
            operands.append(operand())
        return Logic(word, tuple(operands), position)

    def parse_not(self) -> Node:
        token = self.peek()
        if not token.is_keyword("not"):
            return self.parse_comparison()
        self.advance()
        self.descend(token)
        operand = self.parse_not()
        self.depth -= 1
        return Not(operand, token.position)

    def parse_comparison(self) -> Node:
        left = self.parse_additive()
        token = self.peek()
        if not token.is_op(*COMPARISONS):
            if token.is_op("="):
                raise self.error("'=' is not a comparison", token, hint="use '=='")
            return left
        self.advance()
        node = Binary(token.text, left, self.parse_additive(), token.position)
        after = self.peek()
        if after.is_op(*COMPARISONS):
            raise self.error("comparisons cannot be chained", after,
                             hint="write a < b and b < c")
        return node

    def parse_additive(self) -> Node:
        node = self.parse_multiplicative()
        while (token := self.peek()).is_op("+", "-"):
            self.advance()
            node = Binary(token.text, node, self.parse_multiplicative(), token.position)
        return node

    def parse_multiplicative(self) -> Node:
        node = self.parse_unary()
        while (token := self.peek()).is_op("*", "/"):
            self.advance()
            node = Binary(token.text, node, self.parse_unary(), token.position)
        return node

    def parse_unary(self) -> Node:
        token = self.peek()
        if not token.is_op("-"):
            return self.parse_postfix()
        self.advance()
        self.descend(token)
        operand = self.parse_unary()
        self.depth -= 1
        return Negate(operand, token.position)

    def parse_postfix(self) -> Node:
        node = self.parse_primary()
        while True:
            token = self.peek()
            if token.is_op("."):
                node = self.parse_field(node)
            elif token.is_op("["):
                node = self.parse_lookback(node, token)
            else:
                return node

    def parse_field(self, target: Node) -> Field:
        self.advance()
        name = self.peek()
        if name.kind != NAME:
            raise self.error("expected a field name after '.'", name, hint=_FIELD_HINT)
        if isinstance(target, Lookback) and isinstance(target.target, Call):
            raise self.error(f"'.{name.text}' must come before the lookback", name,
                             hint=f"write {target.target.name}(...).{name.text}[{target.bars}]")
        if not isinstance(target, Call):
            raise self.error(f"'.{name.text}' cannot be used here", name, hint=_FIELD_HINT)
        self.advance()
        return Field(target, name.text, name.position)

    def parse_lookback(self, target: Node, bracket: Token) -> Lookback:
        self.advance()
        token = self.peek()
        if token.kind != NUMBER or not is_integer_literal(token.text):
            raise self.error("a lookback must be a non-negative whole number", token,
                             hint="write close[1] for the previous bar's close")
        bars = int(token.text)
        if bars > MAX_LOOKBACK:
            raise self.error(f"lookback {bars} is too far", token,
                             hint=f"at most {MAX_LOOKBACK} bars back")
        self.advance()
        self.expect("]")
        return Lookback(target, bars, bracket.position)

    def parse_primary(self) -> Node:
        token = self.peek()
        if token.kind == NUMBER:
            self.advance()
            return Number(token.value, token.text, token.position)
        if token.kind == NAME and token.text not in ("and", "or", "not"):
            return self.parse_name(token)
        if token.is_op("("):
            self.advance()
            self.descend(token)
            node = self.parse_or()
            self.expect(")")
            self.depth -= 1
            return node
        raise self.error(f"expected a value, found {_describe(token)}", token,
                         hint="values are numbers, series like close, or indicators like sma(20)")

    def parse_name(self, token: Token) -> Node:
        self.advance()
        is_call = self.peek().is_op("(")
        if is_call and token.text in FUNCTION_NAMES:
            return self.parse_call(token)
        if not is_call and token.text in SERIES:
            return Series(token.text, token.position)
        raise _name_error(token, is_call, self.text)

    def parse_call(self, name: Token) -> Call:
        opening = self.advance()
        self.descend(opening)
        args: list[Argument] = []
        if not self.peek().is_op(")"):
            args.append(self.parse_argument())
            while self.peek().is_op(","):
                self.advance()
                args.append(self.parse_argument())
        self.expect(")")
        self.depth -= 1
        return Call(name.text, tuple(args), name.position)

    def parse_argument(self) -> Argument:
        token = self.peek()
        if token.kind == NAME and self.peek(1).is_op("="):
            self.advance()
            self.advance()
            return Argument(self.parse_or(), token.text, token.position)
        return Argument(self.parse_or(), None, token.position)


def _name_error(token: Token, is_call: bool, text: str) -> RuleError:
    name, position = token.text, token.position
    if is_call and name in SERIES:
        return RuleError(f"'{name}' is a series, not a function", position, text,
                         hint=f"use {name}[1] for the value 1 bar ago")
    if not is_call and name in INDICATORS:
        return RuleError(f"indicator '{name}' needs parentheses", position, text,
                         hint=f"call it like {INDICATORS[name].usage}")
    if not is_call and name in FUNCTION_NAMES:
        return RuleError(f"'{name}' needs two arguments", position, text,
                         hint=f"write {name}(a, b)")
    if name.startswith("_") or keyword.iskeyword(name) or name in _PYTHON_NAMES:
        return RuleError(f"'{name}' is not part of the rules language", position, text,
                         hint="rules use series (open high low close volume) and indicators")
    choices = sorted(FUNCTION_NAMES) if is_call else [*SERIES, *sorted(INDICATORS)]
    what = "indicator" if is_call else "name"
    match = difflib.get_close_matches(name, choices, n=1)
    hint = f"did you mean '{match[0]}'?" if match else (
        f"indicators are {', '.join(sorted(INDICATORS))}" if is_call
        else f"series are {', '.join(SERIES)}")
    return RuleError(f"unknown {what} '{name}'", position, text, hint=hint)


_PYTHON_NAMES = frozenset({
    "eval", "exec", "compile", "os", "sys", "print", "getattr", "setattr",
    "globals", "locals", "vars", "input", "subprocess", "builtins", "type", "object",
})


def _describe(token: Token) -> str:
    if token.kind == END:
        return "end of expression"
    return f"'{token.text}'"


def _found(token: Token) -> str:
    return f"found {_describe(token)}"


def _trailing_hint(token: Token) -> str:
    if token.is_op(")"):
        return "this ')' has no matching '('"
    if token.kind in (NAME, NUMBER):
        return "an operator (+ - * / > < and or) is missing before it"
    return "remove it or complete the expression"


def _check_depth(root: Node, text: str) -> None:
    # Left-deep chains (a + b + c ...) are built by loops, not recursion, so the parser's
    # own counter misses them; the compiler and evaluator recurse, so check the tree.
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RuleError("expression nests too deeply", start_of(node), text,
                            hint=f"at most {MAX_DEPTH} levels; split it into filters")
        stack.extend((child, depth + 1) for child in _children(node))


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case Call(args=args):
            return tuple(arg.value for arg in args)
        case Field(target=target) | Lookback(target=target):
            return (target,)
        case Negate(operand=operand) | Not(operand=operand):
            return (operand,)
        case Binary(left=left, right=right):
            return (left, right)
        case Logic(operands=operands):
            return operands
        case _:
            return ()
