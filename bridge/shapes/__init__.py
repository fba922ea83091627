"""What an EA may send, checked where it arrives (MT5_BRIDGE.md: a message that breaks the
protocol's shapes is refused at the receiving boundary and never reaches an actor).

    rules      the rule kit and the vocabulary of MT5 values (prices, tickets, times, columns)
    messages   the shape of every EA message and reply, and `check_message`
    refusals   counting refused messages, and rate-limiting what is said about them

Both receivers of EA messages use it: the executor's Gateway and Terminal, and the paper
price source (bridge/sim/ea_price_session.py)."""
