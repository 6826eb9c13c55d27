"""Every trained model of the book, applied to a crystal the reader brings.

::

    import hybridlib as hl
    hl.predict("my_crystal.cif")                      # every model of the active profile
    hl.predict(structure, models=["cgcnn", "alignn"])  # a pymatgen Structure
    hl.predict("NaCl")                                 # a formula: composition models only

The result is one table, a row per input, model and target: ``input, formula, model,
target, prediction, unit, uncertainty, uncertainty_kind, n_seeds``, the out-of-domain flags
``unseen_elements`` (elements absent from the model's training split), ``too_many_sites``
(more sites than any training cell), ``in_training_data`` (the reduced formula occurs in the
training split; ``dft_value`` and ``dft_id`` then give the DFT value of its lowest-energy
polymorph there) and a ``note`` in words. The uncertainty is the standard deviation over
the stored seeds of a model (runs of ``profile.with_(seed=k)``, ``k`` in :data:`ENSEMBLE_SEEDS`)
when there are several; for late fusion and stacking with one seed, how far apart the two
models it combines are.

Nothing is trained here. The models come from the run registry (weights stored beside each
run under the run's key, :mod:`hybridlib.weights`), so a changed recipe, profile or data set
never serves old weights: a run that is not in the registry raises :class:`MissingRunError`
naming it and the command that creates it. Bad input raises
:class:`~hybridlib.predict.inputs.InputError` naming the input and the problem.
The command line, ``python -m hybridlib.predict FILE.cif ...``, is in :mod:`.__main__`;
the notebook widget in :mod:`.widget`. Introduced in: chapter 5.7.
"""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..cache import CacheCorruptedError
from ..config import GraphParams, Profile, resolve_profile
from ..results import Registry
from ..weights import ModelWeights, combine, load_forests, load_graph_model
from . import examples, widget
from .inputs import InputError, Material, read_inputs

__all__ = ["ENSEMBLE_SEEDS", "COLUMNS", "MissingRunError", "InputError", "Material",
           "Predictor", "predict", "book_models", "read_inputs", "examples", "widget"]

#: Seeds whose runs (``profile.with_(seed=k)``) form a model's ensemble, when stored.
ENSEMBLE_SEEDS = (0, 1, 2)
#: Columns of the prediction table, in order.
COLUMNS = ["input", "formula", "model", "target", "prediction", "unit", "uncertainty",
           "uncertainty_kind", "n_seeds", "unseen_elements", "too_many_sites",
           "in_training_data", "dft_value", "dft_id", "note"]


class MissingRunError(LookupError):
    """Some requested models have no usable stored run; the message says how to create them."""


#: Experiments whose runs are not offered for a reader's crystal: the CHGNet-embedding runs
#: of chapter 5.9 need the optional ``chgnet`` package at prediction time, and their
#: perovskite and MP -> perovskite runs predict another data set's target.
NOT_PREDICTED_MODULES = ("hybridlib.experiments.pretrained",)


def book_models() -> list[str]:
    """Every experiment of the book that predicts an MP crystal from its structure or formula
    (the registered ones; private ``_`` names and :data:`NOT_PREDICTED_MODULES` left out)."""
    from ..experiments import _lookup, available

    return [name for name in available() if not name.startswith("_")
            and _lookup(name).runner.__module__ not in NOT_PREDICTED_MODULES]


def _unit(target: str) -> str:
    from ..report.plots import TARGET_LABELS

    return TARGET_LABELS.get(target, ("", ""))[1]


@dataclass
class _Stored:
    """One stored run's model: its payload and the object that predicts."""

    name: str
    seed: int
    payload: ModelWeights
    model: object

    @property
    def targets(self) -> list[str]:
        return self.payload.meta["targets"]

    @property
    def needs_structure(self) -> bool:
        """Whether it reads the crystal structure (not only the composition)."""
        if self.payload.kind == "combination":
            return any(part.needs_structure for part in self.model)
        return self.payload.kind == "graph"


