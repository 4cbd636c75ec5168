"""Evaluation: list metrics first (precision/recall at capacity), then AUC, calibration, fairness by group.

Every model and baseline is judged on exactly the same rows. Shares of households ("0.05" = the top 5%
of each validation month pooled) are the capacity a county can review; ties in a score are broken by a
seeded random order so a coarse score (the rules) is not flattered by row order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

SHARES: tuple[float, ...] = (0.05, 0.10, 0.20)


def share_key(share: float) -> str:
    """The evaluation.json key of a share: 0.05 → "0.05", 0.1 → "0.10"."""
    return f"{share:.2f}"


def top_share(score: np.ndarray, share: float, *, seed: int = 0) -> np.ndarray:
    """Boolean mask of the top `share` of rows by score (ceil), ties in random (seeded) order."""
    score = np.asarray(score, dtype=float)
    n_top = int(np.ceil(share * len(score)))
    tiebreak = np.random.default_rng(seed).random(len(score))
    order = np.lexsort((tiebreak, -np.nan_to_num(score, nan=-np.inf)))
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, *, bins: int = 10) -> float:
    """ECE with `bins` equal-width probability bins: Σ (n_bin / n) · |mean(y) − mean(p)| per bin."""
    y = np.asarray(y, dtype=float)
    probability = np.asarray(probability, dtype=float)
    which = np.minimum((probability * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            total += rows.sum() / len(y) * abs(y[rows].mean() - probability[rows].mean())
    return float(total)


def score_metrics(
    y: np.ndarray,
    score: np.ndarray,
    *,
    calibrated: bool,
    shares: Sequence[float] = SHARES,
    seed: int = 0,
) -> dict[str, Any]:
    """AUC, PR-AUC, precision/recall at each share; Brier and ECE when `score` is a probability.

    Examples
    --------
    >>> m = score_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.4]), calibrated=True,
    ...                   shares=[0.5])
    >>> m["auc"], m["recall_at"]["0.50"], m["precision_at"]["0.50"]
    (1.0, 1.0, 1.0)
    """
    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    filled = np.nan_to_num(score, nan=np.nanmin(score) if np.isfinite(score).any() else 0.0)
    metrics: dict[str, Any] = {
        "auc": _safe(roc_auc_score, y, filled),
        "pr_auc": _safe(average_precision_score, y, filled),
        "brier": float(brier_score_loss(y, score)) if calibrated else None,
        "ece": expected_calibration_error(y, score) if calibrated else None,
        "precision_at": {},
        "recall_at": {},
    }
    positives = max(int(y.sum()), 1)
    for share in shares:
        flagged = top_share(score, share, seed=seed)
        metrics["precision_at"][share_key(share)] = (
            float(y[flagged].mean()) if flagged.any() else 0.0
        )
        metrics["recall_at"][share_key(share)] = float(y[flagged].sum() / positives)
    return metrics


def group_metrics(
    y: np.ndarray,
    flagged: np.ndarray,
    groups: pd.DataFrame,
    *,
    n_boot: int = 500,
    min_positives: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """Recall and false-positive rate at the operating point, by group, with 95% bootstrap CIs.

    The bootstrap resamples a group's positives and negatives separately (stratified); for a
    proportion that is the same as drawing `Binomial(n, p̂) / n`, which is what is done. A group's gap
    is *flagged* when its whole interval lies on one side of the overall value (recall below it, or
    false-positive rate above it). Groups with fewer than `min_positives` positives are reported
    without a flag (too small to say).

    Returns
    -------
    dict
        ``{"overall": {...}, "<group column>": {"<value>": {n, positives, recall, recall_ci, fpr,
        fpr_ci, recall_gap, fpr_gap, flagged}}}``
    """
    y = np.asarray(y, dtype=int)
    flagged = np.asarray(flagged, dtype=bool)
    rng = np.random.default_rng(seed)
    overall_recall = _rate(flagged[y == 1])
    overall_fpr = _rate(flagged[y == 0])
    result: dict[str, Any] = {
        "overall": {
            "n": int(len(y)),
            "positives": int(y.sum()),
            "recall": overall_recall,
            "fpr": overall_fpr,
        }
    }
    for column in groups.columns:
        values = groups[column].astype("string").fillna("未知").to_numpy()
        result[str(column)] = {
            str(value): _one_group(
                y[values == value],
                flagged[values == value],
                rng=rng,
                n_boot=n_boot,
                min_positives=min_positives,
                overall=(overall_recall, overall_fpr),
            )
            for value in sorted(pd.unique(values))
        }
    return result


def _one_group(
    y: np.ndarray,
    flagged: np.ndarray,
    *,
    rng: np.random.Generator,
    n_boot: int,
    min_positives: int,
    overall: tuple[float | None, float | None],
) -> dict[str, Any]:
    recall, recall_ci = _rate_ci(flagged[y == 1], rng=rng, n_boot=n_boot)
    fpr, fpr_ci = _rate_ci(flagged[y == 0], rng=rng, n_boot=n_boot)
    recall_low = recall_ci[1] is not None and overall[0] is not None and recall_ci[1] < overall[0]
    fpr_high = fpr_ci[0] is not None and overall[1] is not None and fpr_ci[0] > overall[1]
    enough = int(y.sum()) >= min_positives
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "recall": recall,
        "recall_ci": recall_ci,
        "fpr": fpr,
        "fpr_ci": fpr_ci,
        "recall_gap": None if recall is None or overall[0] is None else recall - overall[0],
        "fpr_gap": None if fpr is None or overall[1] is None else fpr - overall[1],
        "flagged": bool(enough and (recall_low or fpr_high)),
        "too_small": not enough,
    }


def _rate(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _rate_ci(
    values: np.ndarray, *, rng: np.random.Generator, n_boot: int
) -> tuple[float | None, list[float | None]]:
    if len(values) == 0:
        return None, [None, None]
    rate = float(values.mean())
    draws = rng.binomial(len(values), rate, size=n_boot) / len(values)
    return rate, [float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))]


def recall_share_curve(
    y: np.ndarray, score: np.ndarray, *, points: int = 50, seed: int = 0
) -> pd.DataFrame:
    """Recall and precision as the reviewed share grows (for the capacity plot)."""
    y = np.asarray(y, dtype=int)
    tiebreak = np.random.default_rng(seed).random(len(y))
    order = np.lexsort((tiebreak, -np.nan_to_num(np.asarray(score, float), nan=-np.inf)))
    hits = np.cumsum(y[order])
    shares = np.linspace(0.01, 0.5, points)
    counts = np.maximum(np.ceil(shares * len(y)).astype(int), 1)
    return pd.DataFrame(
        {
            "share": shares,
            "recall": hits[counts - 1] / max(int(y.sum()), 1),
            "precision": hits[counts - 1] / counts,
        }
    )


def comparison_table(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    """One row per scorer (model, baselines, oracle, champion): AUC, recall and precision at shares."""
    rows = [("model", evaluation)]
    rows += list(evaluation.get("baselines", {}).items())
    for extra in ("oracle", "champion"):
        if evaluation.get(extra) and evaluation[extra].get("auc") is not None:
            rows.append((extra, evaluation[extra]))
    records = []
    for name, metrics in rows:
        record = {"scorer": name, "auc": metrics.get("auc"), "pr_auc": metrics.get("pr_auc")}
        for share in SHARES:
            key = share_key(share)
            record[f"recall@{key}"] = metrics.get("recall_at", {}).get(key)
            record[f"precision@{key}"] = metrics.get("precision_at", {}).get(key)
        record["ece"] = metrics.get("ece")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _safe(metric: Any, y: np.ndarray, score: np.ndarray) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    return float(metric(y, score))


# --------------------------------------------------------------------------- evaluation.html
_SCORER_LABELS = {
    "model": "模型 model",
    "rules": "部门规则 rules",
    "logistic": "逻辑回归 logistic",
    "income_ratio": "收入/监测线 income ratio",
    "plain_reference": "朴素参照 plain LightGBM",
    "oracle": "真值 oracle",
}

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>模型评估 evaluation — {{ title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.flag{background:#fde2e2}.ok{color:#1a7f37}.bad{color:#b42318}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
</style></head><body>
<h1>模型评估 Model evaluation</h1>
<p>模型版本 model version: <b>{{ e.model_version }}</b> · 验证月份 validation months: {{ e.split.valid if e.split else e.validation }}
· 训练行 n_train {{ e.n_train }} · 验证行 n_valid {{ e.n_valid }} · 正例率 positive rate {{ '%.4f'|format(e.positive_rate) }}</p>
{% if e.promotion %}<p>冠军 champion: <b class="{{ 'ok' if e.promotion.promoted else 'bad' }}">{{ '已晋升 promoted' if e.promotion.promoted else '未晋升 kept as challenger' }}</b> — {{ e.promotion.reason }}</p>{% endif %}
{% if e.registered_model %}<p>登记模型 registered model: <b>{{ e.registered_model.candidate }}</b> refitted on {{ e.registered_model.fitted_on }}
({{ e.registered_model.n_rows }} rows{% if e.registered_model.trees %}, {{ e.registered_model.trees }} trees{% endif %}, {{ e.registered_model.calibration.method }} calibration tuned on {{ e.registered_model.tuned_on }}).</p>{% endif %}
{% if e.metrics_of %}<p>下列指标 The figures below are those of {{ e.metrics_of }}</p>{% endif %}
<h2>对比 Comparison on the same rows</h2>
{{ table }}
{% if candidates %}<h2>候选模型 Candidates</h2>
<p>选择规则 criterion: {{ e.candidates.criterion }}{% if e.candidates.selected_on is mapping and e.candidates.selected_on.method == "household folds" %} · 选择方式 chosen on: {{ e.candidates.selected_on.folds }} 折按户交叉验证 household folds within {{ e.candidates.selected_on.train }} — {{ e.candidates.selected_on.note }}{% elif e.candidates.selected_on is mapping %} · 选择用月份 chosen on: train {{ e.candidates.selected_on.train }}, gap {{ e.candidates.selected_on.gap }}, validation {{ e.candidates.selected_on.valid }}{% elif e.candidates.selected_on %} · {{ e.candidates.selected_on }}{% endif %}{% if e.candidates.note %} · {{ e.candidates.note }}{% endif %}</p>
{{ candidates }}{% endif %}
{% for name, img in images %}<h2>{{ name }}</h2><img alt="{{ name }}" src="data:image/png;base64,{{ img }}">{% endfor %}
{% if e.monotone %}<h2>单调约束 Monotone constraints</h2>
<p>约束特征 constrained: {{ e.monotone.constrained_features|length }} ·
AUC with {{ '%.4f'|format(e.monotone.with_constraints.auc) }} vs without {{ '%.4f'|format(e.monotone.without_constraints.auc) }}</p>{% endif %}
<h2>分组 Groups at the operating point (top {{ (e.operating_point.share * 100)|round(1) }}%)</h2>
{{ groups }}
<p>flagged: 95% 区间整体低于总体召回率，或整体高于总体误报率（正例不少于 20）。</p>
</body></html>
"""


