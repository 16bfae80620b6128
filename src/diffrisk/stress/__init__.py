"""Multivariate stress scenarios: a conditional diffusion model of joint multi-day paths.

The model generates ``H``-day paths of the daily log returns of all constituents at once,
``(n_paths, H, n_assets)``, conditioned on

* the previous ``k`` days of every asset (the *history*, ending the day before the path's
  first day), and
* a *stress signature* of the path (:data:`diffrisk.stress.signatures.SIGNATURE_COLUMNS`):
  the realised volatility of the equal-weighted portfolio relative to its causal EWMA
  forecast, the portfolio's cumulative log return over the horizon and the average
  pairwise correlation of the constituents.

Design (following Clark & Fowler, *Diffusion Models for Synthetic Financial Stress Scenario
Generation and Robust Risk Management Evaluation*):

* **Volatility-scaled noise.** Each asset's path and history are divided by its causal
  EWMA volatility at the conditioning date (data up to the day before); the diffusion runs
  on these scaled returns and samples are multiplied back. The forward noise is therefore
  proportional to each series' current volatility, as the paper proposes.
* **Denoiser.** Residual temporal convolutions across the horizon with the assets as
  channels (every layer mixes all assets); the timestep embedding, the history encoding
  and the signature embedding are added and injected into every block by FiLM. The
  network predicts ``v`` (Salimans & Ho 2022), converted to the noise prediction the
  shared step functions take (:func:`diffrisk.diffusion.prediction.eps_from_v`): an
  eps-predicting network is not accurate enough at the noisiest steps when x0 is never clipped.
* **Condition dropout and guidance.** In training each signature component is replaced by
  a learned null token with probability ``p_drop_component`` and the whole signature with
  probability ``p_uncond``. At sampling, classifier-free guidance mixes the predictions
  with and without the requested components:
  ``eps = eps_null + w (eps_request - eps_null)``. ``w = 0`` *is* the unconditional model
  (the conditional pass is skipped), ``w = 1`` the plain conditional model, ``w > 1`` pushes
  harder toward the request. A partial request (e.g. only ``vol_ratio``) leaves the other
  components to the model.
* **Unconditional sets: a two-stage sampler.** Without a stress request, each path's
  signature is drawn from the training windows whose history features are nearest to the
  conditioning date's (:func:`diffrisk.stress.sampling.draw_prior_signatures`) and the
  path is generated with guidance toward it. The null-signature branch alone
  under-disperses path-level volatility and horizon returns (measured by
  ``benchmarks/stress_sampler_steps.py``).
* **Reuse.** The noise schedule, the reverse chain
  (:func:`diffrisk.diffusion.sampler.reverse_process`: DDPM, DDIM and DPM-Solver++(2M)
  steps), the initial noise, the timestep embedding, the residual dilated block, and the
  training loop (:func:`diffrisk.diffusion.training.train_denoiser`: AdamW, EMA, early
  stopping) come from :mod:`diffrisk.diffusion`. This subpackage supplies only what is
  specific to paths: the network, the v-prediction loss with condition dropout and the
  PACF penalty (:mod:`diffrisk.stress.loss`) and the guided noise prediction
  (:func:`diffrisk.stress.sampling.sample_scaled_paths`, with
  :mod:`diffrisk.diffusion.guidance`; both branches in one batched pass by default).
* **Few-step students.** :mod:`diffrisk.stress.distill` distils the guided model into a
  student with the guidance weight as an input (one pass per step, Meng et al. 2023) and
  progressively halves its DDIM steps (Salimans & Ho 2022), on the teacher's training
  windows; :mod:`diffrisk.stress.distill_trajectory` distils one from the guided teacher
  sampler's own trajectories; ``generate_paths(..., scaled_sampler=student_sampler(s))``
  samples it. The ``stress_distill`` stage (off by default) judges a student on
  validation by the rule of ``params.yaml``; the service serves one the rule chose beside
  the teacher. Neither module is imported here.

Leakage rules: every statistic (signature scaler, feature scaler, target scale, training
signature range, regime thresholds, minimum-variance weights) is fitted on training data
only; the model trains on windows that end on or before ``train_end`` and selects its
epoch on windows inside the validation period; a scenario set conditioned on date ``d``
reads returns strictly before ``d`` only.

Sign conventions: returns are log returns as fractions (0.01 = 1 %); VaR, ES and
conditional drawdown are returns (negative numbers for losses); ``alpha`` is the tail
probability (0.05 = 95 % VaR); a loss beyond VaR is ``L < VaR`` (strict).
"""

from diffrisk.stress.archetypes import (
    Archetype,
    CrisisWindow,
    parse_archetypes,
    parse_crisis_windows,
    resolve_archetype,
)
from diffrisk.stress.config import GENERATORS, UNCONDITIONAL, StressConfig, StressRangeWarning
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.generators import filtered_block_bootstrap_paths, multivariate_normal_paths
from diffrisk.stress.model import StressModel, load_stress_model, save_stress_model
from diffrisk.stress.network import FiLMBlock, StressDenoiser, StressSpec
from diffrisk.stress.sampling import draw_prior_signatures, generate_paths, sample_scaled_paths
from diffrisk.stress.scenario_sets import (
    DEFAULT_GUIDANCE_GRID,
    achieved_signatures,
    baseline_scenario_set,
    calibrate_guidance,
    generate_scenario_set,
    read_scenario_set,
    regenerate_scenario_set,
    write_scenario_set,
)
from diffrisk.stress.signatures import (
    N_HISTORY_SCALARS,
    RECENT_DAYS,
    SIGNATURE_COLUMNS,
    historical_signatures,
    out_of_range,
    signature_features,
    signature_range,
    stress_signature,
)
from diffrisk.stress.windows import (
    ConditioningInputs,
    WindowSet,
    conditioning_inputs,
    training_windows,
)

__all__ = [
    "Archetype",
    "ConditioningInputs",
    "CrisisWindow",
    "DEFAULT_GUIDANCE_GRID",
    "FiLMBlock",
    "GENERATORS",
    "N_HISTORY_SCALARS",
    "RECENT_DAYS",
    "SIGNATURE_COLUMNS",
    "StressConfig",
    "StressDenoiser",
    "StressModel",
    "StressRangeWarning",
    "StressSpec",
    "UNCONDITIONAL",
    "WindowSet",
    "achieved_signatures",
    "baseline_scenario_set",
    "calibrate_guidance",
    "conditioning_inputs",
    "draw_prior_signatures",
    "filtered_block_bootstrap_paths",
    "generate_paths",
    "generate_scenario_set",
    "historical_signatures",
    "load_stress_model",
    "multivariate_normal_paths",
    "out_of_range",
    "parse_archetypes",
    "parse_crisis_windows",
    "read_scenario_set",
    "regenerate_scenario_set",
    "resolve_archetype",
    "sample_scaled_paths",
    "save_stress_model",
    "signature_features",
    "signature_range",
    "stress_signature",
    "train_stress_model",
    "training_windows",
    "write_scenario_set",
]
