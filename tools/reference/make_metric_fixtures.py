"""Writes the reference values for biqa::metrics: scipy's correlations and scipy.optimize.curve_fit's
logistic fits on a few data sets chosen to exercise ties, negative correlation, the smallest valid
size, a dataset-sized sample and heavy tails.

Run with the Debian interpreter (python3-numpy, python3-scipy; versions in requirements.txt):
    /usr/bin/python3 tools/reference/make_metric_fixtures.py
Output: tests/data/metrics/<name>.json, one file per data set. `x` is the prediction, `y` the
target (MOS); every value in the file is written with repr(), so it round-trips exactly.
"""
import json
import pathlib
import warnings

import numpy as np
import scipy
from scipy import stats
from scipy.optimize import curve_fit

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "metrics"


# ---- the two logistic forms, exactly as documented in docs/metrics.md ----
def logistic5(x, b1, b2, b3, b4, b5):
    # VQEG FR-TV Phase I / LIVE (Sheikh et al. 2006) form.
    return b1 * (0.5 - 1.0 / (1.0 + np.exp(b2 * (x - b3)))) + b4 * x + b5


def logistic4(x, b1, b2, b3, b4):
    # Monotonic 4-parameter form with |b4| (as in SimpleVQA's utils.py and its descendants).
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


def start5(x, y):
    return [float(np.max(y)), float(np.min(y)), float(np.mean(x)), 0.1, 0.1]


def start4(x, y):
    # np.std is the population standard deviation (ddof=0).
    return [float(np.max(y)), float(np.min(y)), float(np.mean(x)), float(np.std(x)) / 4.0]


def jac5(x, b1, b2, b3, b4, b5):
    t = np.tanh(0.5 * b2 * (x - b3))
    s2 = 1.0 - t * t
    return np.stack([0.5 * t, 0.25 * b1 * s2 * (x - b3), -0.25 * b1 * s2 * b2, x, np.ones_like(x)], axis=1)


def jac4(x, b1, b2, b3, b4):
    a = abs(b4)
    s = 1.0 / (1.0 + np.exp(-(x - b3) / a))
    d = (b1 - b2) * s * (1.0 - s)
    return np.stack([s, 1.0 - s, -d / a, -d * (x - b3) / (a * a) * np.sign(b4)], axis=1)


def best_sse(func, jac, x, y, rng, starts=300):
    """The lowest sum of squares found from many random starts (a seeded multi-start search)."""
    sx, sy = np.std(x), np.std(y)
    sign = np.sign(stats.pearsonr(x, y)[0])
    best = np.inf
    for _ in range(starts):
        if func is logistic4:
            p0 = [np.max(y) + rng.normal() * sy, np.min(y) + rng.normal() * sy, rng.choice(x), sx * np.exp(rng.normal())]
            if rng.random() < 0.5:
                p0[0], p0[1] = p0[1], p0[0]
        else:
            p0 = [(np.max(y) - np.min(y)) * np.exp(rng.normal()) * sign, np.exp(rng.normal()) / sx, rng.choice(x),
                  0.3 * rng.normal() * sy / sx, np.mean(y) + rng.normal() * sy]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, _ = curve_fit(func, x, y, p0=p0, jac=jac, maxfev=20000)
        except RuntimeError:
            continue
        r = func(x, *p) - y
        if np.isfinite(r @ r):
            best = min(best, float(r @ r))
    return best


def fit(name, func, jac, p0, x, y, rng):
    out = {"start": p0}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # curve_fit's defaults (method 'lm': MINPACK lmdif, forward-difference Jacobian,
            # ftol = xtol = 1.49012e-8), as the IQA evaluation scripts call it.
            popt, _, info, _, _ = curve_fit(func, x, y, p0=p0, maxfev=100000, full_output=True)
    except (RuntimeError, TypeError, ValueError) as e:
        out["error"] = str(e)
        print(f"  {name}: curve_fit failed: {e}")
        return out
    fitted = func(x, *popt)
    r = fitted - y
    out.update({
        "params": [float(p) for p in popt],
        "plcc": float(stats.pearsonr(fitted, y)[0]),
        "rmse": float(np.sqrt(np.mean(r * r))),
        "sse": float(r @ r),
        "nfev": int(info["nfev"]),
    })
    # The same minimum polished with the analytic Jacobian and tight tolerances: shows how far
    # curve_fit's own parameters are from the exact stationary point (the objective is flat
    # along some directions, so parameters are less well defined than the fitted values).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pref, _ = curve_fit(func, x, y, p0=popt, jac=jac, ftol=1e-15, xtol=1e-15, gtol=1e-15, maxfev=100000)
    rr = func(x, *pref) - y
    out["params_refined"] = [float(p) for p in pref]
    out["sse_refined"] = float(rr @ rr)
    out["best_sse"] = best_sse(func, jac, x, y, rng)
    # parity: curve_fit stopped at a minimum (polishing changes the SSE by < 1e-7 relative) and it
    # is the lowest one the multi-start search found; then any correct solver started from the
    # same values should report the same fitted PLCC/RMSE. Otherwise curve_fit was stuck (a local
    # minimum, or a valley running off to infinity) and only "no worse than curve_fit" is checkable.
    out["parity"] = bool(abs(out["sse"] - out["sse_refined"]) <= 1e-7 * out["sse"]
                         and out["sse"] <= out["best_sse"] * (1 + 1e-7))
    rel = np.max(np.abs(popt - pref) / np.maximum(np.abs(pref), 1e-300))
    # identifiable: the polished parameters stay within 1e-2 of curve_fit's (no flat direction).
    out["params_identifiable"] = bool(out["parity"] and rel <= 1e-2)
    print(f"  {name}: plcc {out['plcc']:.9f} rmse {out['rmse']:.9f} nfev {out['nfev']} sse {out['sse']:.10g} "
          f"best {out['best_sse']:.10g} parity {out['parity']} max|dp|/|p| vs refined {rel:.2e}")
    return out


