"""Technical indicators (pure, numpy): `batch` over whole series, `incremental` one bar at
a time, `kernels` the numeric loops both share, `table` each indicator's name, parameters
and defaults (the one table the rules language reads), `cache` the outputs strategies share."""
