"""`python -m stress`: see stress/run.py."""

import sys

from stress.run import main

sys.exit(main())
