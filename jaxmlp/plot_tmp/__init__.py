"""Pictures of a training run: learning curves, decision boundaries, confusion matrices, weights.

Every function draws one figure, writes it as a PNG to ``path`` (creating the folder) atomically
(rendered in memory, then :func:`jaxmlp.atomic.write_atomic`, so an interrupted run leaves no
partial image), and returns the path. matplotlib is optional (``pip install 'jaxmlp[examples]'``):
it is imported inside the functions, and figures are drawn on matplotlib's Agg canvas
(``matplotlib.figure.Figure``, never ``pyplot``), so nothing needs a display, no global backend is
switched, and no figure is left open.

The colours of :func:`decision_boundary` are the TensorFlow Playground's (deck 004): orange for
-1, blue for +1, grey-white in between, named in the legend; training points have a white edge,
test points a black one.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PLAYGROUND_COLORS",
    "confusion_matrix",
    "curves",
    "decision_boundary",
    "learning_curves",
    "require_matplotlib",
    "weight_images",
]

#: The Playground's colour scale for outputs -1, 0, +1.
PLAYGROUND_COLORS = ("#f59322", "#e8eaeb", "#0877bd")
_SPLITS = (("val_", "validation"), ("test_", "test"))


def require_matplotlib() -> None:
    """Raise ``ModuleNotFoundError`` with the install command when matplotlib is missing."""
    _figure_class()


def learning_curves(history: Mapping[str, Sequence[float]], path: str | Path, title: str | None = None
                    ) -> Path:
    """Plot a training history: one panel per metric, training vs validation (and test) per epoch.

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
    fig = _figure_class()(figsize=(5.2 * len(panels), 4.0), layout="constrained")
    for ax, (metric, lines) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        if any(np.ndim(v) == 2 for v in lines.values()):
            _draw_bands(ax, lines, metric.replace("_", " "), metric)
        else:
            _draw_lines(ax, lines, metric.replace("_", " "), "epoch", metric)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def curves(series: Mapping[str, Sequence[float]], path: str | Path, title: str | None = None,
           xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False) -> Path:
    """Plot several named series against epochs 1, 2, ... on one set of axes (e.g. to compare runs).

    Arguments:
        series: ``{label: values}``; each list is drawn against ``1 .. len(values)``.
        path: the PNG to write.
        title, xlabel, ylabel: the axes' texts; logy: a logarithmic y axis.
    """
    if not series or not all(len(v) for v in series.values()):
        raise ValueError("series: expected at least one non-empty list of values")
    fig = _figure_class()(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    _draw_lines(ax, series, title or "", xlabel, ylabel)
    if logy:
        ax.set_yscale("log")
    return _save(fig, path)


def decision_boundary(
    predict: Callable[[np.ndarray], Any], path: str | Path, train: tuple[Any, Any] | None = None,
    test: tuple[Any, Any] | None = None, extent: float = 6.0, resolution: int = 200,
    title: str | None = None, regression: bool = False,
) -> Path:
    """The Playground's picture: the network's output over the plane ``[-extent, extent]²`` with points.

    Arguments:
        predict: maps points ``(m, 2)`` to outputs ``(m,)`` or ``(m, 1)`` on the Playground's scale
            (-1 orange .. +1 blue): a tanh output, a regression output, or ``2 p - 1`` for a
            sigmoid probability ``p``.
        path: the PNG to write.
        train, test: ``(xy (n, 2), t (n,) or (n, 1))`` with labels ±1 (or {0, 1}) or regression
            targets; training points are drawn with a white edge, test points with a black one.
        extent: half the side of the square drawn.
        resolution: grid points per side.
        title: the axes' title.
        regression: draw the output as a surface only; otherwise the decision boundary (output 0)
            is drawn as a line as well.
    """
    figure_class = _figure_class()
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.lines import Line2D

    grid = np.linspace(-extent, extent, resolution)
    gx, gy = np.meshgrid(grid, grid)
    points = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    z = np.asarray(predict(points), dtype=np.float64).reshape(gx.shape)
    cmap = LinearSegmentedColormap.from_list("playground", PLAYGROUND_COLORS)
    fig = figure_class(figsize=(6.0, 5.8), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(z, extent=(-extent, extent, -extent, extent), origin="lower", cmap=cmap,
                      vmin=-1, vmax=1, interpolation="bilinear", alpha=0.7)
    if not regression and z.min() < 0 < z.max():
        ax.contour(gx, gy, z, levels=[0.0], colors="#444444", linewidths=1.2)
    handles = [] if regression else [
        Line2D([], [], ls="", marker="o", markerfacecolor=PLAYGROUND_COLORS[2], markeredgecolor="#777777",
               label="class +1 (blue)"),
        Line2D([], [], ls="", marker="o", markerfacecolor=PLAYGROUND_COLORS[0], markeredgecolor="#777777",
               label="class −1 (orange)")]
    for points, edge, name in ((train, "white", "training"), (test, "black", "test")):
        if points is None:
            continue
        points_xy, targets = points
        targets = np.asarray(targets, dtype=np.float64).reshape(-1)
        if not regression and targets.min() >= 0:
            targets = 2 * targets - 1  # {0, 1} labels onto the ±1 colour scale
        points_xy = np.asarray(points_xy)
        ax.scatter(points_xy[:, 0], points_xy[:, 1], c=targets, cmap=cmap, vmin=-1, vmax=1,
                   s=min(20.0, 5000 / len(points_xy)), edgecolors=edge, linewidths=0.9)
        handles.append(Line2D([], [], ls="", marker="o", markerfacecolor="#777777", markeredgecolor=edge,
                              label=f"{name} points ({len(points_xy)}, {edge} edge)"))
    fig.colorbar(image, ax=ax, shrink=0.8, label="network output")
    ax.set(xlim=(-extent, extent), ylim=(-extent, extent), xlabel="x", ylabel="y", aspect="equal",
           title=title or ("regression surface" if regression else "decision boundary"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 2), fontsize="small",
                   frameon=False)
    return _save(fig, path)


def confusion_matrix(labels: Any, predictions: Any, path: str | Path,
                     class_names: Sequence[str] | None = None, title: str | None = None) -> Path:
    """The confusion matrix: row = true class, column = predicted class, each cell a count.

    Arguments:
        labels, predictions: integer classes ``(n,)``.
        path: the PNG to write.
        class_names: one name per class (default ``0 .. k-1``).
        title: the axes' title (default: the accuracy).
    """
    labels, predictions = np.asarray(labels).reshape(-1), np.asarray(predictions).reshape(-1)
    integers = labels.dtype.kind in "iu" and predictions.dtype.kind in "iu"
    if labels.shape != predictions.shape or not integers:
        raise ValueError(f"labels and predictions: expected integer classes of one shape (n,), got "
                         f"{labels.dtype} {labels.shape} and {predictions.dtype} {predictions.shape}")
    if labels.size == 0 or min(labels.min(), predictions.min()) < 0:
        raise ValueError("labels and predictions: expected non-empty classes >= 0")
    k = int(max(labels.max(), predictions.max())) + 1
    if class_names is not None:
        if len(class_names) < k:
            raise ValueError(f"class_names: expected at least {k} names, got {len(class_names)}")
        k = len(class_names)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    size = 2.5 + 0.55 * k
    fig = _figure_class()(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    threshold = counts.max() / 2
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize="small",
                        color="white" if counts[i, j] > threshold else "black")
    accuracy = np.trace(counts) / labels.size
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted class", ylabel="true class",
           title=title or f"confusion matrix (accuracy {accuracy:.1%}, n = {labels.size})")
    ax.set_xticklabels(names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right"
                       if max(map(len, names)) > 2 else "center")
    ax.set_yticklabels(names)
    fig.colorbar(image, ax=ax, shrink=0.8, label="count")
    return _save(fig, path)


def weight_images(w: Any, path: str | Path, title: str | None = None, max_images: int = 64) -> Path:
    """Each neuron's incoming weights as an image: ``w (fan_out, s*s)`` -> a grid of ``s × s`` tiles.

    The first layer's ``w`` of an MNIST network gives 28×28 tiles, of a digits network 8×8, eight
    tiles to a row, each labelled with its neuron's index. All tiles share one symmetric colour
    scale, ``±max |w|`` (red positive, blue negative, white zero), shown in a colour bar, so a
    dead unit looks pale, not loud.

    Arguments:
        w: a weight matrix ``(fan_out, fan_in)`` with ``fan_in`` a square number (a row per neuron).
        path: the PNG to write.
        title: the figure's title.
        max_images: draw at most this many neurons (the first ones).
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or math.isqrt(w.shape[1]) ** 2 != w.shape[1]:
        raise ValueError(f"w: expected (fan_out, s*s) with a square fan_in, got shape {w.shape}")
    figure_class = _figure_class()
    from matplotlib import colormaps

    side = math.isqrt(w.shape[1])
    w = w[:max_images]
    cols = min(len(w), 8)
    rows = math.ceil(len(w) / cols)
    gap = max(1, side // 8)
    mosaic = np.full((rows * (side + gap) - gap, cols * (side + gap) - gap), np.nan)
    for i, tile in enumerate(w):
        r, c = divmod(i, cols)
        mosaic[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side] = (
            tile.reshape(side, side))
    scale = float(np.abs(w).max()) or 1.0
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    fig = figure_class(figsize=(1.2 * cols + 1.4, 1.2 * rows + 0.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(mosaic, cmap=cmap, vmin=-scale, vmax=scale, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=min(1.0, 0.4 + 0.15 * rows), label="weight (one scale for all tiles)")
    for i in range(len(w)):
        r, c = divmod(i, cols)
        ax.text(c * (side + gap), r * (side + gap), str(i), fontsize="x-small", va="top", ha="left",
                color="black", bbox={"facecolor": "white", "alpha": 0.6, "pad": 0.5, "linewidth": 0})
    ax.set_axis_off()
    ax.set_title(title or f"first-layer weights as {side}×{side} images", fontsize="medium")
    return _save(fig, path)


# --- helpers ------------------------------------------------------------------------------


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ModuleNotFoundError(
            "jaxmlp's plots need matplotlib, which is not installed: pip install 'jaxmlp[examples]'"
        ) from None
    return Figure


def _draw_lines(ax, lines: Mapping[str, Sequence[float]], title: str, xlabel: str, ylabel: str) -> None:
    for label, values in lines.items():
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o" if len(values) <= 30 else None, markersize=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend()


def _draw_bands(ax, lines: Mapping[str, Any], title: str, ylabel: str) -> None:
    """Each split's ``(epochs, N)`` models as thin lines, their mean as a line, ±1 std as a band."""
    for colour, (label, values) in enumerate(lines.items()):
        runs = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        epochs, colour = np.arange(1, len(runs) + 1), f"C{colour}"
        ax.plot(epochs, runs, color=colour, alpha=0.3, linewidth=0.7)
        mean, std = np.nanmean(runs, axis=1), np.nanstd(runs, axis=1)  # every epoch has a model training
        ax.plot(epochs, mean, color=colour, linewidth=2, label=f"{label}, mean ± std of {runs.shape[1]}")
        ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend()


def _save(fig, path: str | Path) -> Path:
    """Render ``fig`` as PNG bytes in memory, then write them atomically to ``path``."""
    from jaxmlp.atomic import write_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    fig.clear()
    return write_atomic(path, buffer.getvalue())
