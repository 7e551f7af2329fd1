"""The forest size of the candidates (train.py --forest-trees): the default package's 200 trees, 30 with
--fast, and an explicit count over both; a count below 1 is refused before any data is read (train.sh: before
it simulates anything)."""

import os
import subprocess
import sys
import unittest

from pdm_train import candidates as cand

TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_PY = os.path.join(TRAIN_DIR, "train.py")
TRAIN_SH = os.path.join(os.path.dirname(TRAIN_DIR), "scripts", "train.sh")


class ForestSize(unittest.TestCase):
    def test_default_and_fast(self):
        self.assertEqual(cand.make("random_forest", 42, False).n_estimators, 200)
        self.assertEqual(cand.make("random_forest", 42, True).n_estimators, 30)

    def test_override_wins_over_fast(self):
        self.assertEqual(cand.make("random_forest", 42, False, 50).n_estimators, 50)
        self.assertEqual(cand.make("random_forest", 42, True, 50).n_estimators, 50)

    def test_boosting_ignores_it(self):
        self.assertEqual(cand.make("hist_gradient_boosting", 42, False, 50).max_iter, 200)

    def test_count_below_one_is_refused(self):
        for bad in ("0", "-3", "many"):
            r = subprocess.run(
                [sys.executable, TRAIN_PY, "--features", "/nonexistent.csv", "--out", "/nonexistent",
                 "--forest-trees", bad],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--forest-trees", r.stderr)

    def test_train_sh_refuses_it_before_simulating(self):
        for bad in ("0", "x1", "-5"):
            r = subprocess.run(["bash", TRAIN_SH, "--forest-trees", bad, "--out", "/nonexistent"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 64, r.stderr)
            self.assertIn(f"--forest-trees takes a whole number ≥ 1, got '{bad}'", r.stderr)

    def test_train_sh_help_is_the_whole_header(self):
        r = subprocess.run(["bash", TRAIN_SH, "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--forest-trees N", r.stdout)
        self.assertTrue(r.stdout.rstrip().endswith("# never needs Python at run time."), r.stdout[-200:])
        self.assertNotIn("set -euo pipefail", r.stdout)


if __name__ == "__main__":
    unittest.main()
