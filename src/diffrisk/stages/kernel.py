"""The stages' Jupyter kernel and its instruction-set profile (the CPU kernels libraries use).

The profile decides which CPU kernels numpy, OpenBLAS, PyTorch and numba may use. Each of
these libraries picks its kernels by CPU when it loads: on a CPU with AVX-512, numpy's
``log``, OpenBLAS's dot products, PyTorch's convolutions and numba's compiled loops take
other code paths than on an AVX2-only CPU, and round differently in the last bits. The
study amplifies such bits (the tuning study then samples other trials and the one-day
model changes), so two machines of one kind but different CPU generations compute
different tables. Measured on an AVX-512 machine (AMD EPYC, Zen 4): numpy's ``log``
differs from glibc's on 61 of the 174,573 default prices natively and on none under the
``avx2`` profile; natively its ``make repro`` moved 30 of 47 tables, under ``avx2`` every
stage wrote the committed tables, metrics and figures (made on an AVX2-only machine) byte
for byte.

A profile is a set of environment variables, read by each library when it loads; they
must be set before the process imports numpy or torch. The pipeline sets them through
its Jupyter kernel: ``make repro`` and ``make test`` install this environment's
``python3`` kernel with the profile ``ISA_PROFILE`` (default ``avx2``) by running
``python -m diffrisk.stages.kernel --install-kernel <profile>``, and every stage runs
its notebook in that kernel (Dask workers inherit its environment).

* ``avx2``: every library capped at AVX2 (x86-64 only; elsewhere it sets nothing), so any
  x86-64 CPU with AVX2 computes the same numbers;
* ``native``: nothing set; every library uses the whole CPU (faster on AVX-512 CPUs, other
  numbers).
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence

#: The environment variables of each profile (applied on x86-64 machines only).
PROFILES: dict[str, dict[str, str]] = {
    "avx2": {
        # numpy: its AVX-512 dispatch targets off (the float64 log among them)
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
        # OpenBLAS (numpy's and SciPy's BLAS): the Haswell (AVX2) kernels
        "OPENBLAS_CORETYPE": "Haswell",
        # PyTorch: ATen's vectorised kernels, oneDNN (convolutions) and MKL (BLAS)
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        # numba (the GAS and ES-CAViaR recursions): LLVM's Haswell target
        "NUMBA_CPU_NAME": "haswell",
    },
    "native": {},
}

#: Machines (``platform.machine()``) whose libraries know the variables of ``avx2``.
X86_64 = ("x86_64", "AMD64")


def profile_environment(name: str, machine: str | None = None) -> dict[str, str]:
    """The environment variables of profile ``name`` on ``machine``.

    Parameters
    ----------
    name : str
        A key of :data:`PROFILES`.
    machine : str, optional
        ``platform.machine()`` of the target; default this machine. Off x86-64 every
        profile is empty (the variables name x86 instruction sets).

    Returns
    -------
    dict
        Variable name to value (a copy).

    Raises
    ------
    ValueError
        If ``name`` is not a profile, naming ``ISA_PROFILE`` and the choices.

    Examples
    --------
    >>> profile_environment("avx2", machine="x86_64")["ATEN_CPU_CAPABILITY"]
    'avx2'
    >>> profile_environment("avx2", machine="aarch64")
    {}
    """
    if name not in PROFILES:
        raise ValueError(f"ISA_PROFILE must be one of {sorted(PROFILES)}, got {name!r}")
    machine = platform.machine() if machine is None else machine
    return dict(PROFILES[name]) if machine in X86_64 else {}


def install_kernel(name: str, prefix: str | None = None) -> str:
    """Install this environment's ``python3`` Jupyter kernel with profile ``name``'s variables.

    Parameters
    ----------
    name : str
        A key of :data:`PROFILES`.
    prefix : str, optional
        Installation prefix; default ``sys.prefix`` (the virtual environment), where
        papermill's ``-k python3`` finds it first.

    Returns
    -------
    str
        The kernel spec's directory.
    """
    from ipykernel.kernelspec import install

    env = profile_environment(name)
    return install(kernel_name="python3", prefix=prefix or sys.prefix, env=env)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m diffrisk.stages.kernel --install-kernel PROFILE`` (what make runs)."""
    parser = argparse.ArgumentParser(prog="python -m diffrisk.stages.kernel")
    parser.add_argument("--install-kernel", metavar="PROFILE", required=True)
    args = parser.parse_args(argv)
    try:
        where = install_kernel(args.install_kernel)
    except ValueError as err:
        parser.error(str(err))
    env = profile_environment(args.install_kernel)
    print(f"kernel python3 ({args.install_kernel}: {env or 'no variables'}) in {where}")


if __name__ == "__main__":
    main()
