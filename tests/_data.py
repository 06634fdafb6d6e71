"""Planted models shared by the tests."""

import numpy as np

from spectranet import PolyNetwork


def planted(n=60, d=4, m=3, activation="relu", noise=0.1, seed=0, outputs=None):
    """Planted network data: X Gaussian, y = f(X) + noise for a random unit-norm network."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((m, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    alpha = rng.standard_normal(m if outputs is None else (m, outputs))
    net = PolyNetwork(U, alpha, activation)
    y = net.predict(X)
    return X, y + noise * rng.standard_normal(y.shape), net
