"""Reproductions of the paper's experiments (Figs. 4-7) and the demo.

Each ``figN`` module has a ``run(out_dir, ...)`` that fits the models, draws its plots into
``out_dir`` and returns an :class:`ExperimentResult` (one row per run, notes, plot paths);
:func:`run_experiment` adds ``results.csv``. Nothing here prints (the command line does) and
importing this package imports neither torch nor matplotlib.

Command line: ``spectranet experiment {fig4,fig5,fig6,fig7} --out DIR [--data-dir DIR]
[--datasets A,B] [--quick] [--quiet]``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ._common import (
    COLUMNS,
    DataUnavailableError,
    ExperimentResult,
    Progress,
    format_table,
    write_csv,
)

__all__ = [
    "COLUMNS",
    "EXPERIMENTS",
    "DataUnavailableError",
    "ExperimentResult",
    "Progress",
    "format_table",
    "run_experiment",
    "write_csv",
]

#: name -> (module, one-line description, needs real data)
EXPERIMENTS = {
    "fig4": ("fig4", "square activation, planted regression: convex optimum vs SGD over time", False),
    "fig5": ("fig5", "SGD and Adam over learning rates vs the convex program (GAP CNN on MNIST/CIFAR 0/1, "
                     "fully connected on UCI)", True),
    "fig6": ("fig6", "accuracy and time: ReLU network, polynomial backprop, convex program (UCI)", True),
    "fig7": ("fig7", "test accuracy and m* against beta (credit-approval, ionosphere)", True),
}


def _refuse_empty(name: str, datasets, options: dict) -> None:
    """A ValueError naming ``datasets`` or the options given as empty sequences (fig7 with ``betas=[]``
    raised from ``max()``, fig6 with ``split_seeds=[]`` from matplotlib)."""
    empty = [key for key, value in (("datasets", datasets), *options.items())
             if isinstance(value, (list, tuple, set, range)) and len(value) == 0]
    if empty:
        raise ValueError(f"{name}: {', '.join(empty)} must hold at least one value, got an empty sequence")


def _out_folder(out_dir) -> Path:
    """``out_dir`` as a Path; a ValueError where it names an existing file."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {str(out_dir)!r}: a file of that name exists; give a folder for the plots and "
                         "results.csv")
    return out_dir


def run_experiment(name: str, out_dir, *, data_dir=None, datasets=None, quick: bool = False,
                   progress: Progress | None = None, **options) -> ExperimentResult:
    r"""Run experiment ``name`` and write its plots and ``results.csv`` into ``out_dir``.

    Reproduces one of the paper's numerical experiments: the convex program (21), solved and
    certified, against networks of the same width trained by backpropagation (SGD or Adam) on the
    same objective (P), and, for Fig. 6, a ReLU network. Every objective is computed by one
    definition, :meth:`Problem.objective <spectranet.Problem.objective>`, so each backprop run's
    gap to the certified optimum is a proven quantity.

    Parameters
    ----------
    name : {"fig4", "fig5", "fig6", "fig7"}
        ``"fig4"``: square activation, planted regression, SGD over time; ``"fig5"``: SGD and Adam
        over learning rates (the GAP CNN on MNIST/CIFAR-10 0/1 and the fully connected UCI part);
        ``"fig6"``: accuracy and time of a ReLU network, polynomial backprop and the convex
        program; ``"fig7"``: test accuracy and :math:`m^*` against :math:`\beta`.
    out_dir : path
        Folder of the plots and ``results.csv``; created if missing.
    data_dir : path, optional
        Data directory for fig5-fig7 (UCI sets; MNIST and CIFAR-10 for fig5's CNN panels; default
        ``$SPECTRANET_DATA``); fig4 needs none.
    datasets : list of str, optional
        Dataset folder names (fig5-fig7; fig5 also takes ``mnist``, ``cifar10`` and ``digits``).
    quick : bool, default=False
        The reduced version (about a minute).
    progress : Progress, optional
        Receives ``start``, ``advance`` and ``close`` calls as the runs finish (the command line
        draws a bar); default: none.
    **options
        Passed to the module's ``run`` (e.g. fig4's ``n``, ``d``, ``lrs``, ``seeds``,
        ``max_epochs``, ``formulations``; fig5's ``cnn_n_train`` and ``cnn_tol``).

    Returns
    -------
    ExperimentResult
        Its rows (one per run, the columns of :data:`COLUMNS`), notes and plot paths;
        ``csv_path`` is the ``results.csv`` written.

    Raises
    ------
    ValueError
        An unknown ``name``, data given to fig4 (synthetic), an empty sequence (e.g. ``betas=[]``).
    DataUnavailableError
        The data directory or a dataset is missing (a FileNotFoundError), raised before anything
        is created.

    See Also
    --------
    ExperimentResult : The result.
    spectranet.ConvexPolyNetRegressor : The convex fit of every experiment (and its classifier).
    spectranet.BackpropPolyNetRegressor : The backprop baseline (and its classifier).

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Section 6 and Figs. 4-7 (the
    experiments), eq. (20) (problem (P)), eq. (21) (the convex program) and eq. (22) (the width
    :math:`m^*` of Fig. 7).

    Examples
    --------
    A tiny Fig. 4 (40 samples, one learning rate, one seed, three epochs; PyTorch runs the SGD):

    >>> import tempfile
    >>> from spectranet.experiments import run_experiment
    >>> with tempfile.TemporaryDirectory() as out:
    ...     result = run_experiment("fig4", out, n=40, d=3, n_neurons=2, lrs=[1e-2], seeds=[0],
    ...                             max_epochs=3, formulations=("l1",))
    ...     print(result.csv_path.name, result.csv_path.exists())
    results.csv True
    >>> [(row["method"], row["optimizer"]) for row in result.rows]
    [('convex', 'native'), ('backprop', 'sgd')]
    >>> convex = result.rows[0]
    >>> all(row["train_objective"] >= convex["lower_bound"] for row in result.rows)  # none beats the bound
    True

    The real-data experiments check their data first:

    >>> from spectranet.experiments import DataUnavailableError
    >>> try:
    ...     run_experiment("fig6", "unused", data_dir="/nonexistent")
    ... except DataUnavailableError as err:
    ...     print(isinstance(err, FileNotFoundError))
    True
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    module_name, _, needs_data = EXPERIMENTS[name]
    _refuse_empty(name, datasets, options)
    if not needs_data and (datasets or data_dir is not None):
        raise ValueError(f"{name} runs on a synthetic planted model and takes no --datasets or --data-dir")
    module, out_dir = importlib.import_module(f".{module_name}", __name__), _out_folder(out_dir)
    kwargs = dict(quick=quick, progress=progress, **options)
    if needs_data:
        kwargs.update(data_dir=data_dir, datasets=datasets)
        module.resolve_datasets(data_dir, datasets)  # fail before creating anything when data are missing
    out_dir.mkdir(parents=True, exist_ok=True)
    result = module.run(out_dir, **kwargs)
    result.csv_path = write_csv(result.rows, out_dir / "results.csv")
    return result
