"""The Dask engine gives the local engine's outputs, file for file, on a 2-worker LocalCluster."""

from __future__ import annotations

import pandas as pd
import pytest
from scoring_county import SCORING_MONTH

from risk.config import FanpinConfig
from risk.engine_dask import county_partitions, partition_tables, score_month_dask
from risk.run_context import EXPLANATIONS_FILE, SCORES_FILE

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_run(client, scoring_tables, scoring_model, scoring_county_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("dask") / SCORING_MONTH
    return score_month_dask(
        scoring_tables,
        month=SCORING_MONTH,
        model=scoring_model,
        config=FanpinConfig(),
        out_dir=out,
        data_dir=scoring_county_dir,
        progress=False,
        client=client,
    )


def test_scores_are_identical_to_local(dask_run, scored_run) -> None:
    local = pd.read_parquet(scored_run.out_dir / SCORES_FILE)
    dask = pd.read_parquet(dask_run.out_dir / SCORES_FILE)
    pd.testing.assert_frame_equal(dask, local, check_exact=True)
    assert (dask_run.out_dir / SCORES_FILE).read_bytes() == (
        scored_run.out_dir / SCORES_FILE
    ).read_bytes()


def test_explanations_are_identical_to_local(dask_run, scored_run) -> None:
    local = pd.read_parquet(scored_run.out_dir / EXPLANATIONS_FILE)
    dask = pd.read_parquet(dask_run.out_dir / EXPLANATIONS_FILE)
    assert len(local) > 0
    pd.testing.assert_frame_equal(dask, local, check_exact=True)


def test_counts_and_run_id_match(dask_run, scored_run) -> None:
    assert dask_run.run_id == scored_run.run_id
    assert dask_run.counts == scored_run.counts
    assert set(dask_run.timings) == set(scored_run.timings)


def test_partitions_keep_counties_whole_and_cover_everyone(scoring_tables) -> None:
    groups = county_partitions(scoring_tables.households, n_partitions=4)
    assert sorted(c for g in groups for c in g) == sorted(
        scoring_tables.households["county"].astype(str).unique()
    )
    parts = [partition_tables(scoring_tables, g) for g in groups]
    assert sum(len(p.households) for p in parts) == len(scoring_tables.households)
    assert sum(len(p.members) for p in parts) == len(scoring_tables.members)
    for part, group in zip(parts, groups, strict=True):
        assert set(part.households["county"].astype(str)) == set(group)
        people = set(part.members["person_id"].astype(str))
        assert set(part.medical["person_id"].astype(str)) <= people


def test_train_dask_returns_a_local_booster(client) -> None:
    import numpy as np

    from risk.engine_dask import train_dask

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 4)), columns=list("abcd"))
    y = (X["a"] + 0.5 * rng.normal(size=2000) > 0).astype(int)
    booster = train_dask(
        X, y, params={"num_leaves": 7, "min_child_samples": 20}, n_estimators=15, client=client
    )
    assert booster.num_trees() == 15
    raw = booster.predict(X.to_numpy(), raw_score=True)
    assert np.corrcoef(raw, X["a"])[0, 1] > 0.8


def test_risk_model_grows_its_trees_on_dask_and_stops_where_held_out_loss_is_lowest(client) -> None:
    import numpy as np

    from risk.engine_dask import dask_tree_trainer
    from training.model import RiskModel

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(4000, 4)), columns=list("abcd"))
    X["region"] = pd.Categorical(rng.choice(["东", "西"], size=4000))
    y = (X["a"] + 0.8 * rng.normal(size=4000) > 0.5).astype(int).to_numpy()
    params = {"n_estimators": 300, "learning_rate": 0.3, "min_child_samples": 20}
    model = RiskModel(**params, n_jobs=1).fit(
        X.iloc[:3000],
        y[:3000],
        eval_set=(X.iloc[3000:], y[3000:]),
        tree_trainer=dask_tree_trainer(client=client),
    )
    # 300 trees at a high rate overfit: the held-out loss turns, and the trees are cut there
    assert 1 <= model.best_iteration_ < 300
    proba = model.predict_proba(X.iloc[3000:])[:, 1]
    assert ((proba >= 0) & (proba <= 1)).all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[3000:], proba) > 0.8
