"""The papermill engine of the stages: each notebook's kernel talks over Unix sockets.

Papermill's default engine (nbclient) starts the kernel with TCP on 127.0.0.1, where any
local user can connect to its ports and read the messages (code and outputs) in plain
text; ipykernel 7 warns about it on every stage ("Kernel is running over TCP without
encryption"). The engine :class:`IPCEngine` (papermill's ``--engine diffrisk``, registered
under the entry-point group ``papermill.engine``) runs the same kernel over IPC transport:
Unix sockets beside the kernel's connection file, created and removed with the kernel and
readable only as the file system allows. Nothing else changes: the kernel, its
environment (:mod:`diffrisk.stages.kernel`), the notebook and its outputs are the same.
On Windows, where ZeroMQ has no IPC transport, the kernel stays on TCP.

Examples
--------
Every stage of ``dvc.yaml`` runs its notebook as::

    papermill notebooks/01_data.ipynb reports/notebooks/01_data.ipynb -k python3 --engine diffrisk
"""

from __future__ import annotations

import sys
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

__all__ = ["IPCEngine", "IPCKernelManager"]


class IPCKernelManager(AsyncKernelManager):
    """nbclient's kernel manager with ``transport = "ipc"`` as its default (not on Windows)."""

    @default("transport")
    def _transport_default(self) -> str:
        return "tcp" if sys.platform == "win32" else "ipc"


def _nbclient_engine() -> Any:
    # Imported on use: importing papermill.engines loads every registered engine, this
    # module's among them, so importing it here at the top would be circular.
    from papermill.engines import NBClientEngine

    return NBClientEngine


class IPCEngine:
    """Papermill's nbclient engine with the kernel on IPC transport (:class:`IPCKernelManager`).

    Papermill calls an engine's three class methods below; each is nbclient's
    (``papermill.engines.NBClientEngine``), with the kernel manager set.
    """

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, **kwargs: Any) -> Any:
        """Execute ``nb`` as papermill's nbclient engine does, the kernel over IPC.

        Parameters
        ----------
        nb : nbformat.NotebookNode
            The parameterised notebook.
        kernel_name : str
            Name of the kernel to start (the stages use ``python3``).
        **kwargs
            Passed on to ``papermill.engines.NBClientEngine.execute_notebook``.

        Returns
        -------
        nbformat.NotebookNode
            The executed notebook.
        """
        kwargs.setdefault("kernel_manager_class", IPCKernelManager)
        return _nbclient_engine().execute_notebook(nb, kernel_name, **kwargs)

    @classmethod
    def nb_kernel_name(cls, nb: Any, name: str | None = None) -> str:
        """The kernel name papermill uses (nbclient's rule)."""
        return _nbclient_engine().nb_kernel_name(nb, name)

    @classmethod
    def nb_language(cls, nb: Any, language: str | None = None) -> str:
        """The notebook's language (nbclient's rule)."""
        return _nbclient_engine().nb_language(nb, language)
