"""Instruction-set profiles: the variables, the libraries obeying them, the pipeline's kernel."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from diffrisk.stages.kernel import PROFILES, X86_64, install_kernel, main, profile_environment

#: What a process reports about its kernels: numpy's AVX-512 targets, PyTorch's capability,
#: numba's LLVM target, OpenBLAS's core type.
PROBE = """
import json
import numba, numpy, torch
from numpy._core._multiarray_umath import __cpu_features__ as features
from threadpoolctl import threadpool_info
print(json.dumps({
    "numpy_x86_v4": features.get("X86_V4", False),
    "torch": torch.backends.cpu.get_cpu_capability(),
    "numba": numba.config.CPU_NAME,
    "openblas": sorted({i.get("architecture") for i in threadpool_info()
                        if i.get("internal_api") == "openblas"}),
}))
"""


def test_profiles_and_machines():
    assert profile_environment("native") == {}
    assert profile_environment("avx2", machine="x86_64") == PROFILES["avx2"]
    assert profile_environment("avx2", machine="aarch64") == {}  # x86 names mean nothing there
    env = profile_environment("avx2", machine="x86_64")
    env["ATEN_CPU_CAPABILITY"] = "avx512"
    assert PROFILES["avx2"]["ATEN_CPU_CAPABILITY"] == "avx2"  # a copy
    with pytest.raises(ValueError, match=r"ISA_PROFILE must be one of \['avx2', 'native'\]"):
        profile_environment("avx512")


@pytest.mark.skipif(platform.machine() not in X86_64, reason="avx2 sets nothing off x86-64")
def test_a_process_started_with_avx2_uses_no_avx512_kernel():
    env = {**os.environ, **profile_environment("avx2")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["numpy_x86_v4"] is False
    assert seen["torch"] in ("AVX2", "DEFAULT")
    assert seen["numba"] == "haswell"
    assert seen["openblas"] == ["Haswell"]  # numpy's OpenBLAS (natively e.g. SkylakeX)


def test_install_kernel_writes_the_profile_into_the_kernel_spec(tmp_path):
    where = Path(install_kernel("avx2", prefix=str(tmp_path)))
    spec = json.loads((where / "kernel.json").read_text())
    assert spec["env"] == profile_environment("avx2")
    assert spec["argv"][0] == sys.executable
    with pytest.raises(ValueError, match="ISA_PROFILE"):
        install_kernel("fast", prefix=str(tmp_path))


def test_the_command_line_names_a_bad_profile(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--install-kernel", "avx9"])
    assert stop.value.code == 2
    assert "ISA_PROFILE must be one of ['avx2', 'native'], got 'avx9'" in capsys.readouterr().err


def test_the_pipeline_kernel_carries_the_profile_make_installed():
    """The ``python3`` kernel papermill runs every stage in (``make`` installs it)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    profile = os.environ.get("ISA_PROFILE", "avx2")
    assert spec.env == profile_environment(profile), (
        f"the python3 kernel of {sys.prefix} does not carry ISA_PROFILE={profile}: "
        f"run `make kernel ISA_PROFILE={profile}`"
    )
    assert spec.argv[0] == sys.executable
