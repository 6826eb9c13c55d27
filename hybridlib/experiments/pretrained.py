"""Experiments of chapter 5.9: a frozen pretrained embedding (CHGNet) fused with Magpie.

On the book's MP table and split (the same rows as every other chapter):

* ``rf_chgnet``: random forest on the 64-number CHGNet embedding alone (e_form, band gap).
* ``rf_magpie_chgnet``: random forest on Magpie (132) ⊕ CHGNet (64) (e_form, band gap).
* ``mlp_magpie_chgnet``: the early-fusion MLP of chapter 5.2 with the *frozen* embedding
  where the trained CGCNN was (:class:`FrozenEmbedding`), same head, same training loop.
* ``stacking_chgnet``: the ridge stacking of chapter 5.3 with a third input, the forest on
  the embedding (weights fitted on validation predictions).

On the Castelli perovskites (``heat_all``, eV per 5-atom cell; trained and tested within
the perovskites, split like the MP sample and sized by :data:`PEROVSKITE_SIZES`):
``perov_rf_magpie``, ``perov_rf_chgnet``, ``perov_rf_magpie_chgnet``, ``perov_cgcnn`` (the
book's CGCNN trained from scratch) and ``perov_mlp_magpie_chgnet``.

Distribution shift: ``shift_rf_magpie`` / ``shift_rf_magpie_chgnet`` train on the MP
training split (e_form, eV/atom) and predict the perovskites. The energies are not on one
scale (RPBE vs PBE/PBE+U with MP's corrections, different elemental references, per cell
vs per atom), so the prediction is multiplied by 5 and shifted by one constant per anion
group (:func:`anion_group`) estimated on perovskite *training* rows only: the most
favourable comparison a few numbers allow. Band gaps are not compared at all (GLLB-SC vs
PBE, and most perovskite gaps are a bare 0).

Statistics: :func:`paired_bootstrap` and :func:`comparison_table` (MAE differences on the
same test rows with percentile intervals); :func:`structure_overlap` (which materials of
one table reappear in another, by formula and ``StructureMatcher``).
Introduced in: chapter 5.9.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ..config import Profile, resolve_profile
from ..data.perovskites import SITES_PER_CELL, load_perovskites
from . import Frame, Outcome, RunContext, register
from .common import composition_matrix, predictions_frame, split_frames
from .fusion import FUSION_TARGET, RF_TARGETS, cgcnn, late_fusion_table, rf_magpie

__all__ = ["PEROVSKITE_TARGET", "PEROVSKITE_SIZES", "FEATURE_SETS", "perovskite_size",
           "perovskite_frame", "feature_matrix", "FrozenEmbedding", "anion_group",
           "group_offsets", "paired_bootstrap", "comparison_table", "verdict",
           "structure_overlap"]

#: Target of the perovskite experiments: heat of formation of the 5-atom cell (eV, RPBE).
PEROVSKITE_TARGET = "heat_all"
#: Perovskites per profile (``None``: all 7,572); other profile names use ``n_materials``.
PEROVSKITE_SIZES: dict[str, int | None] = {"ci": 600, "book": None, "full": None}
#: Inputs of each feature set, in column order.
FEATURE_SETS = {"magpie": ("magpie",), "chgnet": ("chgnet",),
                "magpie_chgnet": ("magpie", "chgnet")}
ANIONS = ("F", "N", "O", "S")


# ----------------------------------------------------------------------- data and features

def perovskite_size(profile: Profile | str | None = None) -> int | None:
    """Number of perovskites a profile uses (:data:`PEROVSKITE_SIZES`)."""
    profile = resolve_profile(profile)
    return PEROVSKITE_SIZES.get(profile.name, profile.data.n_materials)


def perovskite_frame(profile: Profile | str | None = None) -> Frame:
    """The perovskite sample, subsampled and split as the profile says, target ``heat_all``."""
    from ..data import assign_splits, subsample

    profile = resolve_profile(profile)
    table = subsample(load_perovskites(), perovskite_size(profile), profile.seed)
    return Frame(assign_splits(table, profile), (PEROVSKITE_TARGET,))


def feature_matrix(df: pd.DataFrame, inputs: Sequence[str]) -> np.ndarray:
    """Features ``(len(df), D)``: ``"magpie"`` (132, NaN kept) and/or ``"chgnet"`` (64)."""
    from ..features.pretrained import chgnet_embeddings
    from ..train import quiet_progress

    blocks = []
    for name in inputs:
        if name == "magpie":
            blocks.append(composition_matrix(df, "magpie"))
        elif name == "chgnet":
            blocks.append(chgnet_embeddings(df["structure"], df["material_id"],
                                            progress=not quiet_progress()).astype(float))
        else:
            raise ValueError(f"unknown input {name!r}; use 'magpie' or 'chgnet'")
    return np.hstack(blocks)


def _perovskite_context(ctx: RunContext) -> RunContext:
    return dataclasses.replace(ctx, frame=perovskite_frame(ctx.profile))


# ----------------------------------------------------------------------- random forests

def _forest(ctx: RunContext, features: str) -> Outcome:
    """One random forest per target on a feature set of :data:`FEATURE_SETS`."""
    from ..models.baselines import random_forest

    targets = RF_TARGETS if ctx.frame is None else ctx.frame.targets
    frames = split_frames(ctx.table())
    X = {s: feature_matrix(f, FEATURE_SETS[features]) for s, f in frames.items()}
    predictions, seconds = {s: [] for s in frames}, 0.0
    for target in targets:
        start = time.perf_counter()
        model = random_forest(ctx.profile).fit(X["train"], frames["train"][target].to_numpy(float))
        seconds += time.perf_counter() - start
        model.set_params(forest__n_jobs=1)  # bit-identical predictions
        for split in frames:
            predictions[split].append(model.predict(X[split]))
    predictions = {s: np.stack(p, axis=1) for s, p in predictions.items()}
    return Outcome(predictions=predictions_frame(frames, predictions, targets),
                   train_seconds=seconds,
                   extra={"features": features, "n_features": int(X["train"].shape[1]),
                          "n_train": len(frames["train"])})


@register("rf_chgnet")
def rf_chgnet(ctx: RunContext) -> Outcome:
    """Random forest on the frozen CHGNet embedding (64) alone."""
    return _forest(ctx, "chgnet")


@register("rf_magpie_chgnet")
def rf_magpie_chgnet(ctx: RunContext) -> Outcome:
    """Random forest on Magpie (132) ⊕ the frozen CHGNet embedding (64)."""
    return _forest(ctx, "magpie_chgnet")


# ----------------------------------------------------------------------- frozen early fusion

class FrozenEmbedding(nn.Module):
    r"""A structure branch with no trainable weights: precomputed embeddings, standardized.

    It stands where :class:`~hybridlib.models.cgcnn.CGCNN` stands in
    :class:`~hybridlib.models.fusion.EarlyFusion` and returns
    :math:`(\mathbf{e} - \boldsymbol\mu) / \mathbf{s}` for the embedding ``batch.pretrained``
    of each material, with the training set's mean and standard deviation.

    Args:
        mean, std: training statistics ``(E,)`` of the embedding.

    Shapes:
        - **input:** a batch with ``pretrained`` (B, E)
        - **output:** :meth:`embed` (B, E)
    """

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean.shape != std.shape or not (std > 0).all():
            raise ValueError("embedding mean and std need the same shape and std > 0")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    @classmethod
    def from_data(cls, data: Sequence) -> "FrozenEmbedding":
        """Statistics from the training materials' ``pretrained`` fields."""
        values = torch.cat([d.pretrained.reshape(1, -1) for d in data]).double()
        std = values.std(dim=0, unbiased=False)
        return cls(values.mean(dim=0), torch.where(std > 0, std, torch.ones_like(std)))

    @property
    def embedding_dim(self) -> int:
        return self.mean.shape[0]

    def reset_parameters(self) -> None:
        """Nothing to reset: the embedding is frozen."""

    def embed(self, batch) -> Tensor:
        values = batch.pretrained
        if values.ndim != 2 or values.shape[1] != self.embedding_dim:
            raise ValueError(f"batch.pretrained has shape {tuple(values.shape)}, expected "
                             f"(batch, {self.embedding_dim})")
        return (values - self.mean) / self.std

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.embedding_dim})"


