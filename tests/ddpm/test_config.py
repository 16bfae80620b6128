"""Tests of diffrisk.ddpm.config: the record of DDPMConfig."""

from __future__ import annotations

from diffrisk.ddpm.config import DDPMConfig

#: The keys of ``DDPMConfig.to_dict()`` in order: checkpoints and audit records hold them.
RECORD_KEYS = """
    scaling ewma_lambda garch_o garch_dist vol_floor max_zero_frac window clip_window
    train_series series_embedding market_features market_columns market_index market_window
    conv_width n_blocks kernel_size cond_dim time_dim hidden dropout gaussian_skip schedule
    diffusion_steps beta_start beta_end lr weight_decay batch_size noise_draws max_epochs
    patience min_epochs grad_clip ema_decay samples_per_epoch select_by val_series
    val_scenarios val_steps final_refit sampler n_steps eta spacing noise order variance threads
""".split()


def test_record_keys_and_their_order_are_pinned():
    assert list(DDPMConfig().to_dict()) == RECORD_KEYS
    assert list(DDPMConfig.smoke().to_dict()) == RECORD_KEYS
