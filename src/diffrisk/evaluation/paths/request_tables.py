"""The stress study's tables per request: headline distances per pair, and steering.

:func:`validation_rows` scores each (generator, archetype, reference window) pair with
:func:`~diffrisk.evaluation.paths.suite.summary_scores`, labelled by
:func:`pair_reference_label` (in-sample when the request was built from the window it is
scored against); :func:`signature_table` sets each set's achieved signature against the
requested one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.evaluation.paths.suite import summary_scores, validate_scenarios
from diffrisk.risk.portfolio import usable_tail_levels
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.config import GENERATORS
from diffrisk.stress.scenario_sets import achieved_signatures
from diffrisk.stress.set_records import conditioning_weight

__all__ = ["IN_SAMPLE_REQUEST", "pair_reference_label", "signature_table", "validation_rows"]

#: The reference label of a pair whose request was measured on the window it is scored on.
IN_SAMPLE_REQUEST = "in-sample: the request was built from this window"


def pair_reference_label(
    archetype_window: tuple[str, str] | None, first: str, last: str, label: str
) -> str:
    """Label of an (archetype, crisis window) pair of the validation table.

    A window's own ``label`` (in-sample, validation, held out) says whether the model saw it
    in training. An archetype whose signature was *measured on* a window overlapping the
    reference (``covid_like`` built from 2020-02-19..07-10, scored against that period) is
    in-sample whatever the window's label: the request already encodes what happened. Such
    pairs get :data:`IN_SAMPLE_REQUEST`.

    Examples
    --------
    >>> pair_reference_label(("2020-02-19", "2020-07-10"), "2020-02-19", "2020-07-10",
    ...                      "held out")
    'in-sample: the request was built from this window'
    >>> pair_reference_label(None, "2020-02-19", "2020-07-10", "held out")
    'held out'
    """
    if archetype_window is None:
        return label
    a_first, a_last = (pd.Timestamp(d) for d in archetype_window)
    if a_first <= pd.Timestamp(last) and pd.Timestamp(first) <= a_last:
        return IN_SAMPLE_REQUEST
    return label


def validation_rows(
    sets: Mapping[tuple[str, str], NDArray[np.floating]],
    references: Mapping[str, tuple[pd.DataFrame, str]],
    pairs: Sequence[tuple[str, str, str]],
    thresholds: Any,
) -> pd.DataFrame:
    """One row of :func:`summary_scores` per (archetype, generator, reference).

    Parameters
    ----------
    sets : mapping (generator, archetype) -> paths
    references : mapping name -> (returns window, label)
    pairs : sequence of (generator, archetype, reference name)
    thresholds : RegimeThresholds fitted on training data.
    """
    rows = []
    for gen, arch, ref_name in pairs:
        ref, label = references[ref_name]
        levels = usable_tail_levels(len(ref))
        table = validate_scenarios(sets[(gen, arch)], ref, thresholds, tail_levels=levels or (0.5,))
        scores = summary_scores(table).reset_index(drop=True)
        row = {
            "archetype": arch,
            "generator": gen,
            "reference": ref_name,
            "reference_label": label,
            "n_paths": int(sets[(gen, arch)].shape[0]),
            "n_reference_days": int(len(ref)),
        }
        rows.append({**row, **scores.iloc[0].to_dict()})
    frame = pd.DataFrame(rows)
    for col in ("tail_dep_q05", "tail_dep_q01"):
        if col not in frame:
            frame[col] = np.nan
    return frame


def signature_table(
    sets: Mapping[tuple[str, str], tuple[NDArray[np.floating], Mapping[str, Any]]],
    archetypes: Sequence[Archetype],
    tolerance: float = 0.10,
    generators: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Achieved versus requested signature per archetype, component and generator.

    ``generators`` orders and selects the generators (default :data:`GENERATORS`).

    ``achieved_mean`` and ``achieved_median`` are over the set's paths (each measured
    with its own date's volatility forecast); ``relative_error`` =
    ``|achieved_mean − requested| / |requested|``; ``within_tolerance`` compares it with
    ``tolerance`` (the steering goal's 10 %). ``guidance`` is the set's calibrated weight
    (:func:`~diffrisk.stress.set_records.conditioning_weight`).
    """
    rows = []
    for arch in archetypes:
        for comp, requested in arch.signature.items():
            for gen in GENERATORS if generators is None else generators:
                if (gen, arch.name) not in sets:
                    continue
                paths_, meta = sets[(gen, arch.name)]
                achieved = achieved_signatures(paths_, meta)[comp]
                err = abs(float(achieved.mean()) - requested) / max(abs(requested), 1e-12)
                rows.append(
                    {
                        "archetype": arch.name,
                        "component": comp,
                        "generator": gen,
                        "requested": requested,
                        "achieved_mean": float(achieved.mean()),
                        "achieved_median": float(achieved.median()),
                        "achieved_p05": float(achieved.quantile(0.05)),
                        "achieved_p95": float(achieved.quantile(0.95)),
                        "relative_error": err,
                        "within_tolerance": bool(err <= tolerance),
                        "guidance": conditioning_weight(meta["generation"]),
                        "out_of_range": comp in meta.get("out_of_range", []),
                    }
                )
    return pd.DataFrame(rows)
