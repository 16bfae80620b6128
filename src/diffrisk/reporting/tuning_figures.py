"""Figures of the tuning study."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def tune_plot_data(trials: pd.DataFrame) -> pd.DataFrame:
    """What ``dvc plots show`` draws of the tuning study: the complete trials only.

    A pruned trial has no objective value; a plot of the ``value`` column of
    ``tune_trials.csv`` draws the empty cell at FZ0 = 0, far above every real loss. The
    plot data therefore leaves pruned (and failed) trials out; ``tune_trials.csv`` keeps
    them, with the score they had when pruned.

    Parameters
    ----------
    trials : DataFrame
        :func:`diffrisk.study.tuning.trials_frame` (``number``, ``state``, ``value``).

    Returns
    -------
    DataFrame
        ``number``, ``value`` (validation FZ0) and ``best_so_far`` (running minimum over
        the complete trials), one row per complete trial in trial order; empty (with
        these columns) without complete trials.
    """
    columns = ["number", "value", "best_so_far"]
    if not len(trials):
        return pd.DataFrame(columns=columns)
    done = trials.loc[trials["state"] == "COMPLETE", ["number", "value"]]
    done = done.dropna(subset=["value"]).sort_values("number")
    done = done.astype({"number": int, "value": float})
    return done.assign(best_so_far=done["value"].cummin()).reset_index(drop=True)[columns]


def draw_tune_history(trials: pd.DataFrame, seed: int) -> Figure:
    """Validation FZ0 of every trial: complete ones, pruned ones and the running best.

    Parameters
    ----------
    trials : DataFrame
        :func:`diffrisk.study.tuning.trials_frame` (``number``, ``state``, ``value`` and,
        for pruned trials, ``last_score`` and ``epochs``).
    seed : int
        Unused (the figures share one signature).

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    done = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    if len(done):
        ax.plot(done["number"], done["value"], "o", label="complete")
        if "last_score" in trials:
            pruned = trials[trials["state"] == "PRUNED"]
            ax.plot(
                pruned["number"],
                pruned["last_score"],
                "x",
                color="0.5",
                label="pruned (best FZ0 at pruning, fewer epochs)",
            )
        best = done.set_index("number")["value"].cummin()
        ax.step(best.index, best.to_numpy(), "-", where="post", label="best complete so far")
        ax.legend(fontsize="small")
    else:
        ax.text(
            0.5, 0.5, "tuning disabled (tune.enabled: false)", ha="center", transform=ax.transAxes
        )
    ax.set_xlabel("trial")
    ax.set_ylabel("inner-validation FZ0 (mean of 5 % and 1 %)")
    ax.set_title("Optuna optimisation history")
    fig.tight_layout()
    return fig


def draw_tune_importance(trials: pd.DataFrame, seed: int) -> Figure:
    """Plot the fANOVA importance of each searched parameter (needs >= 3 complete trials).

    Parameters
    ----------
    trials : DataFrame
        :func:`diffrisk.study.tuning.trials_frame`; only complete trials are used.
    seed : int
        Seed of the fANOVA forest.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt
    import optuna

    fig, ax = plt.subplots(figsize=(6, 3.5))
    done = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    params = [c for c in trials.columns if c.startswith("param_")]
    if len(done) >= 3 and params:
        dists = {}
        for col in params:
            values = done[col].tolist()
            if all(isinstance(v, (int, float)) for v in values) and len(set(values)) > 1:
                lo, hi = float(min(values)), float(max(values))
                dists[col[6:]] = optuna.distributions.FloatDistribution(lo, hi)
            else:
                dists[col[6:]] = optuna.distributions.CategoricalDistribution(
                    sorted(set(map(str, values)))
                )
        study = optuna.create_study(direction="minimize")
        for _, row in done.iterrows():
            p = {}
            for name, dist in dists.items():
                v = row[f"param_{name}"]
                p[name] = (
                    str(v)
                    if isinstance(dist, optuna.distributions.CategoricalDistribution)
                    else float(v)
                )
            study.add_trial(
                optuna.trial.create_trial(params=p, distributions=dists, value=float(row["value"]))
            )
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=int(seed))
        importance = optuna.importance.get_param_importances(study, evaluator=evaluator)
        names = list(importance)[::-1]
        ax.barh(names, [importance[n] for n in names])
        ax.set_xlabel("fANOVA importance (share of variance of validation FZ0)")
    else:
        ax.text(0.5, 0.5, "needs >= 3 complete trials", ha="center", transform=ax.transAxes)
    ax.set_title("Hyper-parameter importance")
    fig.tight_layout()
    return fig
