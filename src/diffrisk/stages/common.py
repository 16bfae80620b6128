"""What every stage shares: logging and list parameters."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
