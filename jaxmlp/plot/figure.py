"""What every picture shares: optional matplotlib, figures drawn off screen, PNGs written whole.

matplotlib is imported inside the functions (``pip install 'jaxmlp[examples]'``). Figures are
drawn on matplotlib's Agg canvas (``matplotlib.figure.Figure``, never ``pyplot``), so nothing needs
a display, no global backend is switched, and no figure is left open. A figure is rendered in
memory, then written with :func:`jaxmlp.atomic.write_atomic`, so an interrupted run leaves no
partial image.
"""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["figure_class", "require_matplotlib", "save"]


def require_matplotlib() -> None:
    """Raise ``ModuleNotFoundError`` with the install command when matplotlib is missing."""
    figure_class()


def figure_class():
    """matplotlib's ``Figure`` (the Agg canvas, no ``pyplot``).

    Raises ``ModuleNotFoundError`` with the install command when matplotlib is missing.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ModuleNotFoundError(
            "jaxmlp's plots need matplotlib, which is not installed: "
            "pip install 'jaxmlp[examples]'"
        ) from None
    return Figure


def save(fig, path: str | Path) -> Path:
    """Render ``fig`` as PNG bytes in memory, then write them atomically to ``path``."""
    from jaxmlp.atomic import write_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    fig.clear()
    return write_atomic(path, buffer.getvalue())
