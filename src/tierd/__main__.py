"""`python -m tierd` is the `tierd` command."""

import sys

from tierd.cli.main import main

sys.exit(main())
