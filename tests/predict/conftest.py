"""A tiny trained registry shared by the prediction tests (real data, 120 materials)."""
from __future__ import annotations

import functools
import warnings

import pytest

#: The runs trained once per session: every kind of stored model (forest, each graph-model
#: class, both combinations) and a second seed of CGCNN for the ensemble spread.
MODELS = ("rf_magpie", "cgcnn", "late_fusion_val", "stacking", "early_fusion",
          "attention_fusion", "alignn_simple", "alignn", "megnet_mt_uncertainty")


def tiny_profile():
    import hybridlib as hl

    return hl.config.get_profile("ci").with_(
        data={"n_materials": 120}, training={"steps": 4},
        model={"hidden": 8, "n_conv": 1, "rf_trees": 5, "alignn_layers": 1, "gcn_layers": 1})


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """``(profile, registry folder, dataset)`` with :data:`MODELS` trained (and cgcnn at seed 1)."""
    import hybridlib as hl
    from hybridlib import data

    root = tmp_path_factory.mktemp("predict")
    profile = tiny_profile()
    load = functools.lru_cache(maxsize=None)(data.load_dataset)
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        patch.setenv("HYBRIDLIB_CACHE_DIR", str(root / "cache"))
        patch.setenv("HYBRIDLIB_QUIET", "1")
        # every run reads the same table: parse the sample once (no effect on the results)
        patch.setattr(data, "load_dataset", lambda p=None, source=None: load(p, source).copy())
        for name in MODELS:
            hl.experiments.run(name, profile, registry=root / "runs")
        hl.experiments.run("cgcnn", profile.with_(seed=1), registry=root / "runs")
        dataset = load(profile, None)
    return profile, root / "runs", dataset