def render_html(
    evaluation: Mapping[str, Any],
    *,
    validation: pd.DataFrame,
    shap_importance: pd.Series,
    title: str = "fanpin",
) -> str:
    """A self-contained evaluation.html: comparison table, ROC/PR/capacity/calibration/SHAP plots, groups."""
    import jinja2  # noqa: PLC0415

    scorers = [c for c in _SCORER_LABELS if c in validation.columns]
    y = validation["label"].to_numpy(dtype=int)
    images = [
        ("ROC 曲线 ROC", _roc_plot(y, validation, scorers)),
        ("精确率-召回率 Precision–recall", _pr_plot(y, validation, scorers)),
        (
            "按审核容量 Recall and precision by share reviewed",
            _capacity_plot(y, validation, scorers),
        ),
        ("校准 Calibration (validation months)", _calibration_plot(y, validation)),
        ("SHAP 重要性 Mean |contribution| (log-odds)", _shap_plot(shap_importance)),
    ]
    table = comparison_table(evaluation).to_html(
        index=False, float_format=lambda v: f"{v:.4f}", na_rep="—", border=0
    )
    env = jinja2.Environment(autoescape=True)
    template = env.from_string(_TEMPLATE)
    return template.render(
        e=_Attr(evaluation),
        images=images,
        title=title,
        table=jinja2_markup(table),
        groups=jinja2_markup(_groups_table(evaluation.get("groups") or {})),
        candidates=jinja2_markup(
            _candidates_table(
                evaluation.get("candidates") or {},
                share=(evaluation.get("operating_point") or {}).get("key"),
            )
        ),
    )


