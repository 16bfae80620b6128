"""Samplers: step spacing, analytic-oracle correctness, determinism, shapes, NaN guard."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import diffrisk.diffusion.sampler as sampler_module
from diffrisk.ddpm.network import Denoiser, DenoiserSpec
from diffrisk.diffusion.sampler import (
    chunk_rows,
    chunk_states,
    ddim_step,
    ddim_timesteps,
    initial_noise,
    reverse_process,
    reverse_steps,
    sample,
    step_noise,
)
from diffrisk.diffusion.schedule import NoiseSchedule


class GaussianOracle:
    """Exact eps-predictor for data x0 ~ N(m, s^2) (per condition row).

    x_t = sqrt(ab) x0 + sqrt(1-ab) eps is Gaussian, so
    E[eps | x_t] = sqrt(1-ab) (x_t - sqrt(ab) m) / (ab s^2 + 1 - ab).
    cond[:, 0] = m and cond[:, 1] = s.
    """

    def __init__(self, schedule, nan_at=None):
        self.schedule = schedule
        self.nan_at = nan_at

    def eval(self):
        return self

    def predict_eps(self, x, cond, t):
        ab = float(self.schedule.alpha_bars[t])
        m, s = cond[:, :1], cond[:, 1:2]
        eps = math.sqrt(1 - ab) * (x - math.sqrt(ab) * m) / (ab * s**2 + 1 - ab)
        if self.nan_at is not None and t == self.nan_at:
            eps = eps * float("nan")
        return eps


@pytest.fixture(scope="module")
def schedule():
    return NoiseSchedule.create("linear", 100, beta_start=1e-3, beta_end=0.2)


@pytest.mark.parametrize("spacing", ["linear", "quadratic", "logsnr"])
def test_ddim_timesteps_are_decreasing_from_last_to_zero(schedule, spacing):
    steps = ddim_timesteps(schedule, 10, spacing)
    assert steps[0] == 99 and steps[-1] == 0
    assert np.all(np.diff(steps) < 0)
    assert 2 <= len(steps) <= 10
    if spacing != "logsnr":
        assert len(steps) == 10


def test_linear_spacing_values(schedule):
    assert ddim_timesteps(schedule, 4, "linear").tolist() == [99, 66, 33, 0]
    assert ddim_timesteps(schedule, 1, "linear").tolist() == [99]
    assert ddim_timesteps(schedule, 100, "linear").tolist() == list(range(99, -1, -1))


def test_logsnr_spacing_bounds_the_jump_on_a_cosine_schedule():
    # Linear spacing on a cosine T=1000 schedule jumps from alpha_bar ~ 2e-7 by a factor of
    # > 1e4 in alpha_bar at the first step; log-SNR spacing keeps every jump comparable.
    cos = NoiseSchedule.create("cosine", 1000)
    ab = cos.alpha_bars.double().numpy()
    lin = ddim_timesteps(cos, 10, "linear")
    snr = ddim_timesteps(cos, 10, "logsnr")
    first_jump_lin = ab[lin[1]] / ab[lin[0]]
    lam = cos.log_snr().numpy()
    gaps = -np.diff(lam[snr])
    assert first_jump_lin > 1e4
    assert gaps.max() < 2.0 * (lam[0] - lam[-1]) / (len(snr) - 1)


def test_ddim_timesteps_errors(schedule):
    with pytest.raises(ValueError, match=r"n_steps must be an integer in \[1, 100\]"):
        ddim_timesteps(schedule, 101)
    with pytest.raises(ValueError, match="spacing must be one of"):
        ddim_timesteps(schedule, 10, "cubic")


def test_stratified_noise_has_one_draw_per_stratum():
    gen = torch.Generator().manual_seed(3)
    x = initial_noise(4, 50, gen, "stratified")
    u = stats.norm.cdf(x.double().numpy())
    strata = np.floor(u * 50).astype(int)
    assert all(sorted(row) == list(range(50)) for row in strata)
    with pytest.raises(ValueError, match="initial noise kind"):
        initial_noise(1, 2, gen, "sobol")


def test_ddim_step_with_exact_eps_recovers_a_point_mass(schedule):
    # For x0 = c (point mass), eps = (x_t - sqrt(ab) c) / sqrt(1 - ab) exactly; one DDIM
    # step to t_prev = -1 must return c (Song et al. eq. 12 with ab_prev = 1).
    c, t = 0.37, 60
    ab = float(schedule.alpha_bars[t])
    xt = torch.tensor([0.5, -2.0])
    eps = (xt - math.sqrt(ab) * c) / math.sqrt(1 - ab)
    out = ddim_step(schedule, xt, t, -1, eps, eta=0.0, noise=None)
    assert torch.allclose(out, torch.full_like(out, c), atol=1e-5)


@pytest.fixture(scope="module")
def default_schedule():
    # the DDPMConfig default chain: T = 200, linear betas 5e-4 ... 0.1
    return NoiseSchedule.create("linear", 200, beta_start=5e-4, beta_end=0.1)


@pytest.mark.parametrize(
    ("method", "n_steps", "eta", "order"),
    [("ddpm", None, 0.0, 2), ("ddim", 20, 0.0, 2), ("ddim", 20, 1.0, 2), ("ddim", 100, 0.0, 1)],
)
def test_samplers_reproduce_a_gaussian_with_the_exact_denoiser(
    default_schedule, method, n_steps, eta, order
):
    # With the analytic E[eps|x_t] for N(m, s^2) data, the samplers must return N(m, s^2)
    # draws up to discretisation; 20,000 draws per condition: standard errors of the
    # mean/std are ~0.007 s / 0.005 s; tolerance 0.05 s for the mean, 4 % for the std.
    cond = torch.tensor([[0.0, 1.0], [2.0, 0.3], [0.0, 3.0]])
    gen = torch.Generator().manual_seed(0)
    x = sample(
        GaussianOracle(default_schedule),
        default_schedule,
        cond,
        20_000,
        generator=gen,
        method=method,
        n_steps=n_steps,
        eta=eta,
        order=order,
    )
    assert x.shape == (3, 20_000)
    for row, (m, s) in zip(x, cond.tolist(), strict=True):
        assert float(row.mean()) == pytest.approx(m, abs=0.05 * s)
        assert float(row.std()) == pytest.approx(s, rel=0.04)


def test_first_order_ddim_with_few_steps_is_too_narrow(default_schedule):
    # Why order=2 is the default: plain DDIM with 10 steps shrinks N(0, 1) by > 10 % even
    # with the exact denoiser (each step multiplies x by cos of its angle step), the
    # "stable but too narrow" DDIM of the feasibility run.
    cond = torch.tensor([[0.0, 1.0]])
    kw = dict(generator=torch.Generator().manual_seed(0), n_steps=10)
    narrow = sample(GaussianOracle(default_schedule), default_schedule, cond, 20_000, order=1, **kw)
    kw["generator"] = torch.Generator().manual_seed(0)
    fixed = sample(GaussianOracle(default_schedule), default_schedule, cond, 20_000, order=2, **kw)
    assert float(narrow.std()) < 0.9
    assert float(fixed.std()) == pytest.approx(1.0, rel=0.06)


def test_stratified_ddim_quantiles_are_nearly_exact(schedule):
    # The deterministic DDIM map is monotone in 1-D, so stratified starts give near-exact
    # quantiles: the empirical 5% quantile of 500 draws is within 0.02 sd of the truth.
    cond = torch.tensor([[0.0, 1.0]])
    x = sample(
        GaussianOracle(schedule),
        schedule,
        cond,
        500,
        generator=torch.Generator().manual_seed(1),
        method="ddim",
        n_steps=50,
        noise="stratified",
    )
    q = float(torch.sort(x[0]).values[24])  # 25th smallest of 500 = 5% VaR convention
    assert q == pytest.approx(stats.norm.ppf(0.049), abs=0.02)


def test_sampler_is_deterministic_for_a_seed():
    spec = DenoiserSpec(window_length=24, conv_width=4, n_blocks=1, hidden=8)
    net = Denoiser(spec)
    torch.nn.init.normal_(net.head.to_film.weight, std=0.2)
    sched = NoiseSchedule.create("linear", 30, beta_start=0.005, beta_end=0.3)
    cond = torch.randn(7, spec.cond_dim)

    def draw(seed, **kw):
        return sample(
            net, sched, cond, 33, generator=torch.Generator().manual_seed(seed), n_steps=5, **kw
        )

    a, b, c = draw(5), draw(5), draw(6)
    assert a.shape == (7, 33) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # chunking only bounds memory; with the same chunk size the result is the same
    assert torch.equal(draw(5, chunk_elements=66), draw(5, chunk_elements=66))
    d = sample(net, sched, cond, 4, generator=torch.Generator().manual_seed(5), method="ddpm")
    assert d.shape == (7, 4) and torch.isfinite(d).all()


def test_nan_guard_names_the_step(schedule):
    cond = torch.tensor([[0.0, 1.0]])
    oracle = GaussianOracle(schedule, nan_at=int(ddim_timesteps(schedule, 10)[3]))
    with pytest.raises(FloatingPointError, match="at reverse step 3"):
        sample(oracle, schedule, cond, 10, generator=torch.Generator().manual_seed(0), n_steps=10)
    oracle = GaussianOracle(schedule, nan_at=97)
    with pytest.raises(FloatingPointError, match=r"ddpm sampler .* step 2 \(diffusion step t=97\)"):
        sample(
            oracle, schedule, cond, 10, generator=torch.Generator().manual_seed(0), method="ddpm"
        )


def test_sample_argument_errors(schedule):
    cond = torch.zeros(2, 2)
    gen = torch.Generator().manual_seed(0)
    oracle = GaussianOracle(schedule)
    with pytest.raises(ValueError, match="eta must be in"):
        sample(oracle, schedule, cond, 5, generator=gen, eta=1.5)
    with pytest.raises(ValueError, match="n_scenarios must be a positive integer"):
        sample(oracle, schedule, cond, 0, generator=gen)
    with pytest.raises(ValueError, match="ancestral sampler runs all 100 steps"):
        sample(oracle, schedule, cond, 5, generator=gen, method="ddpm", n_steps=10)
    with pytest.raises(ValueError, match="sampler must be one of"):
        sample(oracle, schedule, cond, 5, generator=gen, method="euler")
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        sample(oracle, schedule, cond, 5, generator=gen, order=3)
    with pytest.raises(ValueError, match="cond must have shape"):
        sample(oracle, schedule, torch.zeros(3), 5, generator=gen)


@pytest.mark.parametrize(
    "method,order,n_steps", [("ddim", 1, 100), ("ddim", 2, 20), ("ddpm", 1, None)]
)
def test_reverse_process_handles_any_state_shape(schedule, method, order, n_steps):
    # The shared chain on (B, A, H) states (as the stress generator uses it): with the
    # exact eps of N(0, s^2) data per asset, every asset comes out with std s (within 4 %
    # with 4,000 x 5 draws per asset, standard error ~0.5 %; first-order DDIM needs all
    # steps, see the test above) and the chain equals ``sample`` with the same draws.
    scales = torch.tensor([0.5, 1.0, 2.0]).view(1, 3, 1)
    oracle = GaussianOracle(schedule)

    def eps_fn(x, t):
        ab = float(schedule.alpha_bars[t])
        return math.sqrt(1 - ab) * x / (ab * scales**2 + 1 - ab)

    steps = reverse_steps(method, schedule, n_steps, "logsnr")
    gen = torch.Generator().manual_seed(3)
    x = reverse_process(
        eps_fn,
        schedule,
        torch.randn(4000, 3, 5, generator=gen),
        steps,
        generator=gen,
        method=method,
        order=order,
    )
    assert x.shape == (4000, 3, 5)
    std = x.permute(1, 0, 2).reshape(3, -1).std(dim=1)
    assert std.tolist() == pytest.approx([0.5, 1.0, 2.0], rel=0.04)
    # same chain, one scalar per condition, through ``sample``
    cond = torch.tensor([[0.0, 2.0]])
    flat = sample(
        oracle,
        schedule,
        cond,
        64,
        generator=torch.Generator().manual_seed(5),
        method=method,
        n_steps=n_steps,
        order=order,
        noise="iid",
    )
    gen = torch.Generator().manual_seed(5)
    x_init = initial_noise(1, 64, gen)
    direct = reverse_process(
        lambda x, t: oracle.predict_eps(x, cond, t),
        schedule,
        x_init,
        steps,
        generator=gen,
        method=method,
        order=order,
    )
    assert torch.equal(flat, direct)


def test_reverse_process_warms_the_allocator_before_its_first_network_call(schedule, monkeypatch):
    # every sampler's chain starts after warm_allocator (memory only): in a fresh process
    # its large temporaries then come from reused memory, as in a Dask task
    events: list[str] = []
    monkeypatch.setattr(sampler_module, "warm_allocator", lambda: events.append("warm"))

    def eps_fn(x, t):
        events.append("eps")
        return torch.zeros_like(x)

    steps = reverse_steps("ddim", schedule, 3, "linear")
    gen = torch.Generator().manual_seed(0)
    reverse_process(eps_fn, schedule, torch.ones(2, 4), steps, generator=gen, order=1)
    assert events == ["warm", "eps", "eps", "eps"]


def test_reverse_steps_and_reverse_process_errors(schedule):
    assert reverse_steps("ddpm", schedule, None, "linear").tolist() == list(range(99, -1, -1))
    with pytest.raises(ValueError, match="ancestral sampler runs all 100 steps"):
        reverse_steps("ddpm", schedule, 10, "linear")
    with pytest.raises(ValueError, match="sampler must be one of"):
        reverse_steps("euler", schedule, 10, "linear")
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(2, 3)
    steps = reverse_steps("ddim", schedule, 5, "linear")
    with pytest.raises(ValueError, match="eta must be in"):
        reverse_process(lambda x, t: x, schedule, x, steps, generator=gen, eta=2.0)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        reverse_process(lambda x, t: x, schedule, x, steps, generator=gen, order=3)
    with pytest.raises(FloatingPointError, match="reverse step 0"):
        reverse_process(lambda x, t: x * math.nan, schedule, x, steps, generator=gen)


@pytest.mark.parametrize(
    ("method", "eta", "noise"),
    [("ddim", 0.0, "stratified"), ("ddim", 0.5, "iid"), ("ddpm", 0.0, "iid")],
)
def test_chunk_states_replay_the_draws_of_sample(schedule, method, eta, noise):
    # 7 conditions x 10 scenarios in chunks of 30 elements: chunks of 3, 3 and 1 rows.
    cond = torch.stack([torch.linspace(-1.0, 1.0, 7), torch.linspace(0.5, 2.0, 7)], dim=1)
    kw = {"method": method, "n_steps": 8 if method == "ddim" else None, "eta": eta}
    kw |= {"noise": noise, "chunk_elements": 30}
    oracle = GaussianOracle(schedule)
    full_gen = torch.Generator().manual_seed(5)
    full = sample(oracle, schedule, cond, 10, generator=full_gen, progress=False, **kw)
    replay_gen = torch.Generator().manual_seed(5)
    steps = reverse_steps(method, schedule, kw["n_steps"], "logsnr")
    states = chunk_states(
        7, 10, steps, generator=replay_gen, method=method, eta=eta, noise=noise, chunk_elements=30
    )
    assert chunk_rows(10, 30) == 3 and len(states) == 3
    assert torch.equal(states[0], torch.Generator().manual_seed(5).get_state())
    # the generator ends where sample leaves it
    assert torch.equal(replay_gen.get_state(), full_gen.get_state())
    # every chunk, and a range of two chunks, from its state alone: the same bytes
    for first, stop in [(0, 1), (1, 2), (2, 3), (1, 3)]:
        gen = torch.Generator()
        gen.set_state(states[first])
        part = sample(oracle, schedule, cond[3 * first : 3 * stop], 10, generator=gen, **kw)
        assert torch.equal(part, full[3 * first : 3 * stop])
    # the replay is not vacuous: the chunks start from different states
    assert not torch.equal(states[1], states[2])


def test_step_noise_follows_the_sampler():
    assert step_noise("ddpm", 5, 0.0) and not step_noise("ddpm", 0, 0.0)
    assert step_noise("ddim", 0, 0.3) and not step_noise("ddim", 5, 0.0)
    assert chunk_rows(500) == 65 and chunk_rows(5000) == 6 and chunk_rows(10**6) == 1
    no_chunks = chunk_states(0, 5, np.arange(9, -1, -1), generator=torch.Generator())
    assert no_chunks == []
