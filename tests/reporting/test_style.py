"""Tests of diffrisk.reporting.style: method order, labels, colours."""

from __future__ import annotations

from diffrisk.reporting.style import (
    METHOD_ORDER,
    method_color,
    method_label,
    set_style,
    sort_methods,
)

# ---- labels, order, colours ----------------------------------------------------------


def test_method_order_labels_and_colours():
    order = sort_methods(["zeta", "ddpm_ddim", "fhs", "ddpm", "hs", "garch_t", "mc_normal"])
    assert order == ["hs", "mc_normal", "garch_t", "fhs", "ddpm", "ddpm_ddim", "zeta"]
    assert method_label("ddpm_ddim") == "Diffusion model (DDPM, ddim)"
    assert method_label("fhs") == "Filtered HS"
    colours = [method_color(m) for m in METHOD_ORDER]
    assert len(set(colours)) == len(colours)
    assert method_color("ddpm_ddim") == method_color("ddpm_ddim")


def test_set_style_pins_fonts_and_dpi():
    import matplotlib

    with matplotlib.rc_context():
        set_style()
        assert matplotlib.rcParams["font.sans-serif"][0] == "DejaVu Sans"
        assert matplotlib.rcParams["savefig.dpi"] == 150
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == (method_color("hs"))
