"""Technical indicators (pure, numpy): `batch` over whole series, `incremental` one bar at
a time, `kernels` the numeric loops both share, `cache` the outputs strategies share."""
