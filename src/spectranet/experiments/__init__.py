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


def run_experiment(name: str, out_dir, *, data_dir=None, datasets=None, quick: bool = False,
                   progress: Progress | None = None, **options) -> ExperimentResult:
    """Run experiment ``name`` and write its plots and ``results.csv`` into ``out_dir``.

    Parameters
    ----------
    name : {"fig4", "fig5", "fig6", "fig7"}
    out_dir : path
        Created if missing.
    data_dir : path, optional
        Data directory for fig5-fig7 (UCI sets; MNIST and CIFAR-10 for fig5's CNN panels; default
        ``$SPECTRANET_DATA``); fig4 needs none.
    datasets : list of str, optional
        Dataset folder names (fig5-fig7; fig5 also takes ``mnist``, ``cifar10`` and ``digits``).
    quick : bool
        The reduced version (about a minute).
    progress : Progress, optional
    **options
        Passed to the module's ``run``.

    Raises
    ------
    DataUnavailableError
        The data directory or a dataset is missing (a FileNotFoundError).
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    module_name, _, needs_data = EXPERIMENTS[name]
    if not needs_data and (datasets or data_dir is not None):
        raise ValueError(f"{name} runs on a synthetic planted model and takes no --datasets or --data-dir")
    module = importlib.import_module(f".{module_name}", __name__)
    out_dir = Path(out_dir)
    kwargs = dict(quick=quick, progress=progress, **options)
    if needs_data:
        kwargs.update(data_dir=data_dir, datasets=datasets)
        module.resolve_datasets(data_dir, datasets)  # fail before creating anything when data are missing
    out_dir.mkdir(parents=True, exist_ok=True)
    result = module.run(out_dir, **kwargs)
    result.csv_path = write_csv(result.rows, out_dir / "results.csv")
    return result
