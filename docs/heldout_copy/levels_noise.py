"""bench/levels.py with noise on the layout stage's target patches (probe; SIGMA from the environment)."""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "bench"))
sys.path.insert(0, REPO)

from target_noise import install  # noqa: E402

install(float(os.environ.get("SIGMA", "0.08")))

import levels  # noqa: E402

sys.exit(levels.main())
