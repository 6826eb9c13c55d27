"""Trained models as plain arrays, so the run registry can serve them after training.

A :class:`ModelWeights` is a JSON description plus numpy arrays; the registry stores it
beside its run, under the run's key, as an ``.npz`` read with ``allow_pickle=False``
(:meth:`hybridlib.results.Registry.save_weights`): nothing is unpickled. Three kinds:

* ``"graph"``: a torch model of :mod:`hybridlib.models`, rebuilt from its class and the
  constructor arguments recorded while the runner built it (:func:`recording`), then its
  ``state_dict``; with the target scaling, graph settings and composition preset its
  inputs need. :func:`graph_weights` rebuilds the model once before storing it and checks
  that it predicts exactly what the trained one does.
* ``"forest"``: a scikit-learn pipeline ``SimpleImputer -> RandomForestRegressor`` (one per
  target) as arrays: the imputer's statistics and every tree's nodes. :class:`Forest`
  applies them with scikit-learn's own arithmetic (float32 features, ``x <= threshold``,
  trees summed in order), so its predictions are identical to the pipeline's.
* ``"combination"``: a fixed linear combination of other runs' predictions (late fusion,
  stacking).

Every payload of a trained model also describes its training split
(:func:`training_domain`): the elements it contains, its largest cell and its formulas with
their DFT values, for the out-of-domain flags of :mod:`hybridlib.predict`.
Introduced in: chapter 5.7.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import pkgutil
import sys
from dataclasses import asdict, dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["FORMAT", "ModelWeights", "SpecError", "ConstructionLog", "recording",
           "build_module", "graph_weights", "load_graph_model", "training_domain",
           "forest_weights", "Forest", "load_forests", "combination_weights", "combine",
           "unavailable"]

#: Version of the payload layout (stored in every payload).
FORMAT = 1
_MODELS_PACKAGE = "hybridlib.models"


@dataclass
class ModelWeights:
    """What the registry stores to rebuild one run's model: a description and arrays.

    Attributes:
        meta: JSON-serialisable description; ``meta["kind"]`` is ``"graph"``, ``"forest"``,
            ``"combination"`` or ``"unavailable"`` (then ``meta["reason"]`` says why).
        arrays: numeric or string numpy arrays (no object dtype).
    """

    meta: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.meta["kind"]


class SpecError(ValueError):
    """A model cannot be described by its class and constructor arguments."""


def unavailable(reason: str) -> ModelWeights:
    """A payload saying why a run's model could not be stored."""
    return ModelWeights({"format": FORMAT, "kind": "unavailable", "reason": reason})


# ------------------------------------------------------------------ constructor records

class ConstructionLog:
    """Constructor arguments of the :mod:`hybridlib.models` modules built in :func:`recording`."""

    def __init__(self) -> None:
        self._calls: dict[int, tuple[object, type, dict]] = {}

    def record(self, module, arguments: dict) -> None:
        """Keep the first (outermost, most-derived) constructor call of ``module``."""
        self._calls.setdefault(id(module), (module, type(module), arguments))

    def spec(self, module, arrays: dict[str, np.ndarray]) -> dict:
        """JSON description ``{"class", "arguments"}`` of ``module``; tensors go to ``arrays``.

        Raises:
            SpecError: ``module`` (or a module among its arguments) was not built inside
                :func:`recording`, or an argument is neither JSON, an array nor such a module.
        """
        if id(module) not in self._calls:
            raise SpecError(f"{type(module).__qualname__} was not built by a class of "
                            f"{_MODELS_PACKAGE} inside recording()")
        _, cls, arguments = self._calls[id(module)]
        where = cls.__qualname__
        return {"class": f"{cls.__module__}:{cls.__qualname__}",
                "arguments": {name: self._encode(value, arrays, f"{where}.{name}")
                              for name, value in arguments.items()}}

    def _encode(self, value, arrays: dict[str, np.ndarray], where: str):
        import torch
        from torch import nn

        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [self._encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self._encode(v, arrays, f"{where}.{k}")
                                 for k, v in value.items()}}
        if isinstance(value, (torch.Tensor, np.ndarray)):
            name = f"init.{len([k for k in arrays if k.startswith('init.')])}"
            is_tensor = isinstance(value, torch.Tensor)
            arrays[name] = value.detach().cpu().numpy() if is_tensor else np.asarray(value)
            return {"__tensor__" if is_tensor else "__array__": name}
        if isinstance(value, nn.Module):
            return {"__module__": self.spec(value, arrays)}
        raise SpecError(f"constructor argument {where} is a {type(value).__name__}, which "
                        f"cannot be stored as JSON, an array or a recorded module")


