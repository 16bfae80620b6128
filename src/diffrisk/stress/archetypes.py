"""Named stress requests and crisis windows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from diffrisk.stress.config import UNCONDITIONAL
from diffrisk.stress.signatures import (
    SIGNATURE_COLUMNS,
    historical_signatures,
    training_signatures,
)


# --------------------------------------------------------------------------- archetypes
@dataclass(frozen=True)
class Archetype:
    """A named stress request.

    Attributes
    ----------
    name : str
    signature : dict
        Requested (partial) signature in raw units; empty = unconditional.
    window : tuple of str, optional
        ``(first, last)``: measure the signature from the worst historical H-day window
        (lowest portfolio cumulative return) starting in this period
        (:func:`resolve_archetype`).
    as_of : str, optional
        Conditioning date (first day of the paths); None = the stage's ``as_of`` (for a
        window archetype: the start of its worst window).
    source : str
        How the signature was obtained (filled by :func:`resolve_archetype`).
    quantiles : dict
        Components requested relative to the data: component -> probability p, the
        p-quantile of that component over the training period's H-day windows
        (:func:`resolve_archetype` turns them into ``signature`` values).
    """

    name: str
    signature: dict[str, float] = field(default_factory=dict)
    window: tuple[str, str] | None = None
    as_of: str | None = None
    source: str = "requested"
    quantiles: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The resolved archetype as stored in a scenario set's index (JSON-ready).

        Raises
        ------
        ValueError
            If training quantiles are still unresolved (:func:`resolve_archetype` first).
        """
        if self.quantiles:
            raise ValueError(
                f"archetype {self.name!r}: training quantiles {self.quantiles} are not "
                "resolved yet (resolve_archetype)"
            )
        out = asdict(self)
        del out["quantiles"]
        return out


def _parse_quantile(name: str, key: str, value: str) -> float:
    try:
        prob = float(value[1:])
    except ValueError as exc:
        raise ValueError(
            f"archetype {name!r}: {key}={value!r} is not a training quantile 'q<p>' (e.g. q0.01)"
        ) from exc
    if not 0.0 <= prob <= 1.0:
        raise ValueError(
            f"archetype {name!r}: {key}={value!r}: the quantile's probability must lie in [0, 1]"
        )
    return prob