def _feature_data(df: pd.DataFrame, targets: Sequence[str]) -> list:
    """One PyG ``Data`` per material with ``comp`` (Magpie), ``pretrained`` (CHGNet), ``y``."""
    from torch_geometric.data import Data

    comp = torch.tensor(feature_matrix(df, ("magpie",)), dtype=torch.float32)
    emb = torch.tensor(feature_matrix(df, ("chgnet",)), dtype=torch.float32)
    y = torch.tensor(df[list(targets)].to_numpy(float), dtype=torch.float32)
    return [Data(comp=comp[i:i + 1], pretrained=emb[i:i + 1], y=y[i:i + 1], num_nodes=1)
            for i in range(len(df))]


def _frozen_mlp(ctx: RunContext) -> Outcome:
    from ..models.fusion import EarlyFusion, composition_stats
    from ..train import TrainConfig, fit

    targets = ctx.targets((FUSION_TARGET,))
    frames = split_frames(ctx.table())
    data = {s: _feature_data(f, targets) for s, f in frames.items()}
    torch.manual_seed(ctx.profile.training.seed)
    model = EarlyFusion(FrozenEmbedding.from_data(data["train"]),
                        *composition_stats(data["train"]), n_targets=len(targets))
    result = fit(model, data["train"], data["val"], TrainConfig.from_profile(ctx.profile),
                 checkpoint_dir=ctx.checkpoints)
    predictions = {s: result.predict(data[s]) for s in ("val", "test")}
    return Outcome(
        predictions=predictions_frame(frames, predictions, targets),
        train_seconds=result.train_seconds,
        extra={"history": result.history, "best_epoch": result.best_epoch,
               "n_train": len(data["train"]), "epochs_run": len(result.history)})


