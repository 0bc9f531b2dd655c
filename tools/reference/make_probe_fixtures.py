"""Fixtures for tests/probe: closed-form ridge regression computed by numpy.

Writes tests/data/probe/ridge_features.npy (float64, 40 x 6, one column constant, one nearly
collinear), ridge_mos.txt (one score per line) and ridge_expected.npy: rows [weight..., bias] on
raw features for each lambda in LAMBDAS, from standardised features (population std, constant
column scaled by 1) with an unpenalised intercept, as biqa::probe::fit_ridge documents.
"""
import os

import numpy as np

LAMBDAS = [0.01, 0.5, 10.0]


def ridge(x, y, lam):
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    z = (x - mean) / std
    ym = y.mean()
    w = np.linalg.solve(z.T @ z + lam * np.eye(x.shape[1]), z.T @ (y - ym))
    w_raw = w / std
    return np.concatenate([w_raw, [ym - w_raw @ mean]])


def main():
    out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "probe")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261123)
    n, d = 40, 6
    x = rng.normal(size=(n, d)) * np.array([1.0, 3.0, 0.2, 10.0, 1.0, 1.0]) + np.array([0, 5, -1, 50, 0, 0])
    x[:, 4] = 2.5  # constant feature
    x[:, 5] = x[:, 0] * 0.9 + rng.normal(size=n) * 0.05  # nearly collinear with column 0
    y = x @ np.array([0.5, -0.2, 1.5, 0.03, 0.0, 0.3]) + 3.0 + rng.normal(size=n) * 0.3
    np.save(os.path.join(out, "ridge_features.npy"), x.astype(np.float64))
    with open(os.path.join(out, "ridge_mos.txt"), "w") as f:
        for v in y:
            f.write(f"{v:.17g}\n")
    np.save(os.path.join(out, "ridge_expected.npy"), np.stack([ridge(x, y, lam) for lam in LAMBDAS]))


if __name__ == "__main__":
    main()