def _parse_period(text: str, where: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split("/")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{where}: expected a period 'YYYY-MM-DD/YYYY-MM-DD', got {text!r}")
    try:
        first, last = pd.Timestamp(parts[0]), pd.Timestamp(parts[1])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: cannot parse the period {text!r} as dates") from exc
    if first >= last:
        raise ValueError(f"{where}: period {text!r} must start before it ends")
    return str(first.date()), str(last.date())


def parse_archetypes(spec: str) -> list[Archetype]:
    """Parse the ``stress.generate.archetypes`` parameter.

    Format: archetypes separated by ``;``, each ``name`` or ``name: key=value, ...`` with
    keys among :data:`SIGNATURE_COLUMNS` (a requested value, or ``q<p>``: the p-quantile of
    that component over the training period's windows, which travels between data sets),
    ``window`` (a period ``first/last`` whose worst window defines the signature) and
    ``as_of`` (a date).

    Examples
    --------
    >>> [a.name for a in parse_archetypes("unconditional; volatility_x2: vol_ratio=2")]
    ['unconditional', 'volatility_x2']
    >>> parse_archetypes("decline: cum_return=-0.1625")[0].signature
    {'cum_return': -0.1625}
    >>> parse_archetypes("decline_q01: cum_return=q0.01, vol_ratio=2")[0].quantiles
    {'cum_return': 0.01}
    """
    out: list[Archetype] = []
    for chunk in (c.strip() for c in str(spec).split(";")):
        if not chunk:
            continue
        name, _, body = chunk.partition(":")
        name = name.strip()
        if not name.replace("_", "").isalnum():
            raise ValueError(f"archetype name {name!r} must be letters, digits and '_'")
        signature: dict[str, float] = {}
        quantiles: dict[str, float] = {}
        window, as_of = None, None
        for item in (i.strip() for i in body.split(",") if i.strip()):
            key, eq, value = (s.strip() for s in item.partition("="))
            if not eq:
                raise ValueError(f"archetype {name!r}: expected key=value, got {item!r}")
            if key in signature or key in quantiles:
                raise ValueError(f"archetype {name!r}: {key} is given twice")
            if key in SIGNATURE_COLUMNS and value.lower().startswith("q"):
                quantiles[key] = _parse_quantile(name, key, value)
            elif key in SIGNATURE_COLUMNS:
                try:
                    signature[key] = float(value)
                except ValueError as exc:
                    raise ValueError(
                        f"archetype {name!r}: {key}={value!r} is not a number"
                    ) from exc
            elif key == "window":
                window = _parse_period(value, f"archetype {name!r}")
            elif key == "as_of":
                try:
                    as_of = str(pd.Timestamp(value).date())
                except ValueError as exc:
                    raise ValueError(f"archetype {name!r}: as_of={value!r} is not a date") from exc
            else:
                raise ValueError(
                    f"archetype {name!r}: unknown key {key!r}; expected one of "
                    f"{(*SIGNATURE_COLUMNS, 'window', 'as_of')}"
                )
        requested = signature or quantiles
        if window is not None and requested:
            raise ValueError(f"archetype {name!r}: give either a window or signature values")
        if name == UNCONDITIONAL and (requested or window):
            raise ValueError("archetype 'unconditional' takes no signature or window")
        if name != UNCONDITIONAL and not requested and window is None:
            raise ValueError(f"archetype {name!r} has no signature value and no window")
        out.append(Archetype(name, signature, window, as_of, quantiles=quantiles))
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate archetype names in {names}")
    if not out:
        raise ValueError("archetypes specification is empty")
    return out


def resolve_archetype(
    archetype: Archetype,
    returns: pd.DataFrame,
    horizon: int,
    *,
    lam: float = 0.94,
    warmup: int = 30,
    train_end: str | pd.Timestamp | None = None,
) -> Archetype:
    """Fill an archetype's signature from its worst window or from training quantiles.

    The worst window is the H-day window starting in ``archetype.window`` with the lowest
    cumulative return of the equal-weighted portfolio; its signature is measured by
    :func:`diffrisk.stress.signatures.historical_signatures` (the volatility forecast
    uses only days before the window). Its first day becomes ``as_of`` unless one is set.
    A component requested as a training quantile (``cum_return=q0.01``) becomes that
    quantile over :func:`diffrisk.stress.signatures.training_signatures` up to
    ``train_end`` (the windows the stress model learns from; no later row is read, so it
    lies inside the model's signature range). Other archetypes are returned unchanged.

    Raises
    ------
    ValueError
        If no window starts in the archetype's period, or training quantiles are requested
        without ``train_end`` or no training window ends by then.
    """
    if archetype.quantiles:
        return _resolve_quantiles(archetype, returns, horizon, lam, warmup, train_end)
    if archetype.window is None:
        return archetype
    first, last = (pd.Timestamp(d) for d in archetype.window)
    sig = historical_signatures(
        returns.loc[returns.index <= last + pd.Timedelta(days=62)], horizon, lam=lam, warmup=warmup
    )
    inside = sig[(sig["start"] >= first) & (sig["start"] <= last)]
    if inside.empty:
        raise ValueError(
            f"archetype {archetype.name!r}: no {horizon}-day window starts in "
            f"{archetype.window[0]}/{archetype.window[1]}"
        )
    worst = inside.loc[inside["cum_return"].idxmin()]
    values = {c: float(worst[c]) for c in SIGNATURE_COLUMNS}
    start = str(pd.Timestamp(worst["start"]).date())
    return Archetype(
        archetype.name,
        values,
        archetype.window,
        archetype.as_of or start,
        source=f"worst {horizon}-day window {start}..{pd.Timestamp(worst['end']).date()}",
    )


def _resolve_quantiles(
    archetype: Archetype,
    returns: pd.DataFrame,
    horizon: int,
    lam: float,
    warmup: int,
    train_end: str | pd.Timestamp | None,
) -> Archetype:
    if train_end is None:
        raise ValueError(
            f"archetype {archetype.name!r} requests training quantiles "
            f"{archetype.quantiles}: train_end is needed to resolve them"
        )
    try:
        sig = training_signatures(returns, train_end, horizon, lam=lam, warmup=warmup)
    except ValueError as exc:  # too few rows for one window
        raise ValueError(
            f"archetype {archetype.name!r}: no {horizon}-day training window ends on or "
            f"before {pd.Timestamp(train_end).date()} ({exc}), so its training quantiles "
            "are undefined"
        ) from exc
    values = dict(archetype.signature)
    values |= {key: float(sig[key].quantile(p)) for key, p in archetype.quantiles.items()}
    spec = ", ".join(f"{key}=q{p:g}" for key, p in archetype.quantiles.items())
    return Archetype(
        archetype.name,
        {c: values[c] for c in SIGNATURE_COLUMNS if c in values},
        None,
        archetype.as_of,
        source=(
            f"training quantiles {spec} of the {len(sig)} {horizon}-day windows up to "
            f"{pd.Timestamp(train_end).date()}"
        ),
    )


@dataclass(frozen=True)
class CrisisWindow:
    """A historical crisis period used as a validation reference.

    ``label`` says how it relates to the model: ``in-sample`` (starts in training),
    ``validation`` or ``held out`` (test period).
    """

    name: str
    first: str
    last: str
    label: str


def parse_crisis_windows(
    spec: str, train_end: str | pd.Timestamp, test_start: str | pd.Timestamp
) -> list[CrisisWindow]:
    """Parse ``name=first/last; ...`` (``stress.validate.crisis_windows``) and label each.

    Examples
    --------
    >>> w = parse_crisis_windows("covid=2020-02-19/2020-07-10", "2014-12-31", "2019-01-01")
    >>> (w[0].name, w[0].label)
    ('covid', 'held out')
    """
    out = []
    for chunk in (c.strip() for c in str(spec).split(";") if c.strip()):
        name, eq, period = (s.strip() for s in chunk.partition("="))
        if not eq or not name:
            raise ValueError(f"crisis window {chunk!r}: expected name=first/last")
        first, last = _parse_period(period, f"crisis window {name!r}")
        if pd.Timestamp(first) <= pd.Timestamp(train_end):
            label = "in-sample"
        elif pd.Timestamp(first) >= pd.Timestamp(test_start):
            label = "held out"
        else:
            label = "validation"
        out.append(CrisisWindow(name, first, last, label))
    if not out:
        raise ValueError("crisis_windows specification is empty")
    return out
