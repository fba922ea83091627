"""The rules language of the strategy format (pure): lexer, parser, type checker and
compiler, the vocabulary of series and indicators, and `program`: compile once, evaluate per bar."""
