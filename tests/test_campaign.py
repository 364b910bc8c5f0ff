"""The bad-input campaign (``tests/campaign_cases.py``), small, in a child process: a crash
(a segfault, an abort) fails this test instead of the run."""

import os

import pytest

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "campaign_cases.py")


@pytest.mark.slow
def test_bad_input_campaign_in_a_child_process(run_python):
    done = run_python("-m", "pytest", CASES, "-q", "-x", "-p", "no:cacheprovider", timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
