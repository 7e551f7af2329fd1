"""Unit tests of the evaluation definitions (run: train/.venv/bin/python -m unittest discover -s train/tests -t train)."""

import unittest

import numpy as np

from pdm_train.data import Failures
from pdm_train.evaluate import (
    alert_prediction,
    choose_thresholds,
    episode_precision,
    failure_within_horizon,
    lead_time,
    wilson_lower,
)

H = 3_600_000
D = 24 * H
B = 12 * H
COMPS = ["comp1", "comp2", "comp3", "comp4"]


def failures(*items):
    """items: (machine, ts, comp index 1..4)"""
    return Failures(
        np.array([m for m, _, _ in items], dtype=np.int64),
        np.array([t for _, t, _ in items], dtype=np.int64),
        np.array([c for _, _, c in items], dtype=np.int64),
    )


def grid(machine, days):
    buckets = np.arange(0, days * D, B, dtype=np.int64)
    return np.full(len(buckets), machine, dtype=np.int64), buckets


class LeadTimeTest(unittest.TestCase):
    def setUp(self):
        self.machine, self.bucket = grid(1, 30)
        self.F = 20 * D  # failure of comp2 at day 20
        self.fail = failures((1, self.F, 2))

    def fired_at(self, times, comp=2):
        fired = np.zeros((len(self.bucket), 4), dtype=bool)
        for t in times:
            fired[self.bucket == t, comp - 1] = True
        return fired

    def run_lt(self, fired):
        return lead_time(self.machine, self.bucket, fired, self.fail, 0, 30 * D, COMPS)

    def test_alert_exactly_7_days_ahead_counts(self):
        lt = self.run_lt(self.fired_at([self.F - 7 * D]))
        self.assertEqual((lt.failures, lt.caught), (1, 1))
        self.assertEqual(lt.lead_hours, [168.0])

    def test_alert_exactly_24_hours_ahead_counts(self):
        self.assertEqual(self.run_lt(self.fired_at([self.F - D])).caught, 1)

    def test_alert_12_hours_ahead_is_too_late_but_measured(self):
        lt = self.run_lt(self.fired_at([self.F - B]))
        self.assertEqual(lt.caught, 0)
        self.assertEqual(lt.lead_hours, [12.0])

    def test_alert_more_than_7_days_ahead_does_not_count(self):
        self.assertEqual(self.run_lt(self.fired_at([self.F - 7 * D - B])).caught, 0)

    def test_wrong_component_does_not_count(self):
        self.assertEqual(self.run_lt(self.fired_at([self.F - 3 * D], comp=1)).caught, 0)

    def test_failure_whose_window_leaves_the_range_is_not_counted(self):
        lt = lead_time(self.machine, self.bucket, self.fired_at([]), self.fail, 15 * D, 30 * D, COMPS)
        self.assertEqual(lt.failures, 0)


class HorizonTest(unittest.TestCase):
    def test_truth_is_failure_in_open_closed_7_day_window(self):
        machine, bucket = grid(1, 10)
        truth = failure_within_horizon(machine, bucket, failures((1, 8 * D, 3)), 4)
        hit = bucket[truth[:, 2]]
        self.assertEqual(hit.min(), 1 * D)  # B = F - 7 d is included (F <= B + 7 d)
        self.assertEqual(hit.max(), 8 * D - B)  # B = F is excluded (F > B)
        self.assertFalse(truth[:, [0, 1, 3]].any())


class ThresholdTest(unittest.TestCase):
    def test_smallest_threshold_from_which_the_precision_bound_stays_above_target(self):
        rng = np.random.default_rng(0)
        n = 4000
        truth = np.zeros((n, 4), dtype=bool)
        truth[: n // 4, 0] = True
        p = np.zeros((n, 5))
        p[:, 1] = np.where(truth[:, 0], rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.5, n))
        th, reached = choose_thresholds(p, truth, 0.9)
        self.assertTrue(reached[0])

        def bound(t):
            fired = p[:, 1] >= t
            return wilson_lower(int(truth[fired, 0].sum()), int(fired.sum()), 1.645)

        for t in np.arange(th[0], 0.99, 0.01):
            self.assertGreaterEqual(bound(t), 0.9)
            self.assertGreaterEqual(truth[p[:, 1] >= t, 0].mean(), 0.9)
        self.assertLess(bound(th[0] - 0.01), 0.9)

    def test_wilson_lower_bound(self):
        self.assertAlmostEqual(wilson_lower(70, 100, 1.645), 0.6202, places=3)
        self.assertLess(wilson_lower(7, 10, 1.645), wilson_lower(700, 1000, 1.645))
        self.assertEqual(wilson_lower(0, 0, 1.645), 0.0)

    def test_unreachable_target_is_flagged(self):
        truth = np.zeros((100, 4), dtype=bool)
        p = np.full((100, 5), 0.5)
        _, reached = choose_thresholds(p, truth, 0.7)
        self.assertEqual(reached, [False] * 4)


class AlertRuleTest(unittest.TestCase):
    def test_strongest_alert_relative_to_its_threshold(self):
        th = np.array([0.3, 0.4, 0.5, 0.6])
        p = np.array([[0.9, 0.05, 0.02, 0.02, 0.01], [0.2, 0.32, 0.48, 0, 0], [0.5, 0.3, 0.1, 0.05, 0.05]])
        self.assertEqual(alert_prediction(p, th).tolist(), [0, 2, 1])


class EpisodeTest(unittest.TestCase):
    def test_consecutive_alerts_form_one_episode(self):
        machine, bucket = grid(1, 30)
        fired = np.zeros((len(bucket), 4), dtype=bool)
        fired[(bucket >= 10 * D) & (bucket <= 12 * D), 0] = True  # true: failure at day 15
        fired[(bucket >= 25 * D) & (bucket <= 25 * D), 0] = True  # false: no failure after it
        ep = episode_precision(machine, bucket, fired, failures((1, 15 * D, 1)), B)
        self.assertEqual(ep, {"episodes": 2, "true": 1, "precision": 0.5})


if __name__ == "__main__":
    unittest.main()