class Predictor:
    """The trained models of one profile, loaded once from the run registry.

    Args:
        models: experiment names (default: :func:`book_models`).
        profile: the profile whose runs to read (default: ``HYBRIDLIB_PROFILE``).
        registry: a :class:`~hybridlib.results.Registry` or its folder (default: the cache's).
        seeds: seeds whose runs, when stored, form each model's ensemble.

    Raises:
        KeyError: an unknown experiment name.
        MissingRunError: a requested model's run (at the profile's own seed) is missing,
            stores no weights or cannot be read; the message lists every such model.
    """

    def __init__(self, models: Sequence[str] | None = None,
                 profile: Profile | str | None = None, *,
                 registry: Registry | str | Path | None = None,
                 seeds: Iterable[int] = ENSEMBLE_SEEDS) -> None:
        from ..experiments import available

        self.profile = resolve_profile(profile)
        self.registry = registry if isinstance(registry, Registry) else Registry(registry)
        self.models = list(models) if models else book_models()
        unknown = [m for m in self.models if m not in available()]
        if unknown:
            raise KeyError(f"unknown models {unknown}; available: {book_models()}")
        self.seeds = list(dict.fromkeys([self.profile.seed, *seeds]))
        self._stored: dict[tuple[str, int], _Stored | str] = {}
        problems = [p for name in self.models
                    if isinstance(p := self._load(name, self.profile.seed), str)]
        if problems:
            raise MissingRunError(self._missing_message(problems))
        for name in self.models:
            for seed in self.seeds[1:]:
                self._load(name, seed)

    def __repr__(self) -> str:
        return (f"Predictor(profile={self.profile.name!r}, {len(self.models)} models, "
                f"registry={str(self.registry.root)!r})")

    # ------------------------------------------------------------------ loading

    def _seed_profile(self, seed: int) -> Profile:
        return self.profile if seed == self.profile.seed else self.profile.with_(seed=seed)

    def _load(self, name: str, seed: int) -> _Stored | str:
        """The stored model of run ``name`` at ``seed``, or a sentence saying what is missing."""
        if (name, seed) not in self._stored:
            self._stored[(name, seed)] = self._read(name, seed)
        return self._stored[(name, seed)]

    def _read(self, name: str, seed: int) -> _Stored | str:
        from ..experiments import experiment_key

        profile = self._seed_profile(seed)
        key = experiment_key(name, profile)
        run_file = self.registry.path(name, key)
        if not run_file.exists():
            return f"{name}: no run (key {key})"
        try:
            meta, arrays = self.registry.load_weights(name, key)
        except FileNotFoundError:
            return (f"{name}: its run {run_file} holds no trained weights (stored before "
                    f"weights were kept, or by a runner that attaches none); delete that "
                    f"file to train it again")
        except CacheCorruptedError as exc:
            return f"{name}: {exc}"
        payload = ModelWeights(meta, arrays)
        if payload.kind == "unavailable":
            return f"{name}: its weights could not be stored when it trained: {meta['reason']}"
        if payload.kind == "graph":
            return _Stored(name, seed, payload, load_graph_model(payload))
        if payload.kind == "forest":
            return _Stored(name, seed, payload, load_forests(payload))
        if payload.kind == "combination":
            parts = [self._load(component, seed) for component in meta["components"]]
            missing = [p for p in parts if isinstance(p, str)]
            if missing:
                return f"{name}: needs {'; '.join(missing)}"
            return _Stored(name, seed, payload, parts)
        return f"{name}: unknown kind of stored weights {payload.kind!r}"

    def _missing_message(self, problems: list[str]) -> str:
        names = " ".join(p.split(":", 1)[0] for p in problems)
        named = resolve_profile(self.profile.name) == self.profile
        how = (f"python -m hybridlib.experiments {names} --profile {self.profile.name}"
               if named else "hl.experiments.run(name, profile) with this profile")
        lines = "\n".join(f"  - {p}" for p in problems)
        return (f"{len(problems)} model(s) are not in the registry {self.registry.root} for "
                f"profile {self.profile.name!r} (prediction never trains):\n{lines}\n"
                f"Create them (this trains) with: {how}")

    # ------------------------------------------------------------------ inputs

    @property
    def graph_params(self) -> GraphParams:
        return self.profile.graph

    def check(self, material: Material) -> None:
        """Raise :class:`InputError` when the models' crystal graph cannot be built
        (an atom without neighbours within the largest cutoff)."""
        from ..graphs import IsolatedAtomError, neighbor_edges

        if material.structure is None:
            return
        try:
            neighbor_edges(material.structure, self.graph_params, material.name)
        except (IsolatedAtomError, ValueError) as exc:
            raise InputError(f"{material.name}: {exc}") from exc

    def materials(self, inputs) -> list[Material]:
        """Checked materials of one input, a list of inputs, or a dict naming each input."""
        if isinstance(inputs, dict):
            materials = []
            for name, item in inputs.items():
                found = read_inputs(item)
                materials += [replace(m, name=name if len(found) == 1 else f"{name}[{i + 1}]")
                              for i, m in enumerate(found)]
        else:
            items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            materials = [m for item in items for m in read_inputs(item)]
        for material in materials:
            self.check(material)
        return materials

    # ------------------------------------------------------------------ predicting

    def predict(self, inputs) -> pd.DataFrame:
        """Predictions of every model for one input or a list of inputs (see the module).

        Raises:
            InputError: an input is unreadable or not a usable crystal.
        """
        materials = self.materials(inputs)
        if not materials:
            raise InputError("no input given")
        structural = any(m.structure is not None for m in materials)
        names = [n for n in self.models
                 if structural or not self._stored[(n, self.profile.seed)].needs_structure]
        if not names:
            raise InputError(f"{materials[0].name}: a formula has no structure, and none of "
                             f"the models {self.models} reads composition only")
        memo: dict = {}
        rows = []
        for name in names:
            rows += self._rows(name, materials, memo)
        table = pd.DataFrame(rows, columns=COLUMNS)
        return table.astype({"prediction": float, "uncertainty": float, "dft_value": float})

    def _seed_models(self, name: str) -> list[_Stored]:
        return [s for seed in self.seeds if isinstance(s := self._load(name, seed), _Stored)]

    def _rows(self, name: str, materials: list[Material], memo: dict) -> list[dict]:
        runs = self._seed_models(name)
        base = runs[0]
        if base.needs_structure:
            materials = [m for m in materials if m.structure is not None]
        values = {run.seed: self._predictions(run, materials, memo) for run in runs}
        rows = []
        for target_index, target in enumerate(base.targets):
            for i, material in enumerate(materials):
                prediction, error = values[base.seed][0][i, target_index], values[base.seed][1].get(i)
                seeds = [v[0][i, target_index] for v in values.values()
                         if np.isfinite(v[0][i, target_index])]
                uncertainty, kind = np.nan, ""
                if len(seeds) > 1:
                    uncertainty, kind = float(np.std(seeds, ddof=1)), f"std over {len(seeds)} seeds"
                elif base.payload.kind == "combination":
                    parts = [self._predictions(p, materials, memo)[0][i, p.targets.index(target)]
                             for p in base.model]
                    uncertainty = float(np.max(parts) - np.min(parts))
                    kind = "spread of " + " and ".join(p.name for p in base.model)
                flags = _domain_flags(self._domain_payload(base), material, target)
                notes = [*flags.pop("notes"), *(f"CIF: {w}" for w in material.warnings)]
                if error:
                    notes.insert(0, error)
                rows.append({"input": material.name, "formula": material.formula,
                             "model": name, "target": target, "prediction": prediction,
                             "unit": _unit(target), "uncertainty": uncertainty,
                             "uncertainty_kind": kind, "n_seeds": len(seeds), **flags,
                             "note": "; ".join(notes)})
        return rows

    def _domain_payload(self, stored: _Stored) -> ModelWeights:
        """The payload describing a model's training split (a combination: its first part's)."""
        return stored.payload if stored.payload.kind != "combination" else \
            self._domain_payload(stored.model[0])

    def _predictions(self, stored: _Stored, materials: list[Material],
                     memo: dict) -> tuple[np.ndarray, dict[int, str]]:
        """``(values (n, T), {material index: error})`` of one stored model, memoised."""
        key = (stored.name, stored.seed, tuple(id(m) for m in materials))
        if key not in memo:
            kind = stored.payload.kind
            if kind == "combination":
                memo[key] = self._combine(stored, materials, memo)
            else:
                predict = self._forest_values if kind == "forest" else self._graph_values
                memo[key] = _one_by_one_on_error(lambda ms: predict(stored, ms, memo),
                                                 materials, len(stored.targets))
        return memo[key]

    def _forest_values(self, stored: _Stored, materials: list[Material],
                       memo: dict) -> np.ndarray:
        from ..features import composition_features

        preset = stored.payload.meta["preset"]
        X = composition_features([m.composition for m in materials], preset,
                                 impute_nan=False).to_numpy()
        return np.column_stack([stored.model[t].predict(X) for t in stored.targets])

    def _graph_values(self, stored: _Stored, materials: list[Material],
                      memo: dict) -> np.ndarray:
        meta = stored.payload.meta
        graphs = [self._graph(m, meta, memo) for m in materials]
        return stored.model.predict(graphs)

    def _graph(self, material: Material, meta: dict, memo: dict):
        from ..features import composition_features
        from ..graphs import crystal_graph

        key = ("graph", id(material), tuple(sorted(meta["graph"].items())),
               meta["line_graph"], meta["comp_preset"])
        if key not in memo:
            comp = None
            if meta["comp_preset"] is not None:
                comp = composition_features([material.composition], meta["comp_preset"],
                                            impute_nan=False).to_numpy()[0]
            memo[key] = crystal_graph(material.structure, params=GraphParams(**meta["graph"]),
                                      line_graph=meta["line_graph"], comp=comp,
                                      material_id=material.name)
        return memo[key]

    def _combine(self, stored: _Stored, materials: list[Material],
                 memo: dict) -> tuple[np.ndarray, dict[int, str]]:
        target = stored.targets[0]
        columns, errors = [], {}
        for part in stored.model:
            values, part_errors = self._predictions(part, materials, memo)
            columns.append(values[:, part.targets.index(target)])
            errors.update({i: f"{part.name}: {e}" for i, e in part_errors.items()})
        return combine(stored.payload.meta, columns)[:, None], errors


