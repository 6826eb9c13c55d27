"""Stored models (hybridlib.weights) and their registry files, without training a run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from hybridlib import cache, weights
from hybridlib.config import GraphParams
from hybridlib.graphs import crystal_graph
from hybridlib.models import (ALIGNN, CGCNN, MEGNet, ALIGNNSimple, AttentionFusion,
                              EarlyFusion, random_forest)
from hybridlib.results import Registry
from hybridlib.train import FitResult


def _graphs(comp_dim: int = 0, line_graph: bool = False):
    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                          [[0, 0, 0], [0.5, 0.5, 0.5]])
    perovskite = Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.9), ["Sr", "Ti", "O"],
                                           [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]])
    comp = (lambda i: np.linspace(-1, 1, comp_dim) * (i + 1)) if comp_dim else (lambda i: None)
    return [crystal_graph(s, line_graph=line_graph, comp=comp(i))
            for i, s in enumerate([rock_salt, perovskite])]


BUILDERS = {
    "CGCNN": (lambda: CGCNN(hidden=8, n_conv=2, fc_hidden=16), {}),
    "EarlyFusion": (lambda: EarlyFusion(CGCNN(hidden=8, n_conv=1), torch.linspace(0, 1, 5),
                                        torch.linspace(1, 2, 5), hidden=(8,)), {"comp_dim": 5}),
    "AttentionFusion": (lambda: AttentionFusion(CGCNN(hidden=8, n_conv=1), torch.zeros(5),
                                                torch.ones(5), width=6), {"comp_dim": 5}),
    "ALIGNNSimple": (lambda: ALIGNNSimple(hidden=8, n_conv=2), {}),
    "ALIGNN": (lambda: ALIGNN(2, hidden=8, alignn_layers=1, gcn_layers=1, order="line_first"),
               {"line_graph": True}),
    "MEGNet": (lambda: MEGNet(2, n_blocks=1, output_hidden=(8,)), {}),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_a_recorded_model_rebuilds_to_identical_outputs(name):
    build, graph_options = BUILDERS[name]
    with weights.recording() as log:
        model = build()
    model.eval()
    arrays: dict = {}
    spec = log.spec(model, arrays)
    assert spec["class"].startswith("hybridlib.models.")
    with torch.no_grad():  # change every weight, so a fresh initialisation cannot match
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    rebuilt = weights.build_module(spec, arrays)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    rebuilt.eval()
    graphs = _graphs(**graph_options)
    fit = lambda m: FitResult(m, [], 0, 0, 0, 0.0, np.zeros(m.n_targets), np.ones(m.n_targets))
    assert np.array_equal(fit(rebuilt).predict(graphs), fit(model).predict(graphs))


def test_recording_restores_every_constructor_even_after_an_error():
    original = vars(CGCNN)["__init__"]
    with pytest.raises(ValueError, match="must be >= 1"):
        with weights.recording():
            assert vars(CGCNN)["__init__"] is not original
            CGCNN(hidden=0)
    assert vars(CGCNN)["__init__"] is original


def test_a_model_built_outside_recording_or_with_odd_arguments_is_refused():
    with weights.recording() as log:
        pass
    with pytest.raises(weights.SpecError, match="not built"):
        log.spec(CGCNN(hidden=4, n_conv=1), {})
    with weights.recording() as log:
        model = MEGNet(n_blocks=1, dense=range(64, 31, -32))  # (64, 32), but as a range
    with pytest.raises(weights.SpecError, match="MEGNet.dense is a range"):
        log.spec(model, {})


@pytest.mark.parametrize("path", ["torch.nn:Linear", "os:system", "hybridlib.config:Profile",
                                  "hybridlib.models.cgcnn:atom_feature_table"])
def test_only_model_classes_of_the_package_are_rebuilt(path):
    with pytest.raises(weights.SpecError):
        weights.build_module({"class": path, "arguments": {}}, {})


@pytest.mark.parametrize("change, reason", [
    (lambda m: setattr(m, "out", torch.nn.Linear(m.fc_hidden, 1, bias=False)), "does not rebuild"),
    (lambda m: setattr(m.expansion, "gamma", 2.0), "predicts differently"),
])
def test_a_model_changed_after_construction_is_reported_not_stored(mp_small, change, reason):
    with weights.recording() as log:
        model = CGCNN(hidden=8, n_conv=1)
    change(model)  # something its constructor arguments do not say
    result = FitResult(model.eval(), [], 0, 0, 0, 0.0, np.zeros(1), np.ones(1))
    payload = weights.graph_weights(result, log, mp_small.head(5), ["e_form"], GraphParams(),
                                    comp_preset=None, line_graph=False, check_graphs=_graphs())
    assert payload.kind == "unavailable"
    assert reason in payload.meta["reason"]


# ----------------------------------------------------------------------- forests

def _forest_data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.1] = np.nan  # missing values, imputed with training means
    X[:, 2] = np.nan                     # a feature never observed: the imputer drops it
    y = np.nansum(X, axis=1) + 0.1 * rng.normal(size=n)
    return X, y


def test_stored_forest_predicts_exactly_what_scikit_learn_does(mp_small):
    import hybridlib as hl

    X, y = _forest_data()
    profile = hl.config.get_profile("ci").with_(model={"rf_trees": 7})
    pipelines = {"e_form": random_forest(profile, n_jobs=1).fit(X[:80], y[:80]),
                 "band_gap": random_forest(profile, max_depth=3, n_jobs=1).fit(X[:80], -y[:80])}
    with pytest.warns(UserWarning, match="Skipping features"):
        payload = weights.forest_weights(pipelines, "magpie", mp_small.head(10), X[80:90])
    assert payload.kind == "forest", payload.meta.get("reason")
    forests = weights.load_forests(payload)
    X_new = _forest_data(seed=1)[0]
    for target, pipeline in pipelines.items():
        with pytest.warns(UserWarning, match="Skipping features"):
            expected = pipeline.predict(X_new)
        assert np.array_equal(forests[target].predict(X_new), expected)
    with pytest.raises(ValueError, match="expects 6"):
        forests["e_form"].predict(X_new[:, :5])


def test_a_pipeline_of_another_shape_is_reported_not_stored(mp_small):
    X, y = _forest_data()
    pipeline = Pipeline([("scale", StandardScaler()), ("forest", random_forest("ci"))])
    payload = weights.forest_weights({"e_form": pipeline.fit(np.nan_to_num(X), y)}, "magpie",
                                     mp_small.head(10), np.nan_to_num(X[:5]))
    assert payload.kind == "unavailable" and "SimpleImputer" in payload.meta["reason"]


def test_training_domain_lists_elements_largest_cell_and_dft_values(mp_small):
    meta, arrays = weights.training_domain(mp_small, ["e_form"])
    elements = {el.symbol for s in mp_small["structure"] for el in s.composition.elements}
    assert meta["elements"] == sorted(elements)
    assert meta["max_sites"] == mp_small["n_sites"].max()
    assert meta["targets"] == ["e_form", "band_gap"]
    assert list(arrays["domain.formula"]) == list(mp_small["formula"])
    assert np.array_equal(arrays["domain.band_gap"], mp_small["band_gap"].to_numpy())


def test_combination_reproduces_blend_and_ridge_bit_for_bit():
    from hybridlib.models.late_fusion import Stacking, blend

    rng = np.random.default_rng(3)
    a, b, y = rng.normal(size=(3, 500))
    alpha = 0.37
    late = weights.combination_weights(["a", "b"], [alpha, 1 - alpha], 0.0, "e_form")
    assert np.array_equal(weights.combine(late.meta, [a, b]), blend(a, b, alpha))
    stacker = Stacking().fit(np.column_stack([a, b]), y)
    stacked = weights.combination_weights(["a", "b"], stacker.coef_, stacker.intercept_,
                                          "e_form", matrix_product=True)
    assert np.array_equal(weights.combine(stacked.meta, [a, b]),
                          stacker.predict(np.column_stack([a, b])))
    with pytest.raises(ValueError, match="one coefficient per component"):
        weights.combination_weights(["a"], [1.0, 2.0], 0.0, "e_form")


# ----------------------------------------------------------------------- registry files

def test_weights_round_trip_beside_the_run_with_its_key(tmp_path):
    registry = Registry(tmp_path)
    arrays = {"state.w": np.arange(6, dtype=np.float32).reshape(2, 3),
              "domain.formula": np.array(["NaCl", "Si"])}
    path = registry.save_weights("cgcnn", "k1", arrays, {"kind": "graph", "x": [1, 2]})
    assert path == tmp_path / "cgcnn" / "weights" / "k1.npz"
    assert registry.entries() == []  # weights are not runs
    meta, loaded = registry.load_weights("cgcnn", "k1")
    assert meta == {"kind": "graph", "x": [1, 2], "name": "cgcnn", "key": "k1"}
    assert set(loaded) == set(arrays)
    assert loaded["state.w"].dtype == np.float32
    assert np.array_equal(loaded["state.w"], arrays["state.w"])
    assert list(loaded["domain.formula"]) == ["NaCl", "Si"]
    with pytest.raises(ValueError, match="reserved"):
        registry.save_weights("cgcnn", "k1", {"meta": np.zeros(1)}, {})


def test_weights_of_another_key_or_damaged_weights_are_refused(tmp_path):
    registry = Registry(tmp_path)
    registry.save_weights("cgcnn", "k1", {"a": np.zeros(3)}, {"kind": "graph"})
    with pytest.raises(FileNotFoundError, match="no stored weights"):
        registry.load_weights("cgcnn", "k2")
    source, copy = registry.weights_path("cgcnn", "k1"), registry.weights_path("cgcnn", "k2")
    copy.write_bytes(source.read_bytes())
    with pytest.raises(cache.CacheCorruptedError, match="belongs to run 'cgcnn' with key k1"):
        registry.load_weights("cgcnn", "k2")
    source.write_bytes(source.read_bytes()[:-10])
    with pytest.raises(cache.CacheCorruptedError, match="checksum"):
        registry.load_weights("cgcnn", "k1")
