"""`python -m waveflow.cli ...`: the `waveflow` command (e.g. under `torchrun`)."""

import sys

from waveflow.cli import main

sys.exit(main())
