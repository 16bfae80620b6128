"""Figure of the adversarial-request audit: relief against ε, detection against false flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.evaluation.audit_thresholds import apply_thresholds
from diffrisk.evaluation.stress_audit import DEFENCES
from diffrisk.reporting.style import style_rc

_COLORS = {
    "signature": "#2980b9",
    "disagreement": "#8e44ad",
    "plausibility": "#c0392b",
    "combined": "#000000",
}


def roc_points(
    null: NDArray[np.floating], attacked: NDArray[np.floating]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """False-flag and detection rates of ``score > c`` for every observed threshold c.

    Returns
    -------
    false_flags, detection : ndarray
        From the strictest threshold (0, 0) to the loosest (1, 1), non-decreasing.

    Examples
    --------
    >>> ff, det = roc_points(np.array([0.0, 1.0]), np.array([2.0, 3.0]))
    >>> ff.tolist(), det.tolist()
    ([0.0, 0.0, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.0, 1.0])
    """
    null = np.asarray(null, dtype=float)
    attacked = np.asarray(attacked, dtype=float)
    cuts = np.concatenate([np.unique(np.concatenate([null, attacked]))[::-1], [-np.inf]])
    ff = np.array([(null > c).mean() if null.size else np.nan for c in cuts])
    det = np.array([(attacked > c).mean() if attacked.size else np.nan for c in cuts])
    return ff, det


def figure_stress_adversarial(
    relief: pd.DataFrame,
    items: pd.DataFrame,
    thresholds: Mapping[str, float],
    min_relief: float = 0.10,
) -> Any:
    """Two panels: mean relief against ε per archetype; detection against false flags.

    Left: :func:`~diffrisk.evaluation.audit_thresholds.relief_table` averaged over portfolios
    (markers: the largest relief), the ``min_relief`` line dashed. Right: on test items,
    each defence's detection rate of attacks with relief > ``min_relief`` against its
    false-flag rate on untouched requests as its threshold varies (curves), and the frozen
    validation thresholds (markers; the combined audit as a black star).
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(style_rc()):
        fig = Figure(figsize=(7.0, 3.0), layout="constrained")
        ax_r, ax_d = fig.subplots(1, 2)
        for name, part in relief.groupby("archetype", sort=True):
            mean = part.groupby("epsilon")["relief_mean"].mean()
            peak = part.groupby("epsilon")["relief_max"].max()
            (line,) = ax_r.plot(mean.index, 100 * mean.to_numpy(), marker="o", label=name)
            ax_r.scatter(peak.index, 100 * peak.to_numpy(), marker="^", color=line.get_color())
        ax_r.axhline(100 * min_relief, color="grey", linestyle="--", linewidth=0.8)
        ax_r.set_xlabel("budget ε")
        ax_r.set_ylabel("ES relief (%)")
        ax_r.set_title("capital relief found")
        ax_r.legend(fontsize=7)

        test = items[items["split"] == "test"]
        null = test[test["kind"] == "untouched"]
        moved = test[test["attacked"] & (test["relief"] > min_relief)]
        for d in DEFENCES:
            ff, det = roc_points(null[d].to_numpy(), moved[d].to_numpy())
            ax_d.step(100 * ff, 100 * det, where="post", color=_COLORS[d], label=d)
        if len(null) and len(moved):
            fn, fm = apply_thresholds(null, thresholds), apply_thresholds(moved, thresholds)
            for d in (*DEFENCES, "combined"):
                ax_d.scatter(
                    100 * fn[d].mean(),
                    100 * fm[d].mean(),
                    color=_COLORS[d],
                    marker="*" if d == "combined" else "o",
                    s=70 if d == "combined" else 25,
                    zorder=3,
                    label="combined (frozen)" if d == "combined" else None,
                )
        ax_d.axvline(5, color="grey", linestyle="--", linewidth=0.8)
        ax_d.axhline(95, color="grey", linestyle="--", linewidth=0.8)
        ax_d.set_xlim(-2, 102)
        ax_d.set_ylim(-2, 102)
        ax_d.set_xlabel("false flags on untouched test requests (%)")
        ax_d.set_ylabel(f"attacks with relief > {min_relief:.0%} detected (%)")
        ax_d.set_title("audit")
        ax_d.legend(fontsize=7, loc="lower right")
    return fig
