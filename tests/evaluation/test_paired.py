"""The sign-flip randomisation test of benchmarks/paired.py against exact values: with n differences of one
sign, exactly 2 of the 2^n sign patterns reach the observed |mean|; with differences whose every flip gives
the same |mean| (one query), every pattern does."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.paired import sign_flip_p


def test_differences_of_one_sign_match_the_exact_p_value():
    differences = np.full(8, 0.1)  # exact two-sided p = 2 / 256
    assert sign_flip_p(differences, rounds=200_000) == pytest.approx(2 / 256, abs=0.002)


def test_a_mixed_sample_matches_full_enumeration():
    differences = np.array([0.3, -0.1, 0.2, 0.05, -0.2, 0.4])
    patterns = np.array(np.meshgrid(*[[-1.0, 1.0]] * 6)).reshape(6, -1).T
    exact = np.mean(np.abs((patterns * differences).mean(1)) >= abs(differences.mean()) - 1e-12)
    assert sign_flip_p(differences, rounds=200_000) == pytest.approx(exact, abs=0.005)


def test_no_difference_at_all_is_not_significant():
    assert sign_flip_p(np.zeros(20)) == 1.0
    assert sign_flip_p(np.array([0.5])) == 1.0


def test_the_seeds_and_queries_bootstrap_sees_a_seed_that_disagrees():
    """Queries that agree within each seed give a tiny sign-flip p; when one seed of three reverses the
    difference, resampling the seeds too must not call it settled, while seeds that agree still are."""
    from benchmarks.paired import seeds_and_queries_p

    rng = np.random.default_rng(0)
    noise = 0.01 * rng.standard_normal((3, 200))
    agree = np.array([[0.02], [0.03], [0.025]]) + noise
    split = np.array([[0.04], [-0.03], [0.05]]) + noise  # mean +0.02, seed 2 reversed
    assert sign_flip_p(split.mean(0)) < 0.001 and sign_flip_p(agree.mean(0)) < 0.001
    assert seeds_and_queries_p(agree) < 0.001
    assert seeds_and_queries_p(split) > 0.05


def test_a_model_at_an_experiment_is_read_from_that_experiment(monkeypatch):
    """``--models lead_de lead_de@workspace``: B from the workspace whatever experiment A is read from."""
    from benchmarks import paired

    monkeypatch.setattr(paired, "Experiment", lambda name: ("experiment", name))
    where, model = paired._where("lead_de@workspace", "abl-k1")
    assert isinstance(where, paired.Workspace) and model == "lead_de"
    assert paired._where("lead_de", "abl-k1") == (("experiment", "abl-k1"), "lead_de")
    assert paired._where("lead_de@abl-k3", "abl-k1") == (("experiment", "abl-k3"), "lead_de")