def reference(name, description, x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    print(f"{name}: n={len(x)}")
    d = {
        "name": name,
        "description": description,
        "n": int(len(x)),
        "x": [float(v) for v in x],
        "y": [float(v) for v in y],
        "srcc": float(stats.spearmanr(x, y)[0]),
        "plcc": float(stats.pearsonr(x, y)[0]),
        "krcc": float(stats.kendalltau(x, y)[0]),  # tau-b, the default variant
        "rmse": float(np.sqrt(np.mean((x - y) ** 2))),
        "logistic5": fit("logistic5", logistic5, jac5, start5(x, y), x, y, np.random.default_rng(5)),
        "logistic4": fit("logistic4", logistic4, jac4, start4(x, y), x, y, np.random.default_rng(4)),
    }
    (OUT / f"{name}.json").write_text(json.dumps(d, indent=1) + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"numpy {np.__version__}, scipy {scipy.__version__}")
    rng = np.random.default_rng(20240611)

    # Many ties in both: a predictor with 6 levels against MOS rounded to half points.
    z = rng.normal(size=80)
    x = np.clip(np.round(2.0 * z + 3.5), 1, 6)
    y = np.clip(np.round(2.0 * (3.0 + 0.8 * z + 0.6 * rng.normal(size=80))) / 2.0, 1, 5)
    reference("ties", "6-level predictor vs MOS rounded to 0.5; heavy ties in both", x, y)

    # DMOS-like target: higher prediction, lower target.
    z = rng.normal(size=60)
    x = np.round(1.0 / (1.0 + np.exp(-z)) + 0.05 * rng.normal(size=60), 6)
    y = np.round(80.0 - 60.0 / (1.0 + np.exp(-1.5 * z)) + 6.0 * rng.normal(size=60), 3)
    reference("negative", "prediction in [0, 1] vs DMOS in [0, 100]; negative correlation", x, y)

    # The smallest valid size: correlations only (curve_fit refuses fewer points than parameters).
    reference("n3", "three pairs", [0.2, 0.5, 0.9], [2.1, 3.5, 3.2])

    # Dataset-sized: predictions in [0, 1] against MOS in [1, 5] through a sigmoid, plus noise.
    z = rng.normal(size=1000)
    x = np.round(1.0 / (1.0 + np.exp(-0.9 * z)) + 0.04 * rng.normal(size=1000), 6)
    y = np.round(1.0 + 4.0 / (1.0 + np.exp(-1.6 * z - 0.3)) + 0.25 * rng.normal(size=1000), 4)
    reference("n1000", "1000 predictions in [0, 1] vs MOS in [1, 5] through a sigmoid", x, y)

    # Heavy tails: Student-t (df 2) predictions and noise, so a few points sit far out.
    z = rng.standard_t(2.0, size=200)
    x = np.round(z + 0.3 * rng.standard_t(2.0, size=200), 6)
    y = np.round(50.0 + 40.0 * np.tanh(0.5 * z) + 4.0 * rng.standard_t(2.0, size=200), 4)
    reference("heavy_tails", "Student-t (df 2) predictions and noise, outliers on both axes", x, y)

    # Both on a 0-100 scale (KonIQ-10k style MOS), a mildly non-linear relation.
    z = rng.normal(size=300)
    x = np.round(np.clip(55.0 + 15.0 * z + 6.0 * rng.normal(size=300), 0, 100), 4)
    y = np.round(np.clip(60.0 + 30.0 * np.tanh(0.7 * z) + 5.0 * rng.normal(size=300), 0, 100), 4)
    reference("scale100", "prediction and MOS both on a 0-100 scale", x, y)


if __name__ == "__main__":
    main()
