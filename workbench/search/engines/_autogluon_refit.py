"""Finalizing an AutoGluon candidate: AutoGluon's own refit_full of that model on more rows.

The stored predictor was fitted on the train rows with the valid rows as tuning data, then shrunk with
`save_space`, which drops AutoGluon's cached training data. The refit hands that data back to the trainer
(`refit_ensemble_full` with X and y: the rows to train on, already through the predictor's own feature
generators), so AutoGluon refits the model (and a weighted ensemble's members, weights kept) with the
hyperparameters and the iteration counts it found, as `predictor.refit_full` does. The `_FULL` model is
made the predictor's best, every other model is deleted, and the predictor is zipped again.

A cross-validated trial's predictor holds bags of k children (fitted on every selection row, no tuning
data); its models kept their child templates for this (`_autogluon._save_space`). refit_full makes one
`_FULL` model of a bag: a single child fitted on all the given rows with the mean of its children's trained
hyperparameters (iteration counts included).

Those iteration counts were found on fewer rows than the refit fits on: a bag's children each trained on
k-1 of its k folds, an unbagged model on the train rows. As the workbench's own refits scale boosting rounds
by the rows added (`families.refit_model`), the boosting models' rounds (LightGBM, XGBoost, CatBoost) are
scaled the same way before refit_full reads them (`_scale_rounds`); AutoGluon's source leaves this as a
TODO. On the winners of 60 s searches this lowered flights' final test mae by 1.0-1.1% and raised
nyc_weather_precip's final balanced accuracy by 0.001-0.013.

A bag whose refit is quick (`rebag`, decided by `_finalize`) is refitted as a bag instead: k children, each
on all rows but one of k folds (early stopping on that fold, its rounds capped at its children's mean times
the rows added), as AutoGluon's best_quality preset keeps its bags rather than one child. On a small table
one boosted child is much less steady than the bag it replaces: on wine (142 rows to refit on) the selected
LightGBM bag scored 0.9722 on test, its refit_full child 0.8889, and bags of 4 refitted on those rows
0.9444-0.9722 over 4 fold seeds.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.model import InputSchema
from workbench.model._autogluon import META_NAME, predictor_to_zip, tabular_predictor
from workbench.search._protocol import TrialData, WorkerResources

__all__ = ["refit_autogluon"]


def _load(blob: bytes, folder: Path) -> tuple[Any, InputSchema]:
    TabularPredictor = tabular_predictor()
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:  # an artifact this workspace wrote itself
        archive.extractall(folder)
    meta = json.loads((folder / META_NAME).read_text())
    (folder / META_NAME).unlink()
    predictor = TabularPredictor.load(str(folder), verbosity=0, check_packages=False)
    return predictor, InputSchema.from_dict(meta["input_schema"])


def _rounds_key(model: Any) -> str | None:
    """The name in `model.params_trained` of the boosting rounds it stopped at; None for other models."""
    from autogluon.tabular.models import CatBoostModel, LGBModel, XGBoostModel

    for kind, key in ((LGBModel, "num_boost_round"), (XGBoostModel, "n_estimators"), (CatBoostModel, "iterations")):
        if isinstance(model, kind):
            return key
    return None


def _scale_rounds(trainer: Any, model_name: str, rows: int, rebag: bool) -> None:
    """Scale the boosting rounds of `model_name` and the models it is built on by `rows` over the rows each
    was fitted on, in their saved `params_trained` (which refit_full reads). With `rebag`, a bag's children
    are refitted on k-1 of k folds of `rows`, as its children were on k-1 folds of theirs."""
    from autogluon.core.models import BaggedEnsembleModel

    fitted = trainer._num_rows_train  # the rows the predictor was fitted on (set by its fit, pickled with it)
    if not fitted:
        return
    for name in trainer.get_minimum_model_set(model_name):
        model = trainer.load_model(name)
        bagged = isinstance(model, BaggedEnsembleModel)
        children = [model.load_child(child) for child in model.models] if bagged else [model]
        k = len(children) if bagged else 1  # one bagging set (`num_bag_sets`): a child per fold
        factor = rows / (fitted * (k - 1) / k if k > 1 and not (rebag and _can_rebag(trainer, name)) else fitted)
        for child in children:
            key = _rounds_key(child)
            if key is None or not isinstance(child.params_trained.get(key), int):
                continue
            child.params_trained[key] = max(1, round(child.params_trained[key] * factor))
            if bagged:
                model.save_child(child)
            else:
                child.save()


def _can_rebag(trainer: Any, name: str) -> bool:
    """Whether model `name` is a first-level bag of several children that can be refitted as one."""
    from autogluon.core.models import BaggedEnsembleModel

    if trainer.get_model_level(name) != 1:
        return False
    model = trainer.load_model(name)
    return (
        isinstance(model, BaggedEnsembleModel)
        and len(model.models) > 1
        and bool(model._get_tags_child().get("can_refit_full", False))
    )


def _rebag(trainer: Any, model_name: str, X: pd.DataFrame, y: pd.Series, total_resources: dict[str, int]) -> None:
    """Refit each bag `model_name` is or is built on as a `_FULL` bag of as many children on X, registered as
    its refit so that refit_ensemble_full keeps it (and refits the rest, a weighted ensemble on top of them).

    This is AutoGluon's own refit of one model (`_detached_refit_single_full`) with k folds instead of one.
    The trainer's groups (the experiment's folds of the selection rows) are cleared meanwhile: the rows
    here are more, and their k folds are drawn as AutoGluon draws a bag's folds."""
    from autogluon.core.constants import REFIT_FULL_NAME

    groups, trainer._groups = trainer._groups, None
    try:
        for name in trainer.get_minimum_model_set(model_name):
            if not _can_rebag(trainer, name):
                continue
            bag = trainer.load_model(name)
            trained = trainer.stack_new_level_core(
                X=X,
                y=y,
                models=[bag.convert_to_refit_full_template()],
                base_model_names=trainer.get_base_model_names(name),
                level=1,
                stack_name=REFIT_FULL_NAME,
                hyperparameter_tune_kwargs=None,
                feature_prune=False,
                k_fold=len(bag.models),
                n_repeats=1,
                ensemble_type=type(bag),
                refit_full=True,
                total_resources=total_resources,
            )
            if len(trained) != 1:  # refit_ensemble_full then refits it to one child, or says why it cannot
                continue
            trainer._update_model_attr(
                trained[0],
                refit_full=True,
                refit_full_parent=name,
                refit_full_parent_val_score=trainer.get_model_attribute(name, "val_score"),
            )
    finally:
        trainer._groups = groups


