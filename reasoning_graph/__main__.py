"""`python -m reasoning_graph` runs the CLI."""

import sys

from reasoning_graph.cli import main

sys.exit(main())
