"""Shared fixtures: planted models and small real data."""

from pathlib import Path

import numpy as np
import pytest

from spectranet import PolyActivation, PolyNetwork

from ._data import planted

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def planted_data():
    return planted()


@pytest.fixture
def random_network():
    rng = np.random.default_rng(1)
    U = rng.standard_normal((5, 4))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    return PolyNetwork(U, rng.standard_normal(5), PolyActivation.from_name("relu"))
