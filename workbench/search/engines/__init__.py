"""Search engines' worker sides. AutoGluon: its search space, its trial function and its fitted model."""

from workbench.search.engines._autogluon import ARTIFACT_NAME, run_autogluon_trial
from workbench.search.engines._autogluon_model import AutoGluonModel
from workbench.search.engines._autogluon_space import AUTOGLUON_SPACE, autogluon_configs

__all__ = ["ARTIFACT_NAME", "AUTOGLUON_SPACE", "AutoGluonModel", "autogluon_configs", "run_autogluon_trial"]
