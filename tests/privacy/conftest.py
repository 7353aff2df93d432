from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scenes import overlaps

from window.privacy.faces import CenterFace


@pytest.fixture(scope="session")
def reference() -> CenterFace:
    """The reference detector: CenterFace at full resolution, a firm score."""
    return CenterFace(threshold=0.5, threads=2)


@pytest.fixture(scope="session")
def detector() -> CenterFace:
    """The filter's own detector settings."""
    return CenterFace(threshold=0.2, threads=2)


def leaks(reference: CenterFace, before: npt.NDArray[np.uint8],
          after: npt.NDArray[np.uint8]) -> list[tuple[float, ...]]:
    """Faces the reference finds after filtering where it found one before."""
    was = reference.detect(before)
    now = reference.detect(after)
    return [tuple(map(float, b[:4])) for b in was
            if any(overlaps(b, n, 0.3) for n in now)]