def _candidates_table(candidates: Mapping[str, Any], *, share: str | None) -> str:
    """One row per candidate judged: AUC, recall at the operating share and at 10 %, trees; the chosen in bold."""
    import html  # noqa: PLC0415

    judged = {n: m for n, m in candidates.items() if isinstance(m, Mapping)}
    if not judged:
        return ""
    keys = [k for k in dict.fromkeys([share or share_key(0.05), share_key(0.10)]) if k]
    head = "".join(f"<th>recall@{html.escape(k)}</th>" for k in keys)
    rows = [
        f"<table><tr><th class='l'>candidate</th><th>AUC</th>{head}<th>trees</th><th class='l'>note</th></tr>"
    ]
    for name, m in judged.items():
        chosen = name == candidates.get("chosen")
        label = f"<b>{html.escape(name)} ✓</b>" if chosen else html.escape(name)
        recalls = "".join(f"<td>{_fmt((m.get('recall_at') or {}).get(k))}</td>" for k in keys)
        rows.append(
            f"<tr><td class='l'>{label}</td><td>{_fmt(m.get('auc'))}</td>{recalls}"
            f"<td>{m.get('trees') if m.get('trees') is not None else '—'}</td>"
            f"<td class='l'>{html.escape(str(m.get('error') or m.get('dropped') or ''))}</td></tr>"
        )
    return "".join(rows) + "</table>"


