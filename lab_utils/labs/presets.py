"""Quick mode in one place: the parameters each notebook actually runs with.

papermill injects only ``quick`` (and whatever a user sets); the small values quick mode uses live
here rather than in notebook cells, where papermill could not see or override them::

    p = presets.resolve("lab4_5", quick, choices=choices, fc=fc, n_trials=n_trials, ...)
    p.n_trials        # 8 in quick mode, the notebook's parameter otherwise

How it works: :data:`QUICK` maps a task to the parameters quick mode replaces and their values;
:func:`resolve` starts from the notebook's parameters, applies the task's quick values when
``quick`` is true, then adds the values derived from them (a training recipe, a data size, a
search-space definition) and returns them as a frozen :class:`Preset`. A quick value replaces a
parameter even if the user changed it, as the notebooks always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from lab_utils.errors import LabError
from lab_utils.labs.baselines import QUICK_JETS, QUICK_RECIPE
from lab_utils.training.train import Recipe

# per task: the parameters quick mode replaces (small data and budgets: checks that everything runs)
QUICK = {
    "lab3_1": {"latency_s": 0.05},
    "lab3_4": {"seeds": 12, "large_seeds": 8, "large_budget": 40, "workers": 1},
    "lab3_5": {"n_seeds": 2, "lrs": [1e-3, 1e-2], "epochs": [1, 2], "tiny_widths": [2, 4, 8], "three_widths": [2, 4],
               "workers": 1},
    # a tiny CNN on the generated images: every PTQ and QAT configuration and every claim runs
    "lab3_6": {"channels": [8, 8, 8, 8, 16, 16], "fc": 32, "epochs": 15, "qat_seeds": 2, "layer_seeds": 1,
               "threads": 1},
    "lab4_1": {"epochs": 1},
    # two seeds: every test and claim runs; one process: spawning workers costs more than the tiny runs
    "lab4_2": {"epochs": 1, "n_seeds": 2, "n_confirm": 2, "workers": 1},
    "lab4_3": {"epochs": 1, "n_seeds": 2, "n_confirm": 2, "workers": 1},
    "lab4_4": {"epochs": 1},
    # tiny widths and budgets; one thread: tiny convolutions run faster, and far faster on a busy machine
    "lab4_5": {"choices": [4, 8], "fc": 16, "supernet_epochs": 3, "n_trials": 8, "n_random_baselines": 3,
               "seeds": 2, "scratch_epochs": 1, "final_epochs": 1, "threads": 1},
}
# lab3_4's large space in quick mode: 2 x 2 x 2 choices per layer instead of 3 x 3 x 2
QUICK_LARGE_SPACE = {"weight_widths": (2, 8), "weight_fracs": (2, 4), "data_in_widths": (4, 8), "eval_samples": None}


@dataclass(frozen=True)
class Preset:
    """The effective parameters of one notebook run, read as attributes (``p.epochs``)."""
    task: str
    quick: bool
    values: MappingProxyType

    def __getattr__(self, name):
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{self.__dict__.get('task')!r} has no parameter {name!r}")


def resolve(task: str, quick: bool, **parameters) -> Preset:
    """The parameters ``task`` runs with: ``parameters``, replaced by :data:`QUICK`'s values in quick
    mode, plus the derived values of :func:`_derived`."""
    values = dict(parameters)
    if quick:
        values.update(QUICK.get(task, {}))
    values.update(_derived(task, bool(quick), values))
    return Preset(task, bool(quick), MappingProxyType(values))


def _derived(task: str, quick: bool, v: dict) -> dict:
    """Values computed from the parameters (each needs the parameters it reads passed to :func:`resolve`)."""
    if task == "lab0":  # quick mode trains with lab0's quick recipe, whatever the recipe parameters say
        recipe = QUICK_RECIPE if quick else Recipe(epochs=v["epochs"], batch_size=v["batch_size"], lr=v["lr"],
                                                    seed=v["seed"])
        return {"recipe": recipe, "report_recipe": Recipe(epochs=recipe.epochs, batch_size=recipe.batch_size,
                                                          lr=v["report_lr"], seed=v["seed"])}
    if task == "lab3_3":
        return {"n_samples": QUICK_JETS if quick else None}
    if task == "lab3_4":
        return {"large_space": QUICK_LARGE_SPACE if quick else {"eval_samples": v["large_eval_samples"]}}
    if task == "lab4_4":
        return {"n_samples": QUICK_JETS if quick else "NA"}
    if task == "lab4_5" and v["threads"] < 1:
        raise LabError(f"threads must be >= 1, got {v['threads']}")
    return {}
