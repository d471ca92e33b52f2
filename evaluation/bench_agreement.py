"""Benchmark: reliability coefficients and bootstrap CIs against the krippendorff package.

Run: ``python evaluation/bench_agreement.py``. Checks, in one run:

1. Krippendorff's alpha and Gwet's AC1 (isp_nlp.agreement.coefficients, from the raw
   units x coders array: encoding included) on 5 coders x 100,000 units with
   realistic agreement and 10 % missing, each within 2x the time of
   ``krippendorff.alpha`` on the same data (best of 3 runs each).
2. Bootstrap: 1,000 resamples of 10,000 units x 3 coders in 10 s or less
   (alpha and AC1 each).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from isp_nlp.agreement.bootstrap import bootstrap  # noqa: E402
from isp_nlp.agreement.coefficients import unit_stats  # noqa: E402
from isp_nlp.agreement.ratings import encode  # noqa: E402


def simulate(n_units: int, n_coders: int, *, seed: int, agree: float = 0.75,
             n_labels: int = 5, missing: float = 0.10) -> np.ndarray:
    """Units x coders labels: each coder copies the unit's true label with prob. ``agree``."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, n_units)
    noise = rng.integers(0, n_labels, (n_units, n_coders))
    data = np.where(rng.random((n_units, n_coders)) < agree, truth[:, None], noise)
    data = data.astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def best_time(fn: Callable[[], float], repeat: int = 3) -> tuple[float, float]:
    best, value = float("inf"), float("nan")
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> int:
    import krippendorff

    ok = True
    data = simulate(100_000, 5, seed=1)
    t_pkg, a_pkg = best_time(lambda: krippendorff.alpha(reliability_data=data.T,
                                                        level_of_measurement="nominal"))
    t_alpha, a_own = best_time(lambda: unit_stats(encode(data), "alpha").estimate())
    t_ac1, ac1 = best_time(lambda: unit_stats(encode(data), "ac1").estimate())
    print("5 coders x 100,000 units, 10 % missing (best of 3)")
    print(f"  krippendorff.alpha     {t_pkg:7.3f} s  alpha = {a_pkg:.6f}")
    for name, t, v in (("isp_nlp alpha", t_alpha, a_own), ("isp_nlp AC1", t_ac1, ac1)):
        ratio = t / t_pkg
        passed = ratio <= 2.0
        ok &= passed
        print(f"  {name:<22} {t:7.3f} s  value = {v:.6f}  ratio {ratio:4.2f}x  "
              f"{'PASS' if passed else 'FAIL'} (<= 2x)")
    same = abs(a_own - a_pkg) < 1e-9
    ok &= same
    print(f"  alpha equals the package: {'PASS' if same else 'FAIL'}")

    small = encode(simulate(10_000, 3, seed=2))
    print("Bootstrap: 1,000 resamples of 10,000 units x 3 coders")
    for metric in ("alpha", "ac1"):
        start = time.perf_counter()
        est = bootstrap(unit_stats(small, metric), n_resamples=1000, seed=0)
        elapsed = time.perf_counter() - start
        passed = elapsed <= 10.0
        ok &= passed
        print(f"  {metric:<6} {elapsed:7.3f} s  {est.value:.4f} [{est.ci_low:.4f}, "
              f"{est.ci_high:.4f}]  {'PASS' if passed else 'FAIL'} (<= 10 s)")
    print("ALL PASS" if ok else "SOME FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
