r"""Fig. 5: SGD and Adam over a grid of learning rates vs the convex program.

The paper's Fig. 5 has two parts, both reproduced here:

* (a-d) a CNN with polynomial activation and global average pooling on MNIST classes 0/1 and
  CIFAR-10 classes 0/1 (airplane/automobile): :class:`~spectranet.Conv2D` with 3x3 filters,
  stride 1, no padding, ``pool="global"``, so the convex program has a single pair of size
  ``f + 1`` (``f = C*9``). Pixels are scaled to [0, 1] (no other preprocessing). MNIST uses all
  12,665 training and 2,115 test images of digits 0/1. CIFAR-10 uses the JPEG re-encoded images
  of the shared data (labelled "CIFAR-10 (JPEG)"), all 10,000 training images of the two classes
  at a certified gap of 1e-6 (:data:`CIFAR_DEFAULTS`).
  :math:`\beta` is ``beta_fraction`` (default 1e-3) times :math:`\beta_{\max}` of the training
  set (:func:`spectranet.path.beta_max`: the smallest :math:`\beta` whose optimum is the zero
  network). The backprop CNN has the default width :math:`2(f+1)` filters, batch size 100 (at
  most ``n_train / 50``) and is trained in float32 (``cnn_dtype``; its objectives are evaluated
  in float64). A panel whose images are not in the data directory is skipped, and the notes say
  so; when neither set is there, scikit-learn's bundled 8x8 ``load_digits`` (classes 0/1, 360
  images, seeded 80/20 split) runs in their place as a labelled stand-in, so the CNN part
  always runs something.
* (e, f) a fully connected network on a UCI set (default oocytes_merluccius_nucleus_4d when the
  data directory has it, else credit-approval), a seeded 80/20 stratified split, batch size 10.

Both parts: activation ``"relu"`` (0.09, 0.5, 0.47), logistic loss, :math:`\ell_1` formulation
(problem (P), the objective the convex program minimizes, solver ``"auto"`` / ``"native"`` for
the CNN), SGD (momentum 0.9) and Adam, one curve per learning rate; the convex optimum is the
dotted horizontal line, its solve time the cross. ``--datasets`` selects panels by name: UCI
folder names, ``mnist``, ``cifar10``, ``digits``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..datasets import DATA_ENV
from ._common import (
    MISSING_MATPLOTLIB,
    DataUnavailableError,
    ExperimentResult,
    Plotter,
    Progress,
    Timer,
    backprop_row,
    convex_row,
    curve_arrays,
    fill_gaps,
    fit_backprop,
    mark_convex,
    objective_ylim,
    resolve_uci,
    uci_split,
)

__all__ = ["CNN_PANELS", "resolve_datasets", "run"]

logger = logging.getLogger(__name__)

NAME = "fig5"
DEFAULT = "oocytes_merluccius_nucleus_4d"
FALLBACK = "credit-approval"
FULL = {"lrs": {"sgd": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
                 "adam": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)}, "seeds": (0,), "max_epochs": 100}
QUICK = {"lrs": {"sgd": (1e-3, 1e-2), "adam": (1e-3, 1e-2)}, "seeds": (0,), "max_epochs": 30}
#: the CNN panels: 3 learning rates per optimizer, 10 epochs; quick: 500 images, 3 epochs
CNN_FULL = {"lrs": {"sgd": (1e-2, 1e-1, 1.0), "adam": (1e-3, 1e-2, 1e-1)}, "seeds": (0,), "max_epochs": 10,
            "n_train": None, "tol": 1e-6}
CNN_QUICK = {"lrs": {"sgd": (1.0,), "adam": (1e-1,)}, "seeds": (0,), "max_epochs": 3, "n_train": 500,
             "tol": 1e-6}
#: minibatches of the CNN: ``min(cnn_batch_size, ceil(n_train / MIN_STEPS))``, so that small sets
#: (the quick subsample, the 288 digits) still take MIN_STEPS steps per epoch
MIN_STEPS = 50
#: name -> (dataset label of the rows, plot file, files it needs under the data directory)
CNN_PANELS = {
    "mnist": ("mnist-0-1", "fig5_mnist_cnn.png",
              tuple(f"mnist/{f}" for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))),
    "cifar10": ("cifar10-jpeg-0-1", "fig5_cifar_cnn.png",
                ("cifar10-airplane-automobile/CIFAR-10-images_airplane_automobile.zip",)),
    "digits": ("digits-0-1-8x8", "fig5_digits_cnn.png", ()),  # scikit-learn's bundled images
}
REAL_IMAGES = ("mnist", "cifar10")


def _missing_images(name, home) -> list[str]:
    """Files of panel ``name`` absent from the data directory ``home`` (None: no directory)."""
    needed = CNN_PANELS[name][2]
    if home is None:
        return list(needed)
    return [str(Path(home) / f) for f in needed if not (Path(home) / f).is_file()]


def resolve_datasets(data_dir=None, datasets=None):
    """The data directory and panel names, checked up front (DataUnavailableError when missing).

    Default: the UCI set (oocytes if present, else credit-approval) and the CNN panels; CNN
    panels missing from the directory are skipped by :func:`run` (with a note), not here.
    ``datasets`` names exactly the panels to run: UCI folders, ``mnist``, ``cifar10``, ``digits``.
    """
    requested = list(dict.fromkeys(datasets or ()))  # (a name given twice runs once)
    images = [n for n in requested if n in CNN_PANELS]
    uci = [n for n in requested if n not in CNN_PANELS]
    data_dir = data_dir if data_dir is not None else os.environ.get(DATA_ENV) or None
    home = None if data_dir is None else Path(data_dir).expanduser()
    missing = {n: _missing_images(n, home) for n in images if _missing_images(n, home)}
    if missing:
        raise DataUnavailableError(
            f"{NAME}: image set(s) {sorted(missing)} not found: expected "
            f"{'; '.join(', '.join(f) for f in missing.values())}"
            + (" (pass --data-dir DIR)" if home is None else "")
            + "; 'digits' (scikit-learn's bundled 8x8 images) needs no files")
    if requested and not uci:  # image panels only: the UCI folders are not needed
        return home, images
    if uci:
        home, names = resolve_uci(NAME, data_dir, uci, ())
        return home, names + images
    try:
        home, present = resolve_uci(NAME, data_dir, None, (), optional=(DEFAULT,))
        home, names = resolve_uci(NAME, home, None, present or (FALLBACK,))
    except DataUnavailableError as exc:
        raise DataUnavailableError(f"{exc} (--datasets digits runs the CNN panel on scikit-learn's "
                                   "bundled images, without a data directory)") from None
    return home, names + list(REAL_IMAGES)


def run(out_dir, *, data_dir=None, datasets=None, quick=False, progress: Progress | None = None,
        beta=1.0, activation="relu", loss="logistic", split_seed=0, lrs=None, seeds=None,
        max_epochs=None, batch_size=10, solver="auto", cnn_lrs=None, cnn_max_epochs=None,
        cnn_n_train=None, cnn_batch_size=100, cnn_dtype="float32", beta_fraction=1e-3,
        cnn_solver="native", cnn_tol=None) -> ExperimentResult:
    r"""Run Fig. 5 (CNN panels and the fully connected part) and write the plots into ``out_dir``.

    Parameters
    ----------
    out_dir : path
    data_dir : path, optional
        Data directory (default ``$SPECTRANET_DATA``): UCI sets in the Fernández-Delgado format,
        ``mnist/`` (idx files) and ``cifar10-airplane-automobile/`` (JPEG zip).
    datasets : list of str, optional
        Panels to run (UCI folder names, ``mnist``, ``cifar10``, ``digits``); default: the UCI
        set and the CNN panels present (``digits`` when neither image set is).
    quick : bool
        Fully connected: 2 learning rates per optimizer and 30 epochs instead of 7 and 100. CNN:
        500 training (and at most 500 test) images, one learning rate per optimizer, 3 epochs.
    beta, activation, loss, split_seed, batch_size, solver
        The fully connected problem and the split (``activation``, ``loss`` and ``split_seed``
        are shared with the CNN panels).
    lrs : dict optimizer -> tuple of float, optional
    seeds, max_epochs : optional
        Override the grid of the chosen mode (``seeds`` for both parts).
    cnn_lrs, cnn_max_epochs, cnn_n_train, cnn_batch_size, cnn_dtype
        The CNN panels' grid, training subsample size (``"all"``, or an int; default: all
        images, 500 in quick mode), batch size and training precision.
    beta_fraction : float
        The CNN's :math:`\beta` as a fraction of :math:`\beta_{\max}` of its training set.
    cnn_solver : str
        Solver of the CNN's convex program.
    cnn_tol : float, optional
        Its certified relative gap (``tol``): default 1e-6.

    Returns
    -------
    ExperimentResult
        The notes say which CNN panels ran, which were skipped and why.
    """
    grid = dict(QUICK if quick else FULL)
    grid.update({k: v for k, v in {"lrs": lrs, "seeds": seeds, "max_epochs": max_epochs}.items()
                 if v is not None})
    cnn_grid = dict(CNN_QUICK if quick else CNN_FULL)
    cnn_options = {k: v for k, v in {"lrs": cnn_lrs, "seeds": seeds, "max_epochs": cnn_max_epochs,
                                     "n_train": cnn_n_train, "tol": cnn_tol}.items() if v is not None}
    if cnn_options.get("n_train") == "all":
        cnn_options["n_train"] = None
    home, names = resolve_datasets(data_dir, datasets)
    progress = progress or Progress()
    result = ExperimentResult(NAME, out_dir=out_dir)
    plotter = Plotter(out_dir)
    images = [n for n in names if n in CNN_PANELS]
    if not datasets:  # default: the image sets present; the bundled digits when neither is
        skipped = {n: _missing_images(n, home) for n in images if _missing_images(n, home)}
        images = [n for n in images if n not in skipped] or ["digits"]
        for n, files in skipped.items():
            stand_in = "; the bundled 8x8 digits (classes 0/1) run as a stand-in" if images == ["digits"] else ""
            note = f"Fig. 5 CNN panel '{n}' skipped: {', '.join(files)} not found{stand_in}"
            logger.warning(note)
            result.notes.append(note)
    cnn = dict(activation=activation, loss=loss, seed=split_seed, batch_size=cnn_batch_size, dtype=cnn_dtype,
               beta_fraction=beta_fraction, solver=cnn_solver)
    for name in images:  # CIFAR-10 too on all its images at tol 1e-6: the lifted interior point
        # certifies its program (f = 27, 10,000 images, 1e-3 beta_max) in about 8 s on 2 cores
        _cnn_panel(name, home, quick, result, plotter, progress, grid={**cnn_grid, **cnn_options}, **cnn)
    for name in (n for n in names if n not in CNN_PANELS):
        _fc_panel(name, home, grid, result, plotter, progress, beta=beta, activation=activation, loss=loss,
                  split_seed=split_seed, batch_size=batch_size, solver=solver)
    fill_gaps(result.rows)
    if not plotter.available:
        result.notes.append(MISSING_MATPLOTLIB)
    result.plots = plotter.paths
    return result


def _fc_panel(name, home, grid, result, plotter, progress, *, beta, activation, loss, split_seed,
              batch_size, solver):
    """Fig. 5 (e, f): the fully connected network on UCI set ``name``."""
    from ..baseline import BackpropPolyNetClassifier
    from ..estimators import ConvexPolyNetClassifier

    Xtr, Xte, ytr, yte = uci_split(name, home, split_seed)
    common = {"dataset": name, "n_train": len(ytr), "n_test": len(yte), "split_seed": split_seed}
    with Timer() as timer:
        convex = ConvexPolyNetClassifier(activation=activation, beta=beta, loss=loss,
                                         solver=solver).fit(Xtr, ytr)
    template = BackpropPolyNetClassifier(activation=activation, loss=loss, beta=beta, formulation="l1",
                                         batch_size=batch_size, max_epochs=grid["max_epochs"])
    _compare(name, result, plotter, progress, convex, timer.seconds, template, grid, (Xtr, Xte, ytr, yte),
             common, f"fig5_{name}.png",
             "Fig. 5 (fully connected part): SGD and Adam over learning rates vs the convex program")
    result.notes.append(f"{name}: n_train = {len(ytr)}, d = {Xtr.shape[1]}; convex optimum "
                        f"{convex.objective_:.8g} (certified gap {convex.gap_:.1e}, m* = "
                        f"{convex.n_neurons_}), test accuracy {convex.score(Xte, yte):.4f}, "
                        f"{timer.seconds:.2f} s")


def _load_images(name, home, seed, n_train):
    """Images ``(N, C, H, W)`` in [0, 1] and 0/1 labels: ``Xtr, Xte, ytr, yte`` (``n_train``: a
    seeded stratified subsample of the training set, and at most as many test images)."""
    from sklearn.model_selection import train_test_split

    from ..datasets import load_cifar_jpeg_zip, load_mnist

    if name == "mnist":
        (Xtr, ytr), (Xte, yte) = (load_mnist(home, (0, 1), split=s, flatten=False) for s in ("train", "test"))
    elif name == "cifar10":  # a quick subsample decodes only the first images of each class
        per_class = None if n_train is None else -(-n_train // 2)
        (Xtr, ytr), (Xte, yte) = (load_cifar_jpeg_zip(data_home=home, split=s, flatten=False,
                                                      max_per_class=per_class) for s in ("train", "test"))
    else:
        from sklearn.datasets import load_digits

        X, y = load_digits(n_class=2, return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X.reshape(-1, 1, 8, 8) / 16.0, y, test_size=0.2, stratify=y,
                                              random_state=seed)
    if n_train is not None:
        if len(ytr) > n_train:
            Xtr, _, ytr, _ = train_test_split(Xtr, ytr, train_size=n_train, stratify=ytr, random_state=seed)
        if len(yte) > n_train:
            Xte, _, yte, _ = train_test_split(Xte, yte, train_size=n_train, stratify=yte, random_state=seed)
    return Xtr, Xte, ytr, yte


def _cnn_panel(name, home, quick, result, plotter, progress, *, activation, loss, seed, grid, batch_size,
               dtype, beta_fraction, solver):
    """Fig. 5 (a-d): the CNN with global average pooling on image set ``name``."""
    from ..architectures import Conv2D
    from ..baseline import BackpropPolyNetClassifier
    from ..estimators import ConvexPolyNetClassifier
    from ..path import beta_max

    label = CNN_PANELS[name][0]
    progress.start(f"{NAME} {label}: loading", 1)
    data = _load_images(name, home, seed, grid["n_train"])
    progress.advance()
    progress.close()
    Xtr, Xte, ytr, yte = data
    arch = Conv2D(Xtr.shape[1:], 3, pool="global")
    b_max = beta_max(Xtr, 2.0 * ytr - 1.0, activation, loss, architecture=arch)  # the classifier's +-1 labels
    beta = beta_fraction * b_max
    batch_size = min(batch_size, -(-len(ytr) // MIN_STEPS))
    common = {"dataset": label, "n_train": len(ytr), "n_test": len(yte), "split_seed": seed}
    with Timer() as timer:
        convex = ConvexPolyNetClassifier(activation=activation, beta=beta, loss=loss, solver=solver, tol=grid["tol"],
                                         architecture=arch).fit(Xtr, ytr)
    template = BackpropPolyNetClassifier(activation=activation, loss=loss, beta=beta, formulation="l1",
                                         batch_size=batch_size, max_epochs=grid["max_epochs"], dtype=dtype,
                                         architecture=arch)
    _compare(label, result, plotter, progress, convex, timer.seconds, template, grid, data, common,
             CNN_PANELS[name][1], f"Fig. 5, CNN ({arch.kernel_size[0]}x{arch.kernel_size[1]} filters, global "
             f"average pooling), n = {len(ytr)}: SGD and Adam vs the convex program")
    stand_in = " (stand-in for MNIST/CIFAR-10)" if name == "digits" else ""
    result.notes.append(
        f"{label}{stand_in}: CNN {arch!r}, n_train = {len(ytr)}, n_test = {len(yte)}; beta = "
        f"{beta_fraction:g} * beta_max = {beta:.6g}; convex optimum {convex.objective_:.8g} (certified gap "
        f"{convex.gap_:.1e}, m* = {convex.n_neurons_}), test accuracy {convex.score(Xte, yte):.4f}, "
        f"{timer.seconds:.2f} s; backprop: {template.max_epochs} epochs of batch {batch_size}, "
        f"{template.dtype}" + (" (quick: a subsample)" if quick and name != "digits" else ""))


def _compare(label, result, plotter, progress, convex, solve_time, template, grid, data, common, plot_name,
             title):
    """The convex row, one backprop run per (optimizer, learning rate, seed), and the plot."""
    Xtr, Xte, ytr, yte = data
    runs = [(opt, lr, seed) for opt, grid_lrs in grid["lrs"].items() for lr in grid_lrs
            for seed in grid["seeds"]]
    progress.start(f"{NAME} {label}", 1 + len(runs))
    result.rows.append(convex_row(NAME, est=convex, time_s=solve_time, test_metric=convex.score(Xte, yte),
                                  test_metric_name="test_accuracy", **common))
    progress.advance(f"convex: objective {convex.objective_:.6g}, {solve_time:.2f}s")
    curves = {}
    for opt, lr, seed in runs:
        est = fit_backprop(template, Xtr, ytr, optimizer=opt, lr=lr, seed=seed)
        result.rows.append(backprop_row(NAME, method="backprop", est=est, test_metric=est.score(Xte, yte),
                                        test_metric_name="test_accuracy", **common))
        curves[opt, lr, seed] = est.loss_curve_
        progress.advance(f"{opt} lr={lr:g} seed={seed}: objective {est.network_objective_:.6g}")
    progress.close()
    if plotter.available:
        _plot(plotter, label, [r for r in result.rows if r["dataset"] == label], curves, convex, solve_time,
              plot_name, title)


_COLORS = {"sgd": ("Blues", "-", "SGD"), "adam": ("Greens", "--", "Adam")}


def _plot(plotter, name, rows, curves, convex, solve_time, plot_name, title):
    from matplotlib import colormaps

    fig, (ax_obj, ax_acc) = plotter.figure(ncols=2)
    values = []
    for opt in dict.fromkeys(k[0] for k in curves):
        cmap_name, style, label = _COLORS.get(opt, ("Greys", "-", opt))
        lrs = sorted(dict.fromkeys(k[1] for k in curves if k[0] == opt))
        cmap = colormaps[cmap_name]
        for i, lr in enumerate(lrs):
            color = cmap(0.4 + 0.6 * i / max(len(lrs) - 1, 1))
            for (o, r, _seed), curve in curves.items():
                if (o, r) == (opt, lr):
                    t, v = curve_arrays(curve)
                    values.append(v)
                    ax_obj.plot(t, v, style, color=color, linewidth=1.2, label=f"{label} lr={lr:g}")
        pts = sorted((r["lr"], r["test_metric"]) for r in rows if r["method"] == "backprop" and r["optimizer"] == opt)
        if pts:
            ax_acc.plot([p[0] for p in pts], [p[1] for p in pts], "o" + style, color=cmap(0.8), label=label)
    mark_convex(ax_obj, convex.objective_, solve_time)
    objective_ylim(ax_obj, values, convex.objective_)
    ax_obj.set_xlabel("wall-clock time (s)")
    ax_obj.set_ylabel("training objective (P), sum over samples")
    ax_obj.set_title(f"{name}: training objective")
    ax_obj.legend(fontsize=6, ncol=2)
    acc = next(r["test_metric"] for r in rows if r["method"] == "convex")
    ax_acc.axhline(acc, color="k", linestyle=":", label=f"convex program ({acc:.3f})")
    ax_acc.set_xscale("log")
    ax_acc.set_xlabel("learning rate")
    ax_acc.set_ylabel("test accuracy (final epoch)")
    ax_acc.set_title(f"{name}: test accuracy")
    ax_acc.legend(fontsize=7)
    fig.suptitle(title)
    plotter.save(fig, plot_name)
