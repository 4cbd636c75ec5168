"""The audit sample: reproducible from its seed, drawn only from households the model did not warn."""

from __future__ import annotations

import pytest
from review_runs import make_scores

from risk.review.audit import draw_audit_sample, new_audit_seed


def test_same_seed_same_households_whatever_the_row_order() -> None:
    scores = make_scores(200, warned=20)
    first = draw_audit_sample(scores, size=15, seed=42)
    shuffled = scores.sample(frac=1.0, random_state=3)
    again = draw_audit_sample(shuffled, size=15, seed=42)
    assert first["household_id"].tolist() == again["household_id"].tolist()
    assert len(first) == 15 and first["household_id"].is_unique
    assert first["rank"].is_monotonic_increasing


def test_only_non_warned_households_and_seeds_matter() -> None:
    scores = make_scores(200, warned=20)
    drawn = draw_audit_sample(scores, size=30, seed=1)
    assert not drawn["warned"].any() and (drawn["rank"] > 20).all()
    other = draw_audit_sample(scores, size=30, seed=2)
    assert set(drawn["household_id"]) != set(other["household_id"])
    spread = drawn["rank"].max() - drawn["rank"].min()
    assert spread > 90  # uniform over the whole lower list, not its top


def test_small_pools_and_sizes() -> None:
    scores = make_scores(10, warned=7)
    assert sorted(draw_audit_sample(scores, size=20, seed=0)["household_id"]) == [
        "H008",
        "H009",
        "H010",
    ]
    assert draw_audit_sample(scores, size=0, seed=0).empty
    with pytest.raises(ValueError, match="≥ 0"):
        draw_audit_sample(scores, size=-1, seed=0)
    assert 0 <= new_audit_seed() < 2**31
