"""Running strategies: one Strategy actor per strategy, and the supervisor of their lifecycle."""
