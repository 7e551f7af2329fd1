"""Feature-file loading refusals and the temporal split."""

import json
import os
import tempfile
import unittest

import numpy as np

from pdm_train.data import InputError, load_features, temporal_split
from pdm_train.spec import CLASSES, FEATURE_NAMES, LABEL_HORIZON_MS

HASH = "ab" * 32
B = 12 * 3_600_000


def write(dirname, meta_overrides=None, header=None, days=100, machines=2):
    path = os.path.join(dirname, "features.csv")
    cols = header or ["machineId", "bucketTs", *FEATURE_NAMES, "label"]
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for m in range(1, machines + 1):
            for i in range(days * 2):
                f.write(",".join([str(m), str(i * B), *["1.5"] * len(FEATURE_NAMES), str(i % 5)]) + "\n")
    meta = {"featureSet": "pdm-v1", "specHash": HASH, "featureNames": list(FEATURE_NAMES), "classes": list(CLASSES),
            "bucketMs": B}
    meta.update(meta_overrides or {})
    with open(path + ".meta.json", "w") as f:
        json.dump(meta, f)
    return path


class LoadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_loads_float32_sorted_by_time(self):
        fs = load_features(write(self.tmp.name), HASH)
        self.assertEqual(fs.X.dtype, np.float32)
        self.assertEqual(fs.X.shape[1], 38)
        self.assertTrue((np.diff(fs.bucket_ms) >= 0).all())

    def test_refuses_other_spec_hash(self):
        with self.assertRaisesRegex(InputError, "differs from the running feature engine"):
            load_features(write(self.tmp.name), "cd" * 32)

    def test_refuses_reordered_feature_names(self):
        names = list(FEATURE_NAMES)
        names[0], names[1] = names[1], names[0]
        with self.assertRaisesRegex(InputError, "featureNames differ from pdm-v1 \\(position 0"):
            load_features(write(self.tmp.name, {"featureNames": names}))

    def test_refuses_header_inconsistent_with_sidecar(self):
        header = ["machineId", "bucketTs", *FEATURE_NAMES[:-1], "extra", "label"]
        with self.assertRaisesRegex(InputError, "CSV header differs"):
            load_features(write(self.tmp.name, header=header))

    def test_refuses_other_classes(self):
        with self.assertRaisesRegex(InputError, "classes are"):
            load_features(write(self.tmp.name, {"classes": ["none", "comp1"]}))


class SplitTest(unittest.TestCase):
    def test_ranges_are_ordered_and_purged_by_the_label_horizon(self):
        with tempfile.TemporaryDirectory() as d:
            fs = load_features(write(d, days=100))
        train, val, test = temporal_split(fs, 0.6, 0.2)
        b = fs.bucket_ms
        self.assertLess(b[train.mask].max() + LABEL_HORIZON_MS, b[val.mask].min())
        self.assertLess(b[val.mask].max() + LABEL_HORIZON_MS, b[test.mask].min())
        self.assertLessEqual(b[test.mask].max() + LABEL_HORIZON_MS, b.max())
        self.assertFalse((train.mask & val.mask).any() or (val.mask & test.mask).any())


if __name__ == "__main__":
    unittest.main()
