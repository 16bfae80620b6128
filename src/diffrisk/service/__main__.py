"""``python -m diffrisk.service``: start the scenario service (see :mod:`.cli`)."""

import os
import sys

# Idle OpenMP threads sleep instead of spinning (set before torch is imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from diffrisk.service.cli import main  # noqa: E402

sys.exit(main())
