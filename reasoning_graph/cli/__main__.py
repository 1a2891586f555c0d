"""`python -m reasoning_graph.cli` runs the CLI."""

import sys

from reasoning_graph.cli.main import main

sys.exit(main())
