"""Tables, figures and the study report (DESIGN §5).

Modules: ``style`` and ``formatting`` (the look of every figure and table);
``paper_tables``, ``paper_figures`` and ``forecast_panels`` (the paper's tables and
figures); ``headline_metrics``, ``headline_text``, ``discussion``, ``distill_text``,
``references``, ``study_report`` and ``notebook_html`` (the report and its HTML);
``stress_report``, ``stress_figures``, ``stress_extensions``, ``stress_segments``,
``stress_adversarial`` and ``reverse_stress`` (the stress study's sections);
``tuning_figures``.

Everything here reads outputs of earlier stages (forecast tables, scenario sets, the
backtest tables) and writes presentation files: the paper's Table 1 (average CVaR),
Table 2 (VaR coverage with Kupiec p-values), an extended backtest table, Figures 1–3,
``reports/STUDY.md`` and HTML renderings of the executed notebooks.

Sign convention
---------------
Returns are log returns as fractions (0.01 = 1 %); VaR and CVaR are returns, so they are
negative numbers for a loss; ``alpha`` is the tail probability (0.01 for 99 % VaR); an
exception on day t is ``r_t < VaR_t`` (strict). Tables show VaR, CVaR and exception rates
in percent (so a CVaR of -0.0245 is shown as -2.45).

Determinism
-----------
Files are written atomically through :mod:`diffrisk.core.io`. Figures are drawn on
``matplotlib.figure.Figure`` objects rendered by the Agg (PNG) and PDF backends without
touching ``pyplot``, so importing this module never changes a notebook's backend and no
figure stays registered after saving. PNG and PDF files carry no timestamp or software
metadata and the only font used is matplotlib's bundled DejaVu Sans, so the same inputs
give byte-identical files (DVC reruns do not churn).
"""
