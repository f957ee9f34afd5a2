"""Pictures of a training run: learning curves, decision boundaries, confusion matrices, weights.

Every function draws one figure, writes it as a PNG to ``path`` (creating the folder) atomically
(rendered in memory, then :func:`jaxmlp.atomic.write_atomic`, so an interrupted run leaves no
partial image), and returns the path. matplotlib is optional (``pip install 'jaxmlp[examples]'``):
it is imported inside the functions, and figures are drawn on matplotlib's Agg canvas
(``matplotlib.figure.Figure``, never ``pyplot``), so nothing needs a display, no global backend is
switched, and no figure is left open (:mod:`jaxmlp.plot.figure`).

The curves by epoch are :mod:`jaxmlp.plot.curves`'s; the pictures of a network and its data
(decision boundary, confusion matrix, weight images) are here.

The colours of :func:`decision_boundary` are the TensorFlow Playground's (deck 004): orange for
-1, blue for +1, grey-white in between, named in the legend; training points have a white edge,
test points a black one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxmlp.plot.curves import curves, learning_curves
from jaxmlp.plot.figure import figure_class as _figure_class
from jaxmlp.plot.figure import require_matplotlib
from jaxmlp.plot.figure import save as _save

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


def decision_boundary(
    predict: Callable[[np.ndarray], Any], path: str | Path, train: tuple[Any, Any] | None = None,
    test: tuple[Any, Any] | None = None, extent: float = 6.0, resolution: int = 200,
    title: str | None = None, regression: bool = False,
) -> Path:
    """The Playground's picture: the network's output over ``[-extent, extent]²``, with points.

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
    handles = []
    if not regression:
        for colour, label in ((PLAYGROUND_COLORS[2], "class +1 (blue)"),
                              (PLAYGROUND_COLORS[0], "class −1 (orange)")):
            handles.append(Line2D([], [], ls="", marker="o", markerfacecolor=colour,
                                  markeredgecolor="#777777", label=label))
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
        handles.append(Line2D([], [], ls="", marker="o", markerfacecolor="#777777",
                              markeredgecolor=edge,
                              label=f"{name} points ({len(points_xy)}, {edge} edge)"))
    fig.colorbar(image, ax=ax, shrink=0.8, label="network output")
    ax.set(xlim=(-extent, extent), ylim=(-extent, extent), xlabel="x", ylabel="y",
           aspect="equal",
           title=title or ("regression surface" if regression else "decision boundary"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 2),
                   fontsize="small", frameon=False)
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
    labels = np.asarray(labels).reshape(-1)
    predictions = np.asarray(predictions).reshape(-1)
    integers = labels.dtype.kind in "iu" and predictions.dtype.kind in "iu"
    if labels.shape != predictions.shape or not integers:
        raise ValueError(f"labels and predictions: expected integer classes of one shape (n,), "
                         f"got {labels.dtype} {labels.shape} and "
                         f"{predictions.dtype} {predictions.shape}")
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
    long_names = max(map(len, names)) > 2
    ax.set_xticklabels(names, rotation=45 if long_names else 0,
                       ha="right" if long_names else "center")
    ax.set_yticklabels(names)
    fig.colorbar(image, ax=ax, shrink=0.8, label="count")
    return _save(fig, path)


def weight_images(
    w: Any, path: str | Path, title: str | None = None, max_images: int = 64
) -> Path:
    """Each neuron's incoming weights as an image: ``w (fan_out, s*s)`` -> ``s × s`` tiles.

    The first layer's ``w`` of an MNIST network gives 28×28 tiles, of a digits network 8×8, eight
    tiles to a row, each labelled with its neuron's index. All tiles share one symmetric colour
    scale, ``±max |w|`` (red positive, blue negative, white zero), shown in a colour bar, so a
    dead unit looks pale, not loud.

    Arguments:
        w: a weight matrix ``(fan_out, fan_in)``, a row per neuron, ``fan_in`` a square number.
        path: the PNG to write.
        title: the figure's title.
        max_images: draw at most this many neurons (the first ones); when that leaves some out,
            the title says how many of how many it shows.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or math.isqrt(w.shape[1]) ** 2 != w.shape[1]:
        raise ValueError(f"w: expected (fan_out, s*s) with a square fan_in, got shape {w.shape}")
    figure_class = _figure_class()
    from matplotlib import colormaps

    side = math.isqrt(w.shape[1])
    total, w = len(w), w[:max_images]
    cols = min(len(w), 8)
    rows = math.ceil(len(w) / cols)
    gap = max(1, side // 8)
    mosaic = np.full((rows * (side + gap) - gap, cols * (side + gap) - gap), np.nan)
    for i, tile in enumerate(w):
        r, c = divmod(i, cols)
        top = r * (side + gap)
        left = c * (side + gap)
        mosaic[top:top + side, left:left + side] = tile.reshape(side, side)
    scale = float(np.abs(w).max()) or 1.0
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    fig = figure_class(figsize=(1.2 * cols + 1.4, 1.2 * rows + 0.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(mosaic, cmap=cmap, vmin=-scale, vmax=scale, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=min(1.0, 0.4 + 0.15 * rows),
                 label="weight (one scale for all tiles)")
    for i in range(len(w)):
        r, c = divmod(i, cols)
        label_box = {"facecolor": "white", "alpha": 0.6, "pad": 0.5, "linewidth": 0}
        ax.text(c * (side + gap), r * (side + gap), str(i), fontsize="x-small", va="top",
                ha="left", color="black", bbox=label_box)
    ax.set_axis_off()
    title = title or f"first-layer weights as {side}×{side} images"
    if len(w) < total:
        title += f" (the first {len(w)} of {total} neurons)"
    ax.set_title(title, fontsize="medium")
    return _save(fig, path)
