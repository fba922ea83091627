"""The RiskGuard actor and its pure core: one function per pre-trade check, the book and
market context they read, limits, correlation, the account's trading state."""