#: What a model raises for a material it cannot take (e.g. an element beyond its tables).
_PREDICTION_ERRORS = (ValueError, RuntimeError, KeyError, IndexError)


def _one_by_one_on_error(predict, materials: list[Material],
                         n_targets: int) -> tuple[np.ndarray, dict[int, str]]:
    """``predict(materials)``; when it fails, each material alone, NaN for those that fail."""
    if not materials:
        return np.empty((0, n_targets)), {}
    try:
        return np.asarray(predict(materials), dtype=float).reshape(-1, n_targets), {}
    except _PREDICTION_ERRORS:
        pass
    values, errors = np.full((len(materials), n_targets), np.nan), {}
    for i, material in enumerate(materials):
        try:
            values[i] = np.asarray(predict([material]), dtype=float).reshape(n_targets)
        except _PREDICTION_ERRORS as exc:
            errors[i] = f"not predicted: {exc}"
    return values, errors


def _domain_flags(payload: ModelWeights, material: Material, target: str) -> dict:
    """Out-of-domain flags of one material for the model described by ``payload``."""
    domain, arrays = payload.meta["domain"], payload.arrays
    unseen = sorted(set(material.elements) - set(domain["elements"]))
    n_sites = len(material.structure) if material.structure is not None else 0
    too_many = n_sites > domain["max_sites"]
    match = np.flatnonzero(arrays["domain.formula"] == material.formula)
    notes, dft_value, dft_id = [], np.nan, ""
    if unseen:
        notes.append(f"elements absent from its training split: {', '.join(unseen)}")
    if too_many:
        notes.append(f"{n_sites} sites, more than any training cell ({domain['max_sites']})")
    if len(match):
        energies = arrays.get("domain.e_form")
        ground = match[int(np.argmin(energies[match]))] if energies is not None else match[0]
        dft_id = str(arrays["domain.material_id"][ground])
        if f"domain.{target}" in arrays:
            dft_value = float(arrays[f"domain.{target}"][ground])
        notes.append(f"formula in its training split ({len(match)} polymorph(s); DFT value of "
                     f"the lowest-energy one, {dft_id}, in dft_value)")
    return {"unseen_elements": ", ".join(unseen), "too_many_sites": too_many,
            "in_training_data": bool(len(match)), "dft_value": dft_value, "dft_id": dft_id,
            "notes": notes}


def predict(inputs, models: Sequence[str] | None = None, profile: Profile | str | None = None,
            *, registry: Registry | str | Path | None = None,
            seeds: Iterable[int] = ENSEMBLE_SEEDS) -> pd.DataFrame:
    """Predictions of the book's trained models for a crystal (see the module docstring).

    Args:
        inputs: a pymatgen ``Structure``, CIF text, a CIF file path, a formula (composition
            models only), a list of them, or a dict ``{name: input}`` naming each one.
        models: experiment names (default: every model of the book).
        profile: whose runs to read (default: ``HYBRIDLIB_PROFILE``).
        registry: the run registry (default: the cache's).
        seeds: seeds whose stored runs form each model's ensemble.

    Returns:
        The table described in the module docstring (:data:`COLUMNS`).

    Raises:
        InputError: bad input (the message names the input and the problem).
        MissingRunError: a requested model is not in the registry (nothing is trained).
    """
    return Predictor(models, profile, registry=registry, seeds=seeds).predict(inputs)


class _CallableModule(types.ModuleType):
    """Lets ``hl.predict(...)`` call :func:`predict` while ``hl.predict.Predictor`` etc. work."""

    def __call__(self, *args, **kwargs) -> pd.DataFrame:
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
