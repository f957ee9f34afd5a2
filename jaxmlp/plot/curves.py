"""Learning curves: a training history by epoch, one run or many (:func:`jaxmlp.fit_many`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxmlp.plot.figure import figure_class, save

__all__ = ["curves", "learning_curves"]

_SPLITS = (("val_", "validation"), ("test_", "test"))


def learning_curves(
    history: Mapping[str, Sequence[float]], path: str | Path, title: str | None = None
) -> Path:
    """Plot a training history: one panel per metric, training, validation (and test) by epoch.

    Arguments:
        history: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` as returned by
            :func:`jaxmlp.fit`; a ``val_`` key is drawn as "validation", a ``test_`` key as "test"
            in the panel of the metric it prefixes. :func:`jaxmlp.fit_many`'s ``(epochs, N)``
            arrays draw one thin line per model and the mean over the models with a ±1 std band
            (NaN, a model that stopped early, is left out).
        path: the PNG to write.
        title: the figure's title.

    >>> import tempfile, os
    >>> path = learning_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]},
    ...                        os.path.join(tempfile.mkdtemp(), "curves.png"))
    >>> path.suffix
    '.png'
    """
    panels: dict[str, dict[str, Sequence[float]]] = {}
    for key, values in history.items():
        base, label = key, "training"
        for prefix, name in _SPLITS:
            if key.startswith(prefix):
                base, label = key[len(prefix):], name
        panels.setdefault(base, {})[label] = values
    if not panels or not any(len(v) for lines in panels.values() for v in lines.values()):
        raise ValueError("history: expected at least one non-empty list of per-epoch values")
    fig = figure_class()(figsize=(5.2 * len(panels), 4.0), layout="constrained")
    for ax, (metric, lines) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        if any(np.ndim(v) == 2 for v in lines.values()):
            _draw_bands(ax, lines, metric.replace("_", " "), metric)
        else:
            _draw_lines(ax, lines, metric.replace("_", " "), "epoch", metric)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def curves(series: Mapping[str, Sequence[float]], path: str | Path, title: str | None = None,
           xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False) -> Path:
    """Plot several named series against epochs 1, 2, ... on one set of axes (to compare runs).

    Arguments:
        series: ``{label: values}``; each list is drawn against ``1 .. len(values)``.
        path: the PNG to write.
        title, xlabel, ylabel: the axes' texts; logy: a logarithmic y axis.
    """
    if not series or not all(len(v) for v in series.values()):
        raise ValueError("series: expected at least one non-empty list of values")
    fig = figure_class()(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    _draw_lines(ax, series, title or "", xlabel, ylabel)
    if logy:
        ax.set_yscale("log")
    return save(fig, path)


def _draw_lines(
    ax, lines: Mapping[str, Sequence[float]], title: str, xlabel: str, ylabel: str
) -> None:
    for label, values in lines.items():
        epochs = np.arange(1, len(values) + 1)
        marker = "o" if len(values) <= 30 else None
        ax.plot(epochs, values, marker=marker, markersize=3, label=label)
    _epoch_axes(ax, title, xlabel, ylabel)


def _draw_bands(ax, lines: Mapping[str, Any], title: str, ylabel: str) -> None:
    """Each split's ``(epochs, N)`` models as thin lines, their mean as a line, ±1 std as a band."""
    for colour, (label, values) in enumerate(lines.items()):
        runs = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        epochs = np.arange(1, len(runs) + 1)
        colour = f"C{colour}"
        ax.plot(epochs, runs, color=colour, alpha=0.3, linewidth=0.7)
        # every epoch has a model training, so no mean is of nothing
        mean = np.nanmean(runs, axis=1)
        std = np.nanstd(runs, axis=1)
        ax.plot(epochs, mean, color=colour, linewidth=2,
                label=f"{label}, mean ± std of {runs.shape[1]}")
        ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
    _epoch_axes(ax, title, "epoch", ylabel)


def _epoch_axes(ax, title: str, xlabel: str, ylabel: str) -> None:
    """Label the axes, whole epochs on x, a light grid and the legend."""
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend()
