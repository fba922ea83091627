"""Price history: MT5 bar and tick exports (and plain CSVs), and history replayed as ticks."""
