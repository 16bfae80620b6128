"""The references of STUDY.md: the works the study's methods come from."""

from __future__ import annotations

from collections.abc import Sequence

#: The works the study's methods come from, cited in the report's "References" section:
#: (short citation, full reference, what the study takes from it).
REFERENCES: tuple[tuple[str, str, str], ...] = (
    (
        "Clark & Fowler",
        "Clark, L. C. and Fowler, W. *Diffusion Models for Synthetic Financial Stress "
        "Scenario Generation and Robust Risk Management Evaluation.* Preprint.",
        "source paper of the stress-scenario study",
    ),
    (
        "CVaR preprint (2025)",
        "*Conditional Value at Risk (CVaR) – Enhancing Risk Assessment with Generative "
        "Models.* Preprints.org preprint 159519, posted 15 May 2025 (not peer-reviewed).",
        "source paper of the one-day VaR/CVaR study (its Tables 1–2 and Figures 1–3)",
    ),
    (
        "Kupiec (1995)",
        "Kupiec, P. H. (1995). Techniques for verifying the accuracy of risk measurement "
        "models. *The Journal of Derivatives*, 3(2), 73–84.",
        "proportion-of-failures test of the VaR exception count",
    ),
    (
        "Christoffersen (1998)",
        "Christoffersen, P. F. (1998). Evaluating interval forecasts. *International "
        "Economic Review*, 39(4), 841–862.",
        "independence and conditional-coverage tests of the exceptions",
    ),
    (
        "Basel Committee (1996)",
        "Basel Committee on Banking Supervision (1996). *Supervisory framework for the use "
        'of "backtesting" in conjunction with the internal models approach to market risk '
        "capital requirements.* Bank for International Settlements.",
        "traffic-light zones of 250-day windows",
    ),
    (
        "Acerbi & Szekely (2014)",
        "Acerbi, C. and Szekely, B. (2014). Backtesting expected shortfall. *Risk*, December 2014.",
        "Z2 test of the CVaR (expected shortfall)",
    ),
    (
        "Fissler & Ziegel (2016)",
        "Fissler, T. and Ziegel, J. F. (2016). Higher order elicitability and Osband's "
        "principle. *The Annals of Statistics*, 44(4), 1680–1707.",
        "joint elicitability of VaR and expected shortfall",
    ),
    (
        "Patton, Ziegel & Chen (2019)",
        "Patton, A. J., Ziegel, J. F. and Chen, R. (2019). Dynamic semiparametric models "
        "for expected shortfall (and Value-at-Risk). *Journal of Econometrics*, 211(2), "
        "388–413.",
        "the FZ0 loss used to rank the methods, and the one-factor GAS peer",
    ),
    (
        "Engle & Manganelli (2004)",
        "Engle, R. F. and Manganelli, S. (2004). CAViaR: Conditional autoregressive value "
        "at risk by regression quantiles. *Journal of Business & Economic Statistics*, "
        "22(4), 367–381.",
        "the asymmetric-slope CAViaR equation of the ES-CAViaR peer",
    ),
    (
        "Taylor (2019)",
        "Taylor, J. W. (2019). Forecasting value at risk and expected shortfall using a "
        "semiparametric approach based on the asymmetric Laplace distribution. *Journal "
        "of Business & Economic Statistics*, 37(1), 121–133.",
        "the ES-CAViaR peer (ES a multiple of the CAViaR VaR)",
    ),
    (
        "Diebold & Mariano (1995)",
        "Diebold, F. X. and Mariano, R. S. (1995). Comparing predictive accuracy. "
        "*Journal of Business & Economic Statistics*, 13(3), 253–263.",
        "test of the FZ0 loss difference against the benchmark",
    ),
    (
        "Newey & West (1987)",
        "Newey, W. K. and West, K. D. (1987). A simple, positive semi-definite, "
        "heteroskedasticity and autocorrelation consistent covariance matrix. "
        "*Econometrica*, 55(3), 703–708.",
        "the long-run variance of the Diebold–Mariano test and of the selection margin",
    ),
    (
        "Holm (1979)",
        "Holm, S. (1979). A simple sequentially rejective multiple test procedure. "
        "*Scandinavian Journal of Statistics*, 6(2), 65–70.",
        "the family-wise correction of each method's battery of tests",
    ),
    (
        "Breuer et al. (2009)",
        "Breuer, T., Jandačka, M., Rheinberger, K. and Summer, M. (2009). How to find "
        "plausible, severe, and useful stress scenarios. *International Journal of "
        "Central Banking*, 5(3), 205–224.",
        "the Mahalanobis worst-case peer of the reverse stress test",
    ),
    (
        "Gneiting & Raftery (2007)",
        "Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules, "
        "prediction, and estimation. *Journal of the American Statistical Association*, "
        "102(477), 359–378.",
        "the energy score of the stress scenario sets (proper scoring rules)",
    ),
    (
        "Scheuerer & Hamill (2015)",
        "Scheuerer, M. and Hamill, T. M. (2015). Variogram-based proper scoring rules for "
        "probabilistic forecasts of multivariate quantities. *Monthly Weather Review*, "
        "143(4), 1321–1334.",
        "the variogram score of the stress scenario sets",
    ),
    (
        "Gibbs & Candès (2021)",
        "Gibbs, I. and Candès, E. (2021). Adaptive conformal inference under distribution "
        "shift. *Advances in Neural Information Processing Systems*, 34, 1660–1672.",
        "the adaptive calibration wrapper (ACI) of the VaR/ES forecasts",
    ),
    (
        "Ho, Jain & Abbeel (2020)",
        "Ho, J., Jain, A. and Abbeel, P. (2020). Denoising diffusion probabilistic models. "
        "*Advances in Neural Information Processing Systems*, 33, 6840–6851.",
        "the denoising diffusion model and its ancestral sampler",
    ),
    (
        "Song, Meng & Ermon (2021)",
        "Song, J., Meng, C. and Ermon, S. (2021). Denoising diffusion implicit models. "
        "*International Conference on Learning Representations*.",
        "the DDIM sampler",
    ),
    (
        "Lu et al. (2022)",
        "Lu, C., Zhou, Y., Bao, F., Chen, J., Li, C. and Zhu, J. (2022). DPM-Solver++: "
        "Fast solver for guided sampling of diffusion probabilistic models. "
        "arXiv:2211.01095.",
        "the second-order multistep sampler",
    ),
    (
        "Ho & Salimans (2022)",
        "Ho, J. and Salimans, T. (2022). Classifier-free diffusion guidance. arXiv:2207.12598.",
        "guidance of the stress model toward a requested signature",
    ),
)


def references_section(references: Sequence[tuple[str, str, str]] = REFERENCES) -> str:
    """Markdown list of the references, each with what the study takes from it.

    Parameters
    ----------
    references : sequence of (short, full, use)
        Default :data:`REFERENCES`.

    Returns
    -------
    str
        One list item per reference, in the given order.
    """
    if not references:
        raise ValueError("references must not be empty")
    return "\n".join(f"- {full} Used for: {use}." for _, full, use in references)