def _model_classes() -> list[type]:
    """Every ``nn.Module`` subclass defined in :mod:`hybridlib.models` with its own ``__init__``."""
    from torch import nn

    package = importlib.import_module(_MODELS_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{_MODELS_PACKAGE}.{info.name}")
    classes = []
    for name, module in list(sys.modules.items()):
        if name != _MODELS_PACKAGE and not name.startswith(_MODELS_PACKAGE + "."):
            continue
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, nn.Module)
                    and value.__module__ == name and "__init__" in vars(value)):
                classes.append(value)
    return classes


def _recording_init(init, log: ConstructionLog):
    signature = inspect.signature(init)
    self_name = next(iter(signature.parameters))

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:  # a wrong call: let the constructor itself say what is wrong
            return init(self, *args, **kwargs)
        bound.apply_defaults()
        log.record(self, {k: v for k, v in bound.arguments.items() if k != self_name})
        init(self, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def recording() -> Iterator[ConstructionLog]:
    """Record the constructor arguments of every model module built inside the block.

    The ``__init__`` of each class of :mod:`hybridlib.models` is wrapped for the duration of
    the block (and restored afterwards, also on error); :meth:`ConstructionLog.spec` then
    describes a built model so that :func:`build_module` can build it again::

        with recording() as log:
            model = EarlyFusion(CGCNN(hidden=64), mean, std)
        spec = log.spec(model, arrays)
    """
    log = ConstructionLog()
    originals = {cls: vars(cls)["__init__"] for cls in _model_classes()}
    try:
        for cls, init in originals.items():
            cls.__init__ = _recording_init(init, log)
        yield log
    finally:
        for cls, init in originals.items():
            cls.__init__ = init


def _model_class(path: str) -> type:
    from torch import nn

    module_name, _, qualname = path.partition(":")
    if module_name != _MODELS_PACKAGE and not module_name.startswith(_MODELS_PACKAGE + "."):
        raise SpecError(f"refusing to build {path!r}: only classes of {_MODELS_PACKAGE} "
                        f"are rebuilt from stored weights")
    value = importlib.import_module(module_name)
    for part in qualname.split("."):
        value = getattr(value, part, None)
    if not (isinstance(value, type) and issubclass(value, nn.Module)):
        raise SpecError(f"{path!r} is not a torch module class of {_MODELS_PACKAGE}")
    return value


def _decode(value, arrays: Mapping[str, np.ndarray]):
    import torch

    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if isinstance(value, dict):
        (marker, inner), = value.items()
        if marker == "__module__":
            return build_module(inner, arrays)
        if marker == "__tensor__":
            return torch.from_numpy(np.array(arrays[inner]))
        if marker == "__array__":
            return np.array(arrays[inner])
        if marker == "__dict__":
            return {k: _decode(v, arrays) for k, v in inner.items()}
        raise SpecError(f"unknown marker {marker!r} in a model description")
    return value


def build_module(spec: dict, arrays: Mapping[str, np.ndarray]):
    """An untrained module built from a description made by :meth:`ConstructionLog.spec`."""
    cls = _model_class(spec["class"])
    signature = inspect.signature(cls)
    arguments = {name: _decode(spec["arguments"][name], arrays)
                 for name in signature.parameters if name in spec["arguments"]}
    bound = inspect.BoundArguments(signature, arguments)
    return cls(*bound.args, **bound.kwargs)


# ----------------------------------------------------------------------- training domain

def training_domain(train: pd.DataFrame, targets: Sequence[str]) -> tuple[dict, dict]:
    """What the model saw: elements, largest cell, formulas with their DFT values.

    Args:
        train: the training rows (``material_id``, ``formula``, ``structure`` and targets).
        targets: the model's targets; every target column of the data (formation energy
            and band gap) is kept too, when present.

    Returns:
        ``(meta, arrays)``: ``meta = {"elements", "max_sites", "n_train", "targets"}``;
        arrays ``domain.material_id``, ``domain.formula`` and ``domain.<target>``.
    """
    from .data import TARGETS

    structures = list(train["structure"])
    columns = [t for t in dict.fromkeys([*TARGETS, *targets]) if t in train]
    meta = {"elements": sorted({el.symbol for s in structures for el in s.composition.elements}),
            "max_sites": max(len(s) for s in structures), "n_train": len(structures),
            "targets": columns}
    arrays = {"domain.material_id": train["material_id"].astype(str).to_numpy(dtype=str),
              "domain.formula": train["formula"].astype(str).to_numpy(dtype=str)}
    for target in columns:
        arrays[f"domain.{target}"] = train[target].to_numpy(dtype=float)
    return meta, arrays


def _with_domain(meta: dict, arrays: dict, train: pd.DataFrame,
                 targets: Sequence[str]) -> ModelWeights:
    domain, domain_arrays = training_domain(train, targets)
    return ModelWeights({"format": FORMAT, **meta, "targets": list(targets), "domain": domain},
                        {**arrays, **domain_arrays})


# ----------------------------------------------------------------------- graph models

def graph_weights(result, log: ConstructionLog, train: pd.DataFrame, targets: Sequence[str],
                  graph_params, *, comp_preset: str | None, line_graph: bool,
                  check_graphs: Sequence) -> ModelWeights:
    """The payload of a trained graph model (:func:`hybridlib.experiments.common.fit_graph_model`).

    Args:
        result: the :class:`~hybridlib.train.FitResult` (model and target scaling).
        log: the record of the model's construction (:func:`recording`).
        train: the training rows (for :func:`training_domain`).
        targets: the model's targets, in output order.
        graph_params: the :class:`~hybridlib.config.GraphParams` its graphs were built with.
        comp_preset: composition features attached as ``graph.comp`` (or ``None``).
        line_graph: whether its graphs carry the line graph.
        check_graphs: a few graphs on which the rebuilt model must predict exactly what the
            trained one does.

    Returns:
        A ``"graph"`` payload, or an ``"unavailable"`` one naming what failed.
    """
    import torch

    model = result.model
    arrays: dict[str, np.ndarray] = {}
    try:
        spec = log.spec(model, arrays)
    except SpecError as exc:
        return unavailable(f"the model cannot be described: {exc}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    arrays.update({f"state.{k}": v.numpy() for k, v in state.items()})
    arrays["target_mean"] = np.asarray(result.target_mean, dtype=np.float64)
    arrays["target_std"] = np.asarray(result.target_std, dtype=np.float64)
    meta = {"kind": "graph", "spec": spec, "graph": asdict(graph_params),
            "line_graph": bool(line_graph), "comp_preset": comp_preset,
            "device": result.device}
    payload = _with_domain(meta, arrays, train, targets)
    with torch.random.fork_rng(devices=[]):  # building a model draws initial weights
        try:
            rebuilt = load_graph_model(payload)
        except (SpecError, TypeError, ValueError, RuntimeError) as exc:
            return unavailable(f"the stored model does not rebuild: {type(exc).__name__}: {exc}")
    rebuilt.model.to(result.device)
    rebuilt.device = result.device
    if not np.array_equal(rebuilt.predict(check_graphs), result.predict(check_graphs)):
        return unavailable("the rebuilt model predicts differently from the trained one "
                           "(its architecture is not fully set by its constructor arguments)")
    return payload


def load_graph_model(payload: ModelWeights):
    """The trained model of a ``"graph"`` payload, as a :class:`~hybridlib.train.FitResult`
    on the CPU (``.predict(graphs)`` gives predictions in the targets' units)."""
    import torch

    from .train import FitResult

    arrays = payload.arrays
    model = build_module(payload.meta["spec"], arrays)
    state = {k[len("state."):]: torch.from_numpy(np.array(v))
             for k, v in arrays.items() if k.startswith("state.")}
    model.load_state_dict(state, strict=True)
    model.eval()
    return FitResult(model=model, history=[], best_epoch=0, epochs=0, steps=0,
                     train_seconds=0.0, target_mean=np.array(arrays["target_mean"]),
                     target_std=np.array(arrays["target_std"]), device="cpu")


# ----------------------------------------------------------------------- random forests

def _forest_arrays(pipeline, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
    from sklearn.ensemble._forest import ForestRegressor
    from sklearn.impute import SimpleImputer

    steps = [step for _, step in pipeline.steps]
    if (len(steps) != 2 or not isinstance(steps[0], SimpleImputer)
            or not isinstance(steps[1], ForestRegressor)):
        raise SpecError(f"expected a pipeline SimpleImputer -> forest regressor, got "
                        f"{[type(s).__name__ for s in steps]}")
    imputer, forest = steps
    if imputer.add_indicator or not np.isnan(imputer.missing_values) or forest.n_outputs_ != 1:
        raise SpecError("only imputers of NaN without indicator columns and single-output "
                        "forests are stored")
    trees = [estimator.tree_ for estimator in forest.estimators_]
    arrays = {
        f"{prefix}.statistics": np.asarray(imputer.statistics_, dtype=np.float64),
        f"{prefix}.offsets": np.cumsum([0] + [t.node_count for t in trees]).astype(np.int64),
        f"{prefix}.left": np.concatenate([t.children_left for t in trees]).astype(np.int32),
        f"{prefix}.right": np.concatenate([t.children_right for t in trees]).astype(np.int32),
        f"{prefix}.feature": np.concatenate([t.feature for t in trees]).astype(np.int32),
        f"{prefix}.threshold": np.concatenate([t.threshold for t in trees]),
        f"{prefix}.value": np.concatenate([t.value[:, 0, 0] for t in trees]),
    }
    meta = {"n_features": int(imputer.n_features_in_), "n_trees": len(trees),
            "keep_empty_features": bool(imputer.keep_empty_features)}
    return meta, arrays


class Forest:
    """A stored random-forest pipeline (imputer + trees) for one target.

    Predictions are identical to scikit-learn's ``Pipeline.predict`` with ``n_jobs=1``:
    missing features take the imputer's training means (features never observed in training
    are dropped, as ``SimpleImputer`` does), features are cast to float32, each tree sends a
    sample left when ``x[feature] <= threshold``, and the trees' leaf values are summed in
    order and divided by their number.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], prefix: str, n_features: int) -> None:
        self.statistics = np.asarray(arrays[f"{prefix}.statistics"], dtype=np.float64)
        offsets = np.asarray(arrays[f"{prefix}.offsets"])
        if len(self.statistics) != n_features or offsets[-1] != len(arrays[f"{prefix}.value"]):
            raise ValueError(f"forest arrays {prefix!r} have inconsistent sizes")
        self.roots = offsets[:-1]
        shift = np.repeat(offsets[:-1], np.diff(offsets))
        left, right = (np.asarray(arrays[f"{prefix}.{side}"], dtype=np.int64)
                       for side in ("left", "right"))
        self.leaf = left < 0
        self.left = np.where(self.leaf, -1, left + shift)
        self.right = np.where(self.leaf, -1, right + shift)
        self.feature = np.asarray(arrays[f"{prefix}.feature"], dtype=np.int64)
        self.threshold = np.asarray(arrays[f"{prefix}.threshold"], dtype=np.float64)
        self.value = np.asarray(arrays[f"{prefix}.value"], dtype=np.float64)
        self.keep = ~np.isnan(self.statistics)

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def impute(self, X: np.ndarray) -> np.ndarray:
        """Missing values replaced by the training means; never-observed features dropped."""
        X = np.array(X, dtype=np.float64, ndmin=2)
        if X.shape[1] != len(self.statistics):
            raise ValueError(f"X has {X.shape[1]} features, the forest expects "
                             f"{len(self.statistics)}")
        missing = np.isnan(X)
        X[missing] = np.broadcast_to(self.statistics, X.shape)[missing]
        return X[:, self.keep]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions ``(n,)`` for features ``(n, D)`` (NaN where a feature is missing)."""
        X = self.impute(X).astype(np.float32)
        rows = np.arange(len(X))[:, None]
        node = np.broadcast_to(self.roots, (len(X), self.n_trees)).copy()
        inner = ~self.leaf[node]
        while inner.any():
            go_left = X[rows, self.feature[node]].astype(np.float64) <= self.threshold[node]
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, step, node)
            inner = ~self.leaf[node]
        leaves = self.value[node]
        total = np.zeros(len(X))
        for tree in range(self.n_trees):
            total += leaves[:, tree]
        return total / self.n_trees


def forest_weights(pipelines: Mapping[str, object], preset: str, train: pd.DataFrame,
                   check_features: np.ndarray) -> ModelWeights:
    """The payload of composition random forests, one fitted pipeline per target.

    Args:
        pipelines: target -> fitted ``Pipeline([SimpleImputer, RandomForestRegressor])``.
        preset: the composition features they read (:mod:`hybridlib.features`).
        train: the training rows (for :func:`training_domain`).
        check_features: a few feature rows on which :class:`Forest` must reproduce the
            pipelines' predictions exactly.

    Returns:
        A ``"forest"`` payload, or an ``"unavailable"`` one naming what failed.
    """
    arrays: dict[str, np.ndarray] = {}
    forests = {}
    try:
        for index, (target, pipeline) in enumerate(pipelines.items()):
            forests[target], part = _forest_arrays(pipeline, f"forest.{index}")
            arrays.update(part)
    except SpecError as exc:
        return unavailable(f"the forest cannot be stored: {exc}")
    payload = _with_domain({"kind": "forest", "preset": preset, "forests": forests}, arrays,
                           train, list(pipelines))
    for index, (target, pipeline) in enumerate(pipelines.items()):
        stored = Forest(arrays, f"forest.{index}", forests[target]["n_features"])
        if not np.array_equal(stored.predict(check_features), pipeline.predict(check_features)):
            return unavailable(f"the stored forest of {target!r} predicts differently from "
                               f"the fitted pipeline")
    return payload


def load_forests(payload: ModelWeights) -> dict[str, Forest]:
    """Target -> :class:`Forest` of a ``"forest"`` payload."""
    return {target: Forest(payload.arrays, f"forest.{index}",
                           payload.meta["forests"][target]["n_features"])
            for index, target in enumerate(payload.meta["targets"])}


# ----------------------------------------------------------------------- combinations

def combination_weights(components: Sequence[str], coefficients: Sequence[float],
                        intercept: float, target: str, *,
                        matrix_product: bool = False) -> ModelWeights:
    """A composite model: ``intercept + Σ_k coefficients[k] · ŷ(components[k])``.

    Late fusion is ``(α, 1 − α)`` with intercept 0, stacking the ridge coefficients; the
    components are other experiments of the same profile, read from the registry.

    Args:
        matrix_product: evaluate ``Ŷ @ coefficients + intercept`` (as scikit-learn's linear
            models do) rather than the products summed in order (as
            :func:`hybridlib.models.late_fusion.blend`), so that the stored model reproduces
            the run's predictions bit for bit.
    """
    if len(components) != len(coefficients) or not components:
        raise ValueError(f"need one coefficient per component, got {list(components)} "
                         f"and {list(coefficients)}")
    return ModelWeights({"format": FORMAT, "kind": "combination", "targets": [target],
                         "components": list(components),
                         "coefficients": [float(c) for c in coefficients],
                         "intercept": float(intercept), "matrix_product": matrix_product})


def combine(meta: dict, predictions: Sequence[np.ndarray]) -> np.ndarray:
    """The prediction ``(n,)`` of a ``"combination"`` payload from its components' ``(n,)``."""
    coefficients = np.asarray(meta["coefficients"], dtype=np.float64)
    if meta["matrix_product"]:
        return np.column_stack(predictions) @ coefficients + meta["intercept"]
    total = np.full(len(predictions[0]), meta["intercept"], dtype=np.float64)
    for coefficient, values in zip(coefficients, predictions):
        total = total + coefficient * values
    return total
