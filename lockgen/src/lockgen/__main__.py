"""`python -m lockgen`."""

import sys

from lockgen.cli import main

sys.exit(main())