def refit_autogluon(
    blob: bytes, model_name: str, data: TrialData, resources: WorkerResources, rebag: bool = False
) -> tuple[bytes, str, dict[str, str], dict[str, int]]:
    """Refit `model_name` of the zipped predictor `blob` on data's train rows (all the rows to train on):
    its bags as bags of as many children with `rebag`, else as one child each (refit_full).

    Returns the new predictor zip, the refitted model's name in it, the name in it of every model that
    one is built on (a weighted ensemble's members), refitted with it, and the refitted models that are
    bags of more than one child, with their number of children (the folds they were refitted over). The
    input schema stays the original's: AutoGluon's feature generators are not refitted, so they know the
    train rows' categories."""
    workdir = Path(tempfile.mkdtemp(prefix="wb-autogluon-refit-"))
    folder = workdir / "predictor"
    try:
        with warnings.catch_warnings():  # AutoGluon's own deprecations and pickles: third-party noise
            warnings.simplefilter("ignore")
            predictor, schema = _load(blob, folder)
            X = predictor.transform_features(data.X_train.reset_index(drop=True))
            y = predictor.transform_labels(pd.Series(data.y_train))
            trainer = predictor._trainer
            y = y.reset_index(drop=True)
            _scale_rounds(trainer, model_name, len(X), rebag)
            # save_space deleted the cached rows but left these set: X_val=None would read a missing file.
            trainer._X_saved = trainer._y_saved = trainer._X_val_saved = trainer._y_val_saved = False
            total_resources = {"num_cpus": max(1, int(resources.cpus)), "num_gpus": int(resources.gpus)}
            if rebag:
                _rebag(trainer, model_name, X, y, total_resources)
            refit_map = trainer.refit_ensemble_full(
                model=model_name, X=X, y=y, X_val=None, y_val=None, total_resources=total_resources
            )
            full_name = refit_map.get(model_name) or trainer.model_refit_map().get(model_name)
            if full_name is None:
                raise RuntimeError(f"AutoGluon did not refit {model_name}")
            predictor.set_model_best(full_name, save_trainer=True)
            predictor.delete_models(models_to_keep=[full_name], dry_run=False)  # its ancestors stay too
            predictor.save_space()
            kept = set(predictor.model_names())
            ancestors = {m: f for m, f in {**trainer.model_refit_map(), **refit_map}.items() if f in kept}
            ancestors.pop(model_name, None)
            children = {m: int(getattr(trainer.load_model(m), "n_children", 1)) for m in kept}
        bags = {m: n for m, n in children.items() if n > 1}
        return predictor_to_zip(folder, data.problem_type, data.classes, schema), full_name, ancestors, bags
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