class _Attr(dict):
    """Dict with attribute access for the template (missing keys are None)."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        return _Attr(value) if isinstance(value, Mapping) else value


def jinja2_markup(html: str) -> Any:
    """Mark generated (already escaped) HTML as safe for the template."""
    import markupsafe  # noqa: PLC0415

    return markupsafe.Markup(html)


def _groups_table(groups: Mapping[str, Any]) -> str:
    import html  # noqa: PLC0415

    rows = []
    for column, values in groups.items():
        if column == "overall":
            continue
        for value, m in values.items():
            cls = ' class="flag"' if m.get("flagged") else ""
            rows.append(
                f"<tr{cls}><td class='l'>{html.escape(column)}</td><td class='l'>{html.escape(value)}</td>"
                f"<td>{m['n']}</td><td>{m['positives']}</td><td>{_fmt(m['recall'])} [{_fmt(m['recall_ci'][0])}, {_fmt(m['recall_ci'][1])}]</td>"
                f"<td>{_fmt(m['fpr'])} [{_fmt(m['fpr_ci'][0])}, {_fmt(m['fpr_ci'][1])}]</td><td>{'⚠' if m.get('flagged') else ''}</td></tr>"
            )
    overall = groups.get("overall", {})
    head = (
        "<table><tr><th class='l'>group</th><th class='l'>value</th><th>n</th><th>positives</th>"
        "<th>recall [95% CI]</th><th>FPR [95% CI]</th><th>gap</th></tr>"
    )
    foot = f"<tr><td class='l'>overall</td><td></td><td>{overall.get('n', '')}</td><td>{overall.get('positives', '')}</td><td>{_fmt(overall.get('recall'))}</td><td>{_fmt(overall.get('fpr'))}</td><td></td></tr></table>"
    return head + "".join(rows) + foot


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}"


def _figure() -> tuple[Any, Any]:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    _register_cjk_fonts()
    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt.subplots(figsize=(7, 4.5), dpi=90)


def _register_cjk_fonts() -> None:
    """Make a system CJK font known to matplotlib even if its font cache predates the font."""
    from matplotlib import font_manager  # noqa: PLC0415

    if any("CJK" in font.name for font in font_manager.fontManager.ttflist):
        return
    for folder in ("/usr/share/fonts", "/usr/local/share/fonts"):
        for path in sorted(Path(folder).glob("**/NotoSansCJK-Regular.tt[cf]")):
            font_manager.fontManager.addfont(str(path))


def _png(fig: Any) -> str:
    import base64  # noqa: PLC0415
    import io  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    import matplotlib.pyplot as plt  # noqa: PLC0415

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # without a CJK font installed, Chinese labels fall back to boxes; the numbers still show
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _clean(score: pd.Series) -> np.ndarray:
    values = score.to_numpy(dtype=float)
    return np.nan_to_num(values, nan=np.nanmin(values) if np.isfinite(values).any() else 0.0)


def _roc_plot(y: np.ndarray, validation: pd.DataFrame, scorers: Sequence[str]) -> str:
    from sklearn.metrics import roc_curve  # noqa: PLC0415

    fig, ax = _figure()
    for name in scorers:
        fpr, tpr, _ = roc_curve(y, _clean(validation[name]))
        ax.plot(fpr, tpr, label=_SCORER_LABELS[name], lw=2 if name == "model" else 1)
    ax.plot([0, 1], [0, 1], color="#999", ls=":")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("recall")
    ax.legend(fontsize=8)
    return _png(fig)


def _pr_plot(y: np.ndarray, validation: pd.DataFrame, scorers: Sequence[str]) -> str:
    from sklearn.metrics import precision_recall_curve  # noqa: PLC0415

    fig, ax = _figure()
    for name in scorers:
        precision, recall, _ = precision_recall_curve(y, _clean(validation[name]))
        ax.plot(recall, precision, label=_SCORER_LABELS[name], lw=2 if name == "model" else 1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(fontsize=8)
    return _png(fig)


def _capacity_plot(y: np.ndarray, validation: pd.DataFrame, scorers: Sequence[str]) -> str:
    fig, ax = _figure()
    for name in scorers:
        curve = recall_share_curve(y, _clean(validation[name]))
        line = ax.plot(
            curve["share"] * 100, curve["recall"], label=f"{_SCORER_LABELS[name]} recall"
        )[0]
        ax.plot(curve["share"] * 100, curve["precision"], ls="--", color=line.get_color(), lw=0.8)
    for share in SHARES:
        ax.axvline(share * 100, color="#ccc", lw=0.8)
    ax.set_xlabel("share of households reviewed (%) — solid: recall, dashed: precision")
    ax.legend(fontsize=7)
    return _png(fig)


def _calibration_plot(y: np.ndarray, validation: pd.DataFrame) -> str:
    fig, ax = _figure()
    probability = validation["model"].to_numpy(dtype=float)
    bins = np.quantile(probability, np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(bins, probability, side="right") - 1, 0, 9)
    mean_p = [probability[which == b].mean() for b in range(10) if (which == b).any()]
    mean_y = [y[which == b].mean() for b in range(10) if (which == b).any()]
    top = max(max(mean_p, default=0), max(mean_y, default=0)) * 1.1 or 1
    ax.plot([0, top], [0, top], color="#999", ls=":")
    ax.plot(mean_p, mean_y, marker="o", label="model (deciles of probability)")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.legend(fontsize=8)
    return _png(fig)


def _shap_plot(importance: pd.Series, *, top: int = 20) -> str:
    fig, ax = _figure()
    shown = importance.head(top)[::-1]
    try:
        from features.catalogue import by_name  # noqa: PLC0415

        labels = [f"{by_name(n).label_zh} ({n})" for n in shown.index]
    except Exception:  # noqa: BLE001 - table mode: user columns are not in the catalogue
        labels = list(shown.index)
    ax.barh(labels, shown.to_numpy())
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("mean |SHAP contribution| (log-odds)")
    return _png(fig)
