"""jaxmlp.plot: every function writes a real PNG of the expected size, leaves no figure open, and
says how to install matplotlib when it is missing."""

import sys

import matplotlib.image
import numpy as np
import pytest

from jaxmlp import plot


def image(path):
    """The PNG as an array (rows, columns, channels), read back with matplotlib."""
    assert path.suffix == ".png" and path.is_file()
    pixels = matplotlib.image.imread(path)
    assert pixels.std() > 0.01  # something was drawn
    return pixels


def open_figures():
    import matplotlib.pyplot as plt

    return plt.get_fignums()


def test_learning_curves_one_panel_per_metric(tmp_path):
    history = {
        "loss": [1.0, 0.6, 0.4],
        "accuracy": [0.5, 0.7, 0.8],
        "val_loss": [1.1, 0.7, 0.6],
        "val_accuracy": [0.4, 0.6, 0.7],
    }
    path = plot.learning_curves(history, tmp_path / "sub" / "curves.png", title="run")
    assert path == tmp_path / "sub" / "curves.png"
    assert image(path).shape[:2] == (400, 1040)  # two panels of 520 × 400 pixels
    assert image(
        plot.learning_curves({"loss": [1.0, 0.5], "test_loss": [1.2, 0.9]}, tmp_path / "one.png")
    ).shape[:2] == (400, 520)
    assert open_figures() == []


def test_learning_curves_rejects_an_empty_history(tmp_path):
    with pytest.raises(ValueError, match="history"):
        plot.learning_curves({"loss": []}, tmp_path / "x.png")


def test_curves(tmp_path):
    path = plot.curves({"a": [3.0, 2.0, 1.0], "b": [3.0, 1.0, 0.5]}, tmp_path / "c.png", logy=True)
    assert image(path).shape[:2] == (420, 640)


def test_decision_boundary_classification_and_regression(tmp_path):
    rng = np.random.default_rng(0)
    xy = rng.uniform(-5, 5, (40, 2)).astype(np.float32)
    t = np.where(np.hypot(xy[:, 0], xy[:, 1]) < 2.5, 1.0, -1.0)[:, None]
    calls = []

    def predict(points):
        calls.append(points.shape)
        return np.tanh(2.5 - np.hypot(points[:, 0], points[:, 1]))

    path = plot.decision_boundary(
        predict, tmp_path / "b.png", train=(xy[:20], t[:20]), test=(xy[20:], t[20:]), resolution=50
    )
    assert calls == [(2500, 2)]
    pixels = image(path)
    assert pixels.shape[:2] == (580, 600)
    colours = pixels[..., :3].reshape(-1, 3)
    orange, blue = np.array([0xF5, 0x93, 0x22]) / 255, np.array([0x08, 0x77, 0xBD]) / 255
    assert np.any(np.abs(colours - orange).max(axis=1) < 0.25)  # the Playground's colours are there
    assert np.any(np.abs(colours - blue).max(axis=1) < 0.25)
    labels01 = (t + 1) / 2  # {0, 1} labels are drawn on the same scale
    plot.decision_boundary(
        predict, tmp_path / "r.png", train=(xy, labels01), regression=True, resolution=20
    )
    assert image(tmp_path / "r.png").shape[:2] == (580, 600)
    assert open_figures() == []


def test_confusion_matrix(tmp_path):
    labels = np.array([0, 1, 2, 2, 1, 0])
    path = plot.confusion_matrix(
        labels, np.array([0, 2, 2, 2, 1, 1]), tmp_path / "m.png", class_names=["cat", "dog", "bird"]
    )
    assert image(path).ndim == 3
    with pytest.raises(ValueError, match="class_names"):
        plot.confusion_matrix(labels, labels, tmp_path / "m.png", class_names=["a"])
    with pytest.raises(ValueError, match="integer classes"):
        plot.confusion_matrix(labels, labels[:3], tmp_path / "m.png")


@pytest.mark.parametrize(
    ("fan_out", "fan_in", "size"), [(32, 64, (530, 1100)), (3, 784, (170, 500))]
)
def test_weight_images(tmp_path, fan_out, fan_in, size):
    w = np.random.default_rng(0).normal(size=(fan_out, fan_in))
    assert image(plot.weight_images(w, tmp_path / "w.png")).shape[:2] == size


def test_weight_images_share_one_colour_scale(tmp_path, monkeypatch):
    w = np.random.default_rng(0).normal(size=(2, 64))
    w[1] *= 1e-3  # a dead unit: pale on a shared scale, as loud as the other on a per-tile scale
    bars = []
    original = plot._save
    monkeypatch.setattr(
        plot,
        "_save",
        lambda fig, path: (
            bars.extend(image.colorbar for ax in fig.axes for image in ax.images if image.colorbar)
            or original(fig, path)
        ),
    )
    pixels = image(plot.weight_images(w, tmp_path / "w.png"))[..., :3]
    assert len(bars) == 1 and bars[0].mappable.get_clim() == (-np.abs(w).max(), np.abs(w).max())
    nearly_white = (pixels.min(axis=-1) > 0.9).mean()
    strong = plot.weight_images(w[:1], tmp_path / "one.png")
    assert nearly_white > (matplotlib.image.imread(strong)[..., :3].min(axis=-1) > 0.9).mean()


def test_decision_boundary_legend_names_the_class_colours(tmp_path, monkeypatch):
    labels = []
    original = plot._save
    monkeypatch.setattr(
        plot,
        "_save",
        lambda fig, path: (
            labels.extend(text.get_text() for legend in fig.legends for text in legend.get_texts())
            or original(fig, path)
        ),
    )
    xy, t = np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([1.0, -1.0])
    plot.decision_boundary(
        lambda p: np.tanh(p[:, 0]), tmp_path / "b.png", train=(xy, t), resolution=10
    )
    assert labels[:2] == ["class +1 (blue)", "class −1 (orange)"]
    labels.clear()
    plot.decision_boundary(
        lambda p: p[:, 0], tmp_path / "r.png", train=(xy, t), regression=True, resolution=10
    )
    assert not any(label.startswith("class") for label in labels)


def test_weight_images_title_says_how_many_neurons_it_shows(tmp_path, monkeypatch):
    """128 neurons drawn as the first 64: the title says so (jaxmlp train --hidden 128 draws it)."""
    titles = []
    original = plot._save
    monkeypatch.setattr(
        plot,
        "_save",
        lambda fig, path: titles.extend(ax.get_title() for ax in fig.axes if ax.get_title())
        or original(fig, path),
    )
    w = np.random.default_rng(0).normal(size=(128, 64))
    plot.weight_images(w, tmp_path / "w.png", title="digits: each hidden neuron's weights")
    plot.weight_images(w[:8], tmp_path / "all.png")
    assert titles == [
        "digits: each hidden neuron's weights (the first 64 of 128 neurons)",
        "first-layer weights as 8×8 images",
    ]


def test_weight_images_needs_square_inputs(tmp_path):
    with pytest.raises(ValueError, match="square"):
        plot.weight_images(np.zeros((4, 10)), tmp_path / "w.png")


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'jaxmlp\[examples\]'"):
        plot.learning_curves({"loss": [1.0]}, tmp_path / "x.png")
    with pytest.raises(ModuleNotFoundError, match="matplotlib"):
        plot.require_matplotlib()
    assert not (tmp_path / "x.png").exists()