@register("mlp_magpie_chgnet")
def mlp_magpie_chgnet(ctx: RunContext) -> Outcome:
    """Early-fusion MLP (chapter 5.2's head) on Magpie ⊕ the frozen CHGNet embedding."""
    return _frozen_mlp(ctx)


# ----------------------------------------------------------------------- late fusion

@register("stacking_chgnet", requires=("rf_magpie", "cgcnn", "rf_chgnet"))
def stacking_chgnet(ctx: RunContext) -> Outcome:
    """Ridge on the validation predictions of RF (Magpie), CGCNN and RF (CHGNet)."""
    from ..models.late_fusion import Stacking

    target = ctx.targets((FUSION_TARGET,))[0]
    table = late_fusion_table(ctx.run("rf_magpie").predictions,
                              ctx.run("cgcnn").predictions, target)
    embedding = ctx.run("rf_chgnet").predictions[["material_id", "split", f"{target}_pred"]]
    table = table.merge(embedding.rename(columns={f"{target}_pred": "emb"}),
                        on=["material_id", "split"], validate="one_to_one")
    inputs = ["rf", "gnn", "emb"]
    val = table[table["split"] == "val"]
    stacker = Stacking().fit(val[inputs].to_numpy(), val["y"].to_numpy())
    out = table[table["split"].isin(["val", "test"])].reset_index(drop=True)
    frame = pd.DataFrame({"material_id": out["material_id"], "split": out["split"],
                          target: out["y"], f"{target}_pred": stacker.predict(out[inputs].to_numpy()),
                          **{f"{target}_{name}": out[name] for name in inputs}})
    return Outcome(predictions=frame, train_seconds=0.0, extra={
        "inputs": inputs, "coef": stacker.coef_.tolist(), "intercept": stacker.intercept_,
        "penalty": float(stacker.model_.alpha_)})


# ----------------------------------------------------------------------- perovskites

@register("perov_rf_magpie")
def perov_rf_magpie(ctx: RunContext) -> Outcome:
    """The book's random forest on Magpie, trained and tested within the perovskites."""
    return rf_magpie(_perovskite_context(ctx))


@register("perov_rf_chgnet")
def perov_rf_chgnet(ctx: RunContext) -> Outcome:
    """Random forest on the CHGNet embedding, within the perovskites."""
    return _forest(_perovskite_context(ctx), "chgnet")


@register("perov_rf_magpie_chgnet")
def perov_rf_magpie_chgnet(ctx: RunContext) -> Outcome:
    """Random forest on Magpie ⊕ CHGNet, within the perovskites."""
    return _forest(_perovskite_context(ctx), "magpie_chgnet")


@register("perov_cgcnn")
def perov_cgcnn(ctx: RunContext) -> Outcome:
    """The book's CGCNN trained from scratch on the perovskites (structure, no pretraining)."""
    return cgcnn(_perovskite_context(ctx))


