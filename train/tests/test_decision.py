"""Issue 13, item 0: the package's decision (warm-up rule), per-component precision with Wilson intervals and
the threshold choice over calibration fleets."""

import unittest

import numpy as np

from pdm_train.evaluate import (
    THRESHOLD_GRID,
    choose_thresholds,
    choose_thresholds_sets,
    decide,
    per_component_precision,
    prediction_lower,
    warming_up,
    wilson_interval,
)
from pdm_train.spec import FEATURE_NAMES

NAMES = list(FEATURE_NAMES)
SENSORS = ("volt", "rotate", "pressure", "vibration")


def rows(n: int, warm: bool) -> np.ndarray:
    X = np.arange(n * len(NAMES), dtype=np.float64).reshape(n, len(NAMES)) * 0.5 + 1
    if warm:
        for s in SENSORS:
            for stat in ("mean", "std"):
                X[:, NAMES.index(f"{s}_{stat}_36h")] = X[:, NAMES.index(f"{s}_{stat}_24h")]
    return X


class WarmUpTest(unittest.TestCase):
    def test_warm_rows_are_those_whose_36h_windows_equal_their_24h_windows(self):
        X = np.vstack([rows(3, False), rows(2, True)])
        self.assertEqual(warming_up(X, NAMES).tolist(), [False, False, False, True, True])

    def test_one_differing_window_is_not_warming_up(self):
        for s in SENSORS:
            for stat in ("mean", "std"):
                X = rows(1, True)
                X[0, NAMES.index(f"{s}_{stat}_36h")] += 1e-9
                self.assertFalse(warming_up(X, NAMES)[0], f"{s}_{stat}")

    def test_same_answer_in_float32(self):
        X = np.vstack([rows(3, False), rows(2, True)])
        self.assertEqual(warming_up(X.astype(np.float32), NAMES).tolist(), warming_up(X, NAMES).tolist())

    def test_warming_up_rows_never_alert(self):
        proba = np.array([[0.0, 0.9, 0.0, 0.0, 0.1], [0.0, 0.9, 0.0, 0.0, 0.1]])
        th = np.array([0.5, 0.5, 0.5, 0.5])
        fired = decide(proba, th, np.array([False, True]))
        self.assertEqual(fired.tolist(), [[True, False, False, False], [False, False, False, False]])


class IntervalTest(unittest.TestCase):
    def test_wilson_interval_known_values(self):
        lo, hi = wilson_interval(70, 100)
        # Wilson 95 % for 70/100: [0.6041, 0.7810]
        self.assertAlmostEqual(lo, 0.6041, places=3)
        self.assertAlmostEqual(hi, 0.7810, places=3)
        self.assertIsNone(wilson_interval(0, 0))
        lo, hi = wilson_interval(0, 10)
        self.assertAlmostEqual(lo, 0.0)
        self.assertGreater(hi, 0.0)

    def test_per_component_precision_counts_and_intervals(self):
        fired = np.array([[True, False], [True, True], [False, True], [True, False]])
        truth = np.array([[True, False], [False, True], [False, False], [True, True]])
        out = per_component_precision(fired, truth, ["comp1", "comp2"])
        self.assertEqual((out["comp1"]["alerts"], out["comp1"]["true"]), (3, 2))
        self.assertEqual((out["comp2"]["alerts"], out["comp2"]["true"]), (2, 1))
        self.assertEqual((out["pooled"]["alerts"], out["pooled"]["true"]), (5, 3))
        lo, hi = out["comp1"]["ci95"]
        self.assertLess(lo, 2 / 3)
        self.assertGreater(hi, 2 / 3)

    def test_prediction_lower_is_below_the_mean_by_the_spread(self):
        self.assertTrue(np.isnan(prediction_lower(np.array([0.8, 0.7]))))
        self.assertAlmostEqual(prediction_lower(np.array([0.75, 0.75, 0.75])), 0.75)
        vals = np.array([0.72, 0.75, 0.78, 0.74, 0.76])
        self.assertLess(prediction_lower(vals), vals.min())


def fleet(n: int, precision_at: callable, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One component (index 1): P(c) uniform on [0, 1); an alert at P is right with probability
    precision_at(P)."""
    rng = np.random.default_rng(seed)
    p1 = rng.random(n)
    proba = np.zeros((n, 2))
    proba[:, 1] = p1
    proba[:, 0] = 1 - p1
    truth = (rng.random(n) < precision_at(p1))[:, None]
    return proba, truth


class ThresholdChoiceTest(unittest.TestCase):
    def test_one_set_is_the_validation_rule(self):
        proba, truth = fleet(20_000, lambda p: p, seed=1)
        th1, ok1 = choose_thresholds(proba, truth, 0.7)
        th2, ok2 = choose_thresholds_sets([(proba, truth)], 0.7)
        self.assertEqual(th1.tolist(), th2.tolist())
        self.assertEqual(ok1, ok2)
        # Precision of alerts at P >= t is (1 + t) / 2 here: 0.7 from t = 0.4, a bit later for the bound.
        self.assertTrue(ok1[0])
        self.assertGreaterEqual(th1[0], 0.4)
        self.assertLessEqual(th1[0], 0.45)

    def test_the_worst_calibration_fleet_decides(self):
        good = fleet(20_000, lambda p: p, seed=2)
        worse = fleet(20_000, lambda p: np.clip(p - 0.1, 0, 1), seed=3)  # precision (1 + t) / 2 - 0.1
        th_good, _ = choose_thresholds_sets([good], 0.7)
        th_both, ok = choose_thresholds_sets([good], 0.7, fleets=[worse])
        self.assertTrue(ok[0])
        self.assertGreater(th_both[0], th_good[0] + 0.15)

    def test_between_fleet_spread_raises_the_threshold(self):
        """Fleets whose precision varies more than their sampling noise: the prediction bound for a new fleet
        needs a higher threshold than every fleet's own bound."""
        shifts = [0.0, -0.04, 0.03, -0.02, 0.02, -0.05]
        fleets = [fleet(20_000, lambda p, d=d: np.clip(p + d, 0, 1), seed=10 + i) for i, d in enumerate(shifts)]
        th_each, _ = choose_thresholds_sets(fleets, 0.7)  # as plain sets: worst-set bound only
        th_pred, ok = choose_thresholds_sets(fleets[:1], 0.7, fleets=fleets)
        self.assertTrue(ok[0])
        self.assertGreater(th_pred[0], th_each[0])
        self.assertIn(th_pred[0], THRESHOLD_GRID)

    def test_unreachable_target_is_flagged(self):
        proba, truth = fleet(5_000, lambda p: np.full_like(p, 0.3), seed=4)
        _, ok = choose_thresholds_sets([(proba, truth)], 0.7)
        self.assertFalse(ok[0])


if __name__ == "__main__":
    unittest.main()
