"""`python -m relay` is `relay`."""

import sys

from relay.cli import main

sys.exit(main())
