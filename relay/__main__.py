"""`python -m relay` is `relay`."""

import sys

from relay.entry.cli import main

sys.exit(main())
