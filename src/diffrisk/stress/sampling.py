"""Guided sampling of stress paths and the history-analogue signature prior."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike, NDArray

from diffrisk.diffusion.guidance import check_guidance_weight, guided_eps_fn
from diffrisk.diffusion.prediction import to_eps
from diffrisk.diffusion.progress import progress_bar
from diffrisk.diffusion.sampler import initial_noise, reverse_process, reverse_steps
from diffrisk.stress.model import StressModel, as_float_tensor
from diffrisk.stress.signatures import SIGNATURE_COLUMNS, ConditioningScales
from diffrisk.stress.windows import conditioning_batch

ScaledSampler = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, float, torch.Generator], torch.Tensor
]
"""``(context, cond_embedding, null_embedding, guidance, generator) -> scaled paths``."""

#: Paths per network call of every stress generator's sampler (diffusion teacher and
#: student, reverse stress, GAN and VAE), a speed choice: it bounds memory and keeps each
#: layer's output small (2 MB at 512 paths of the 20-asset model, 8 MB at 2,048), which a
#: fresh process's allocator would otherwise map and page-fault afresh at every call (the
#: reverse chain now warms it, :func:`diffrisk.core.compute.warm_allocator`; the GAN and VAE
#: have no chain). It moves a path at most in the last bits of float rounding (the stress
#: stages' outputs stayed byte-identical when it went from 2,048 to 512). 2,000 guided
#: paths (20 DDIM steps, one thread, fresh process, best of 3) took 8.1 s at 2,048 paths
#: per call, 5.7 s at 1,024 and 5.2 s at 512 and at 256 under the pipeline's AVX2 cap,
#: natively 6.6, 4.7, 3.5 and 3.8 s; with the chain warming the allocator, natively 4.3 s
#: at 2,048 and 3.9 s at 512 (``benchmarks/bench_stress_chunk.py``).
SAMPLING_CHUNK = 512


@dataclass(frozen=True)
class SamplerSettings:
    """The reverse-chain settings of the stress samplers, with their defaults.

    The one home of the ``**sampling`` keywords of :func:`sample_scaled_paths`,
    :func:`generate_paths` and :func:`~diffrisk.stress.scenario_sets.generate_scenario_set`.

    Parameters
    ----------
    sampler : {"ddim", "ddpm"}
        DDIM with ``n_steps`` steps or the ancestral sampler over all T steps
        (:func:`diffrisk.diffusion.sampler.reverse_steps`).
    n_steps, eta, spacing
        DDIM settings (:func:`diffrisk.diffusion.sampler.ddim_timesteps`).
    order : {1, 2}
        DDIM solver order: 1 = plain DDIM (default; measured better than 2 on the
        validation suite), 2 = DPM-Solver++(2M) (:func:`~diffrisk.diffusion.sampler.sample`).
    """

    sampler: str = "ddim"
    n_steps: int = 20
    eta: float = 0.0
    spacing: str = "linear"
    order: int = 1

    @classmethod
    def of(cls, caller: str, sampling: Mapping[str, Any]) -> SamplerSettings:
        """The settings of a call ``caller(..., **sampling)``.

        Raises
        ------
        TypeError
            For a keyword that is not a setting, worded as Python words it for a function
            without ``**sampling`` (``"generate_paths() got an unexpected keyword argument
            'x'"``).

        Examples
        --------
        >>> SamplerSettings.of("generate_paths", {"n_steps": 5})
        SamplerSettings(sampler='ddim', n_steps=5, eta=0.0, spacing='linear', order=1)
        """
        names = {f.name for f in fields(cls)}
        for key in sampling:
            if key not in names:
                raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}")
        return cls(**sampling)

    def record(self) -> dict[str, Any]:
        """The settings as JSON values, in field order (a scenario set's ``generation``)."""
        return {
            "sampler": self.sampler,
            "n_steps": int(self.n_steps),
            "eta": float(self.eta),
            "spacing": self.spacing,
            "order": int(self.order),
        }


def check_paths_request(
    model: ConditioningScales,
    returns: pd.DataFrame,
    n_paths_per_date: int,
    prior_neighbours: int,
    signature: Mapping[str, float] | None,
) -> dict[str, float]:
    """Check the arguments every path generator shares; the requested signature as floats.

    The one check of :func:`generate_paths` and
    :func:`diffrisk.stress.comparison_sets.comparison_paths`: ``returns`` must have the
    model's columns, ``n_paths_per_date`` be an integer >= 1, ``prior_neighbours`` an
    integer >= 0 and ``signature`` (None = empty) name only :data:`SIGNATURE_COLUMNS`.

    Raises
    ------
    ValueError
        Naming the bad argument.
    """
    if list(returns.columns) != list(model.assets):
        raise ValueError(
            f"returns columns {list(returns.columns)} differ from the model's assets {model.assets}"
        )
    if int(n_paths_per_date) != n_paths_per_date or n_paths_per_date < 1:
        raise ValueError(f"n_paths_per_date must be a positive integer, got {n_paths_per_date!r}")
    if int(prior_neighbours) != prior_neighbours or prior_neighbours < 0:
        raise ValueError(f"prior_neighbours must be an integer >= 0, got {prior_neighbours!r}")
    request = {k: float(v) for k, v in (signature or {}).items()}
    unknown = sorted(set(request) - set(SIGNATURE_COLUMNS))
    if unknown:
        raise ValueError(f"unknown signature components {unknown}; expected {SIGNATURE_COLUMNS}")
    return request


@torch.no_grad()
def sample_scaled_paths(
    model: StressModel,
    context: torch.Tensor,
    cond_embedding: torch.Tensor,
    null_embedding: torch.Tensor,
    guidance: float,
    *,
    generator: torch.Generator,
    chunk: int = SAMPLING_CHUNK,
    batched_guidance: bool = False,
    progress: bool | None = None,
    steps: NDArray[np.int64] | None = None,
    **sampling: Any,
) -> torch.Tensor:
    """Reverse diffusion for a batch of paths with classifier-free guidance.

    The chain is :func:`diffrisk.diffusion.sampler.reverse_process`; this function only
    supplies the guided noise prediction (:func:`diffrisk.diffusion.guidance.guided_eps_fn`
    on the network's v-prediction, converted by
    :func:`diffrisk.diffusion.prediction.to_eps`).

    Parameters
    ----------
    model : StressModel
    context, cond_embedding, null_embedding : Tensor (B, emb_dim)
        History context, requested-signature embedding and all-null embedding per path.
    guidance : float
        w >= 0: ``v = v_null + w (v_cond - v_null)`` (the same mixture of the noise
        predictions, since eps is linear in v); ``w = 0`` skips the
        conditional pass, so the result is exactly the unconditional model's.
    generator : torch.Generator
        All randomness (x_T and, for DDPM or eta > 0, the step noise), drawn for the
        whole batch at once so the draws do not depend on ``chunk`` (the paths only up to
        float rounding, see :data:`SAMPLING_CHUNK`).
    chunk : int, default :data:`SAMPLING_CHUNK`
        Paths per network call (memory and cache only).
    batched_guidance : bool, default False
        True: one network pass per guided step, the conditional and the null branch of a
        chunk stacked into one batch (:func:`~diffrisk.diffusion.guidance.guided_eps_fn`'s
        ``predict_pair``); equal to the two passes up to float rounding and 8 % faster on
        one CPU thread (the same arithmetic: 85.2 s against 92.6 s for 10,000 paths on a
        loaded machine). Off by default so that committed scenario sets stay bit-identical.
    steps : ndarray of int, optional
        Explicit descending diffusion steps to visit (overrides ``n_steps`` and
        ``spacing``; e.g. the nested grid of a distillation round).
    **sampling
        ``sampler``, ``n_steps``, ``eta``, ``spacing``, ``order``: :class:`SamplerSettings`
        (unset ones take its defaults).

    Returns
    -------
    Tensor (B, A, H)
        Samples in the model's input scale (``r / (sigma * path_scale)``), unclipped.
    """
    opts = SamplerSettings.of("sample_scaled_paths", sampling)
    check_guidance_weight(guidance)
    if steps is None:
        steps = reverse_steps(
            opts.sampler,
            model.schedule,
            None if opts.sampler == "ddpm" else opts.n_steps,
            opts.spacing,
        )
    net, spec = model.net.eval(), model.net.spec
    n = context.shape[0]

    def predict(x: torch.Tensor, t: torch.Tensor, rows: slice, conditional: bool) -> torch.Tensor:
        signature = cond_embedding[rows] if conditional else null_embedding[rows]
        return net(x, t, context[rows], signature)

    def predict_pair(
        x: torch.Tensor, t: torch.Tensor, rows: slice
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ctx = context[rows]
        both = net(
            torch.cat([x, x]),
            torch.cat([t, t]),
            torch.cat([ctx, ctx]),
            torch.cat([null_embedding[rows], cond_embedding[rows]]),
        )
        return both[: x.shape[0]], both[x.shape[0] :]

    def prediction_to_eps(x: torch.Tensor, t: int, prediction: torch.Tensor) -> torch.Tensor:
        sqrt_ab, sqrt_1m = model.schedule.step_coefficients(t)
        return to_eps(prediction, x, sqrt_ab, sqrt_1m, net.prediction_type)

    x = initial_noise(n, spec.n_assets * spec.horizon, generator, "iid").reshape(
        n, spec.n_assets, spec.horizon
    )
    with progress_bar(len(steps), f"{opts.sampler} stress sampling", progress, leave=False) as bar:
        return reverse_process(
            guided_eps_fn(
                predict,
                prediction_to_eps,
                guidance,
                chunk,
                predict_pair if batched_guidance else None,
            ),
            model.schedule,
            x,
            steps,
            generator=generator,
            method=opts.sampler,
            eta=opts.eta,
            order=opts.order,
            bar=bar,
        )


def draw_prior_signatures(
    model: StressModel, features: ArrayLike, n_per_date: int, k: int, seed: int
) -> NDArray[np.float64]:
    """Draw standardised signatures from the training windows nearest in history features.

    For each conditioning date (a row of ``features``, the standardised history features of
    :meth:`StressModel.scalars`), the ``k`` training windows with the smallest Euclidean
    distance in the same features are found, and ``n_per_date`` of their signatures are
    drawn with replacement: an analogue (nearest-neighbour) estimate of the distribution
    of the horizon's volatility ratio, cumulative return and correlation given the past.
    Only training windows are searched, so nothing after ``train_end`` is used.

    Parameters
    ----------
    model : StressModel
    features : array_like (n_dates, n_scalars)
    n_per_date : int
    k : int
        Neighbours per date (capped at the number of training windows).
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    ndarray (n_dates * n_per_date, 3)
        Standardised signatures (the model's conditioning scale), date-major.
    """
    feats = np.atleast_2d(np.asarray(features, dtype=float))
    bank, sigs = model.prior_features, model.prior_signatures
    if bank.shape[0] == 0 or bank.shape[1] != feats.shape[1]:
        raise ValueError(
            "the model carries no signature prior for these features (retrain it with this "
            "version of diffrisk)"
        )
    k = min(int(k), bank.shape[0])
    rng = np.random.default_rng(int(seed))
    out = []
    for row in feats:
        nearest = np.argsort(((bank - row) ** 2).sum(axis=1), kind="stable")[:k]
        out.append(sigs[rng.choice(nearest, size=int(n_per_date))])
    return np.concatenate(out)


def generate_paths(
    model: StressModel,
    returns: pd.DataFrame,
    as_of: Sequence[str | pd.Timestamp | None],
    n_paths_per_date: int,
    signature: Mapping[str, float] | None,
    *,
    guidance: float,
    seed: int,
    soft_bound: float = 0.0,
    prior_neighbours: int = 0,
    chunk: int = SAMPLING_CHUNK,
    progress: bool | None = None,
    batched_guidance: bool = False,
    scaled_sampler: ScaledSampler | None = None,
    **sampling: Any,
) -> tuple[NDArray[np.float32], pd.DataFrame]:
    """Generate joint H-day paths of the constituents from one or several conditioning dates.

    Parameters
    ----------
    model : StressModel
    returns : DataFrame (T, n_assets)
        Constituent returns with the model's columns; for conditioning date ``d`` only the
        rows strictly before ``d`` are read.
    as_of : sequence of date or None
        First day of the paths (the conditioning date); None/"" = the day after the last row.
    n_paths_per_date : int
    signature : mapping or None
        Requested (partial) stress signature in raw units (e.g. ``{"vol_ratio": 2.0}``);
        None or empty = unconditional.
    guidance : float
        Classifier-free guidance weight w >= 0 (ignored when ``signature`` is empty and
        ``prior_neighbours`` is 0).
    seed : int
        Seed of the :class:`torch.Generator` (and of the prior draws).
    soft_bound : float
        0 = off. Otherwise each scaled daily return is squashed softly,
        ``x -> b tanh(x / b)`` with ``b = soft_bound * target_abs_max`` (the largest
        |scaled return| of the asset in training): a plausibility bound on daily moves.
    prior_neighbours : int
        Only without a requested signature. 0: the model's unconditional branch (null
        signature). K > 0: each path gets a signature drawn from the K training windows
        whose history features are closest to the date's (:func:`draw_prior_signatures`)
        and is generated conditionally on it with weight ``guidance``. The unconditional
        branch under-disperses path-level volatility and horizon returns; drawing the
        signature first (a two-stage sampler) fixes most of that.
    chunk : int, default :data:`SAMPLING_CHUNK`
        Paths per network call (memory and cache only).
    progress : bool, optional
    batched_guidance : bool, default False
        See :func:`sample_scaled_paths`.
    scaled_sampler : callable(context, cond, null, guidance, generator) -> Tensor, optional
        Replaces :func:`sample_scaled_paths` (and its ``chunk`` and ``**sampling``
        settings): another sampler of scaled paths from the same conditioning, e.g. a
        distilled student's (:func:`diffrisk.stress.distill.student_sampler`).
    **sampling
        ``sampler``, ``n_steps``, ``eta``, ``spacing``, ``order`` of
        :func:`sample_scaled_paths` (:class:`SamplerSettings`).

    Returns
    -------
    paths : ndarray float32 (n_dates * n_paths_per_date, H, n_assets)
        Daily log returns (fractions), paths of date i at rows ``i*n .. (i+1)*n - 1``.
    dates : DataFrame
        Per conditioning date: ``as_of`` (first day of the paths), ``last_history`` (last
        row read), ``portfolio_vol`` (EWMA forecast of the equal-weighted portfolio).
    """
    SamplerSettings.of("generate_paths", sampling)
    request = check_paths_request(model, returns, n_paths_per_date, prior_neighbours, signature)
    if soft_bound < 0:
        raise ValueError(f"soft_bound must be >= 0, got {soft_bound}")
    cfg = model.config
    inputs, dates_frame = conditioning_batch(returns, as_of, cfg)
    n = int(n_paths_per_date)
    history = as_float_tensor(np.stack([i.history for i in inputs]))
    sigma = np.stack([i.sigma for i in inputs])
    port = np.array([i.portfolio_vol for i in inputs])
    net = model.net.eval()
    with torch.no_grad():
        features = model.scalars(sigma, port, history.numpy())
        context = net.encode_history(history, as_float_tensor(features))
        null_vals = torch.zeros(len(inputs), len(SIGNATURE_COLUMNS))
        null = net.embed_signature(null_vals, torch.ones_like(null_vals))
        if request:
            values, mask = model.signature_input(pd.DataFrame([request] * len(inputs)), port)
            cond = net.embed_signature(
                as_float_tensor(values), as_float_tensor(mask)
            ).repeat_interleave(n, 0)
        elif prior_neighbours:
            drawn = draw_prior_signatures(model, features, n, int(prior_neighbours), int(seed))
            cond = net.embed_signature(
                as_float_tensor(drawn), torch.zeros(len(drawn), drawn.shape[1])
            )
        else:
            cond = null.repeat_interleave(n, 0)
    rep = lambda z: z.repeat_interleave(n, dim=0)  # noqa: E731
    gen = torch.Generator().manual_seed(int(seed))
    weight = float(guidance) if (request or prior_neighbours) else 0.0
    if scaled_sampler is None:
        sampled = sample_scaled_paths(
            model,
            rep(context),
            cond,
            rep(null),
            weight,
            generator=gen,
            chunk=chunk,
            batched_guidance=batched_guidance,
            progress=progress,
            **sampling,
        )
    else:
        sampled = scaled_sampler(rep(context), cond, rep(null), weight, gen)
    scaled = sampled.numpy().astype(np.float64) * model.path_scale
    if soft_bound > 0:
        bound = (soft_bound * model.target_abs_max)[None, :, None]
        scaled = bound * np.tanh(scaled / bound)
    paths = np.swapaxes(scaled * np.repeat(sigma, n, axis=0)[:, :, None], 1, 2)
    return paths.astype(np.float32), dates_frame