@register("perov_mlp_magpie_chgnet")
def perov_mlp_magpie_chgnet(ctx: RunContext) -> Outcome:
    """The frozen-embedding early-fusion MLP, within the perovskites."""
    return _frozen_mlp(_perovskite_context(ctx))


# ----------------------------------------------------------------------- distribution shift

def anion_group(structure) -> str:
    """The anions of a perovskite cell, e.g. ``"O3"``, ``"N1O2"``, ``"F1N1O1"``."""
    composition = structure.composition
    parts = [f"{a}{int(round(composition[a]))}" for a in ANIONS if composition[a] > 0]
    return "".join(parts) or "none"


def group_offsets(residuals: np.ndarray, groups: Sequence[str]) -> dict[str, float]:
    """Median residual per group (the constant that best aligns two energy scales in MAE).

    ``"*"`` holds the median over all rows, for groups missing from the rows given.
    """
    frame = pd.DataFrame({"r": np.asarray(residuals, dtype=float), "g": list(groups)})
    offsets = frame.groupby("g")["r"].median().to_dict()
    offsets["*"] = float(frame["r"].median())
    return {str(k): float(v) for k, v in offsets.items()}


def _nearest_distances(reference: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Distance of each query row to its nearest reference row, in standardized features."""
    from sklearn.impute import SimpleImputer
    from sklearn.neighbors import NearestNeighbors
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scale = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()).fit(reference)
    neighbours = NearestNeighbors(n_neighbors=1).fit(scale.transform(reference))
    return neighbours.kneighbors(scale.transform(query))[0][:, 0]


def _shift(ctx: RunContext, features: str) -> Outcome:
    from ..models.baselines import random_forest

    inputs = FEATURE_SETS[features]
    mp = split_frames(ctx.table())
    perov = split_frames(perovskite_frame(ctx.profile).table)
    X_mp = feature_matrix(mp["train"], inputs)
    start = time.perf_counter()
    model = random_forest(ctx.profile).fit(X_mp, mp["train"][FUSION_TARGET].to_numpy(float))
    seconds = time.perf_counter() - start
    model.set_params(forest__n_jobs=1)
    X = {s: feature_matrix(f, inputs) for s, f in perov.items()}
    raw = {s: SITES_PER_CELL * model.predict(X[s]) for s in perov}
    groups = {s: [anion_group(x) for x in f["structure"]] for s, f in perov.items()}
    offsets = group_offsets(perov["train"][PEROVSKITE_TARGET].to_numpy(float) - raw["train"],
                            groups["train"])
    aligned = {s: raw[s] + np.array([offsets.get(g, offsets["*"]) for g in groups[s]])
               for s in ("val", "test")}
    distances = {"mp_test": _nearest_distances(X_mp, feature_matrix(mp["test"], inputs)),
                 "perovskite_test": _nearest_distances(X_mp, X["test"])}
    return Outcome(
        predictions=predictions_frame(perov, aligned, (PEROVSKITE_TARGET,),
                                      columns={"raw_per_cell": raw}),
        train_seconds=seconds,
        extra={"features": features, "offsets": offsets, "n_train_mp": len(mp["train"]),
               "nn_distance_median": {k: float(np.median(v)) for k, v in distances.items()}})


@register("shift_rf_magpie")
def shift_rf_magpie(ctx: RunContext) -> Outcome:
    """RF (Magpie) trained on MP e_form, applied to the perovskites (aligned per anion group)."""
    return _shift(ctx, "magpie")


@register("shift_rf_magpie_chgnet")
def shift_rf_magpie_chgnet(ctx: RunContext) -> Outcome:
    """RF (Magpie ⊕ CHGNet) trained on MP e_form, applied to the perovskites (aligned)."""
    return _shift(ctx, "magpie_chgnet")


# ----------------------------------------------------------------------- statistics

def paired_bootstrap(y, pred_a, pred_b, *, n_boot: int = 2000, level: float = 0.95,
                     seed: int = 0) -> dict[str, float]:
    """MAE of two models on the same rows, and of their difference, with bootstrap intervals.

    The rows are resampled with replacement ``n_boot`` times and both models are scored on
    the same resample, so the interval of ``diff = MAE_a - MAE_b`` reflects how much the
    comparison depends on which materials happen to be in the test set (positive: b is
    better). ``gain = 1 - MAE_b / MAE_a`` is the relative improvement of b over a.

    Returns:
        ``mae_a, mae_b, diff, gain`` and ``*_low`` / ``*_high`` percentile bounds, and ``n``.
    """
    y, pred_a, pred_b = (np.asarray(v, dtype=float).reshape(-1) for v in (y, pred_a, pred_b))
    if not len(y) == len(pred_a) == len(pred_b):
        raise ValueError(f"unequal lengths {len(y)}, {len(pred_a)}, {len(pred_b)}")
    keep = np.isfinite(y) & np.isfinite(pred_a) & np.isfinite(pred_b)
    if keep.sum() < 2:
        raise ValueError("paired_bootstrap needs at least two rows with finite values")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    err_a, err_b = np.abs(pred_a - y)[keep], np.abs(pred_b - y)[keep]
    rows = np.random.default_rng(seed).integers(0, len(err_a), size=(n_boot, len(err_a)))
    boot = {"mae_a": err_a[rows].mean(axis=1), "mae_b": err_b[rows].mean(axis=1)}
    boot["diff"] = boot["mae_a"] - boot["mae_b"]
    boot["gain"] = 1.0 - boot["mae_b"] / boot["mae_a"]
    point = {"mae_a": err_a.mean(), "mae_b": err_b.mean()}
    point["diff"] = point["mae_a"] - point["mae_b"]
    point["gain"] = 1.0 - point["mae_b"] / point["mae_a"]
    tail = 100 * (1 - level) / 2
    out: dict[str, float] = {"n": int(keep.sum())}
    for name, values in boot.items():
        out[name] = float(point[name])
        out[f"{name}_low"], out[f"{name}_high"] = map(float, np.percentile(values, [tail, 100 - tail]))
    return out


def comparison_table(pairs: Iterable[tuple[str, str]], target: str,
                     profile: Profile | str | None = None, *, n_boot: int = 2000,
                     seed: int = 0, registry=None) -> pd.DataFrame:
    """Paired comparisons ``(baseline, candidate)`` of stored runs on their common test rows.

    Runs are read from ``registry`` (default: the book's), trained first if absent.

    Returns:
        One row per pair: ``baseline, candidate, n, mae_a, mae_b, diff, gain`` with their
        ``_low`` / ``_high`` bounds (see :func:`paired_bootstrap`).
    """
    from . import run

    rows = []
    for baseline, candidate in pairs:
        parts = []
        for name in (baseline, candidate):
            test = run(name, profile, registry=registry).predictions.query("split == 'test'")
            parts.append(test[["material_id", target, f"{target}_pred"]])
        both = parts[0].merge(parts[1], on="material_id", suffixes=("_a", "_b"),
                              validate="one_to_one")
        if not np.allclose(both[f"{target}_a"], both[f"{target}_b"]):
            raise ValueError(f"{baseline} and {candidate} disagree on the test targets")
        stats = paired_bootstrap(both[f"{target}_a"], both[f"{target}_pred_a"],
                                 both[f"{target}_pred_b"], n_boot=n_boot, seed=seed)
        rows.append({"baseline": baseline, "candidate": candidate, **stats})
    return pd.DataFrame(rows)


def verdict(low: float, high: float) -> str:
    """How a ``diff = MAE_a - MAE_b`` interval reads, in the book's words (b vs a)."""
    if low > 0:
        return "改善した（差の区間が 0 より上）"
    if high < 0:
        return "悪化した（差の区間が 0 より下）"
    return "はっきりした差はなかった（差の区間が 0 をまたぐ）"


def structure_overlap(query: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Materials of ``query`` that reappear in ``reference``: same reduced formula and
    the same crystal under pymatgen's ``StructureMatcher`` (default tolerances, volumes
    scaled, so the same crystal relaxed with another functional still matches).

    Returns:
        ``query_id, reference_id, formula, same_structure`` for every formula match.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher()
    by_formula = reference.groupby("formula")
    rows = []
    for _, row in query[query["formula"].isin(set(reference["formula"]))].iterrows():
        for _, other in by_formula.get_group(row["formula"]).iterrows():
            rows.append({"query_id": row["material_id"], "reference_id": other["material_id"],
                         "formula": row["formula"],
                         "same_structure": bool(matcher.fit(row["structure"], other["structure"]))})
    return pd.DataFrame(rows, columns=["query_id", "reference_id", "formula", "same_structure"])
