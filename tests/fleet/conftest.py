"""The fleet simulator lives in bench/ (not an installed package): put the repo root on sys.path.

Redundant once pyproject's pytest config has `pythonpath = ["."]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)
