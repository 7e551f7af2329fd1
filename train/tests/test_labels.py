"""The label rule in Python (mirror of src/features/label.ts, FEATURES.md "Label", revision 2 tie rule)."""

import unittest

import numpy as np

from pdm_train.data import FeatureSet, Failures, InputError, labels_from_failures, verify_labels
from pdm_train.spec import LABEL_HORIZON_MS

H = 3_600_000
D = 24 * H
B = 1_420_070_400_000 + 36 * H  # 2015-01-02T12:00Z, a bucket instant


def failures(*rows):
    """rows: (machine, ts, comp 1..4)."""
    m, t, c = zip(*rows) if rows else ((), (), ())
    return Failures(np.array(m, dtype=np.int64), np.array(t, dtype=np.int64), np.array(c, dtype=np.int64))


def label(*rows, machine=1, bucket=B):
    return int(labels_from_failures(np.array([machine]), np.array([bucket], dtype=np.int64), failures(*rows))[0])


class LabelRuleTest(unittest.TestCase):
    def test_table(self):
        cases = [
            ("no failures", [], 0),
            ("failure at B is the past of B", [(1, B, 2)], 0),
            ("failure at B + 1 ms", [(1, B + 1, 2)], 2),
            ("failure at exactly B + 7 d", [(1, B + LABEL_HORIZON_MS, 4)], 4),
            ("failure at B + 7 d + 1 ms", [(1, B + LABEL_HORIZON_MS + 1, 4)], 0),
            ("earliest of several wins", [(1, B + 3 * D, 1), (1, B + D, 3)], 3),
            ("other machine does not count", [(2, B + D, 1)], 0),
            ("same instant: lowest component", [(1, B + D, 4), (1, B + D, 2)], 2),
            ("same instant, three components, any order", [(1, B + D, 3), (1, B + D, 1), (1, B + D, 4)], 1),
            ("an earlier higher component beats a later tie", [(1, B + D, 4), (1, B + 2 * D, 1), (1, B + 2 * D, 2)], 4),
            ("a tie before B is ignored", [(1, B, 1), (1, B, 2), (1, B + D, 3)], 3),
        ]
        for name, rows, expected in cases:
            with self.subTest(name):
                self.assertEqual(label(*rows), expected)

    def test_order_of_failures_file_does_not_matter(self):
        rng = np.random.default_rng(7)
        rows = [(1, B + (k % 5) * D, 1 + k % 4) for k in range(20)]
        buckets = np.arange(-4, 12, dtype=np.int64) * 12 * H + B
        machine = np.ones(len(buckets), dtype=np.int64)
        first = labels_from_failures(machine, buckets, failures(*rows))
        for _ in range(5):
            shuffled = [rows[i] for i in rng.permutation(len(rows))]
            np.testing.assert_array_equal(labels_from_failures(machine, buckets, failures(*shuffled)), first)
        # After B + 12 h the next instant with failures is B + D (k = 1, 6, 11, 16: comp2, comp3, comp4, comp1).
        self.assertEqual(int(first[list(buckets).index(B + 12 * H)]), 1)

class VerifyLabelsTest(unittest.TestCase):
    def feature_set(self, y):
        buckets = np.array([B, B + 12 * H], dtype=np.int64)
        return FeatureSet(meta={}, feature_names=[], classes=[], machine=np.array([1, 1]), bucket_ms=buckets,
                          X=np.zeros((2, 0), dtype=np.float32), y=np.array(y, dtype=np.int64))

    def test_accepts_agreeing_labels(self):
        verify_labels(self.feature_set([2, 2]), failures((1, B + D, 4), (1, B + D, 2)))

    def test_refuses_a_file_labelled_with_another_tie_rule(self):
        with self.assertRaisesRegex(InputError, "2 labels of the feature file differ .* machine 1, bucketTs"):
            verify_labels(self.feature_set([4, 4]), failures((1, B + D, 4), (1, B + D, 2)))


if __name__ == "__main__":
    unittest.main()
