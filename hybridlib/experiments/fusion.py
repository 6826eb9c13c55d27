"""Experiments of chapters 5.1-5.3: baselines, CGCNN, early fusion and late fusion.

* ``rf_magpie`` / ``rf_ward``: random forest on Magpie (132) / Ward 2016 (145) features,
  one forest per target (formation energy and band gap).
* ``cgcnn``: CGCNN on formation energy.
* ``early_fusion`` / ``attention_fusion``: Magpie ⊕ CGCNN embedding, concatenated or mixed
  by per-material attention weights (stored as ``w_composition`` / ``w_structure``).
* the early-fusion ablation of chapter 5.2, each one change to ``early_fusion``:
  ``early_fusion_no_comp`` (zeros instead of the composition: the control),
  ``early_fusion_no_dropout``, ``early_fusion_branch_norm`` (batch norm on the GNN
  embedding), ``residual_fusion`` (CGCNN's own prediction + an MLP of the composition).
* ``late_fusion_val``: blend weight α of RF vs CGCNN chosen on validation predictions.
* ``late_fusion_train``: α chosen on training predictions, as the seed text does (a leak).
* ``stacking``: ridge meta-model on the validation predictions of RF and CGCNN.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import functools
import time

import numpy as np
import pandas as pd
import torch

from .. import weights
from ..config import Profile
from . import Outcome, RunContext, register
from .common import (batch_norm_monitor, composition_matrix, fit_graph_model,
                     predictions_frame, split_frames)

__all__ = ["FUSION_TARGET", "late_fusion_table", "choose_alpha", "blend_table",
           "stack_table"]

#: The target of the fusion experiments (the seed text's running example).
FUSION_TARGET = "e_form"
RF_TARGETS = ("e_form", "band_gap")
#: The runs late fusion and stacking combine (the order of their weights).
COMPONENTS = ("rf_magpie", "cgcnn")


# ----------------------------------------------------------------------- baselines

def _random_forest_outcome(ctx: RunContext, preset: str) -> Outcome:
    from ..models.baselines import random_forest

    profile = ctx.profile
    targets = RF_TARGETS if ctx.frame is None else ctx.frame.targets
    frames = split_frames(ctx.table())
    X = {s: composition_matrix(f, preset) for s, f in frames.items()}
    predictions, seconds, models = {s: [] for s in frames}, 0.0, {}
    for target in targets:
        start = time.perf_counter()
        model = random_forest(profile).fit(X["train"], frames["train"][target].to_numpy(float))
        seconds += time.perf_counter() - start
        model.set_params(forest__n_jobs=1)  # bit-identical predictions
        models[target] = model
        for split in frames:
            predictions[split].append(model.predict(X[split]))
    predictions = {s: np.stack(p, axis=1) for s, p in predictions.items()}
    return Outcome(
        predictions=predictions_frame(frames, predictions, targets), train_seconds=seconds,
        extra={"preset": preset, "n_features": int(X["train"].shape[1]),
               "n_train": len(frames["train"]),
               "n_missing_train_values": int(np.isnan(X["train"]).sum())},
        weights=weights.forest_weights(models, preset, frames["train"], X["val"]))


@register("rf_magpie")
def rf_magpie(ctx: RunContext) -> Outcome:
    """Random forest (seed: 100 trees, depth 30) on the 132 Magpie features."""
    return _random_forest_outcome(ctx, "magpie")


@register("rf_ward")
def rf_ward(ctx: RunContext) -> Outcome:
    """Random forest on the 145 features of Ward et al. (2016)."""
    return _random_forest_outcome(ctx, "ward2016")


# ----------------------------------------------------------------------- graph models

def _cgcnn(profile: Profile):
    from ..models.cgcnn import CGCNN

    return CGCNN(hidden=profile.model.hidden, n_conv=profile.model.n_conv, n_targets=1)


@register("cgcnn")
def cgcnn(ctx: RunContext) -> Outcome:
    """CGCNN on formation energy (training-set predictions kept for late fusion; the scale
    of its batch norms' inputs in the history, for chapter 5.4's comparison)."""
    outcome, _ = fit_graph_model(ctx, lambda train: _cgcnn(ctx.profile), (FUSION_TARGET,),
                                 train_predictions=True,
                                 monitor=functools.partial(batch_norm_monitor,
                                                           recalibrate=False))
    return outcome


def _early_fusion(ctx: RunContext, **options) -> Outcome:
    from ..models.fusion import EarlyFusion, composition_stats

    outcome, _ = fit_graph_model(
        ctx, lambda train: EarlyFusion(_cgcnn(ctx.profile), *composition_stats(train),
                                       **options),
        (FUSION_TARGET,), comp_preset="magpie")
    outcome.extra["options"] = options
    return outcome


@register("early_fusion")
def early_fusion(ctx: RunContext) -> Outcome:
    """Standardized Magpie features ⊕ CGCNN embedding -> MLP (128, 64; dropout 0.2)."""
    return _early_fusion(ctx)


@register("early_fusion_no_comp")
def early_fusion_no_comp(ctx: RunContext) -> Outcome:
    """The ablation's control: ``early_fusion`` fed zeros instead of the composition."""
    return _early_fusion(ctx, use_composition=False)


@register("early_fusion_no_dropout")
def early_fusion_no_dropout(ctx: RunContext) -> Outcome:
    """``early_fusion`` without dropout in its head."""
    return _early_fusion(ctx, dropout=0.0)


@register("early_fusion_branch_norm")
def early_fusion_branch_norm(ctx: RunContext) -> Outcome:
    """``early_fusion`` with a batch norm on the CGCNN embedding (both branches standardized)."""
    return _early_fusion(ctx, branch_norm=True)


@register("residual_fusion")
def residual_fusion(ctx: RunContext) -> Outcome:
    """ŷ = CGCNN(G) + g(c̃): a composition MLP corrects CGCNN's own prediction."""
    from ..models.fusion import ResidualFusion, composition_stats

    outcome, _ = fit_graph_model(
        ctx, lambda train: ResidualFusion(_cgcnn(ctx.profile), *composition_stats(train)),
        (FUSION_TARGET,), comp_preset="magpie")
    return outcome


def _source_weight_columns(model, graphs) -> dict[str, np.ndarray]:
    from torch_geometric.loader import DataLoader

    device = next(model.parameters()).device
    model.eval()
    weights = torch.cat([model.source_weights(b.to(device)).cpu()
                         for b in DataLoader(graphs, batch_size=256)]).numpy()
    return {f"w_{source}": weights[:, k] for k, source in enumerate(model.SOURCES)}


@register("attention_fusion")
def attention_fusion(ctx: RunContext) -> Outcome:
    """Composition and structure mixed by learned per-material softmax weights."""
    from ..models.fusion import AttentionFusion, composition_stats

    outcome, _ = fit_graph_model(
        ctx, lambda train: AttentionFusion(_cgcnn(ctx.profile), *composition_stats(train)),
        (FUSION_TARGET,), comp_preset="magpie", columns=_source_weight_columns)
    return outcome


# ----------------------------------------------------------------------- late fusion

def late_fusion_table(rf_predictions: pd.DataFrame, gnn_predictions: pd.DataFrame,
                      target: str = FUSION_TARGET) -> pd.DataFrame:
    """RF and GNN predictions of the same materials side by side (joined on id and split).

    Returns:
        ``material_id, split, y, rf, gnn``.
    """
    keep = ["material_id", "split", target, f"{target}_pred"]
    table = rf_predictions[keep].merge(
        gnn_predictions[keep], on=["material_id", "split"], suffixes=("_rf", "_gnn"),
        validate="one_to_one")
    table = table.rename(columns={f"{target}_rf": "y", f"{target}_pred_rf": "rf",
                                  f"{target}_pred_gnn": "gnn"})
    return table[["material_id", "split", "y", "rf", "gnn"]]


def choose_alpha(table: pd.DataFrame, split: str) -> tuple[float, np.ndarray, np.ndarray]:
    """Blend weight of the RF chosen on one split's rows: ``(alpha, alphas, mae_curve)``."""
    from ..models.late_fusion import blend_alpha

    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"no {split!r} rows to choose alpha on")
    alphas = np.linspace(0.0, 1.0, 101)
    alpha, curve = blend_alpha(rows["rf"], rows["gnn"], rows["y"], alphas)
    return alpha, alphas, curve


def blend_table(table: pd.DataFrame, alpha: float, target: str = FUSION_TARGET) -> pd.DataFrame:
    """Val and test rows with the blended prediction, in the registry's layout."""
    from ..models.late_fusion import blend

    out = table[table["split"].isin(["val", "test"])].reset_index(drop=True)
    return pd.DataFrame({"material_id": out["material_id"], "split": out["split"],
                         target: out["y"], f"{target}_pred": blend(out["rf"], out["gnn"], alpha),
                         f"{target}_rf": out["rf"], f"{target}_gnn": out["gnn"]})


def _base_table(ctx: RunContext) -> tuple[pd.DataFrame, str]:
    target = ctx.targets((FUSION_TARGET,))[0]
    return late_fusion_table(ctx.run("rf_magpie").predictions,
                             ctx.run("cgcnn").predictions, target), target


def _late_fusion(ctx: RunContext, choose_on: str) -> Outcome:
    table, target = _base_table(ctx)
    alpha, alphas, curve = choose_alpha(table, choose_on)
    frame = blend_table(table, alpha, target)
    test = table[table["split"] == "test"]
    test_curve = [float(np.abs(a * test["rf"] + (1 - a) * test["gnn"] - test["y"]).mean())
                  for a in alphas]
    return Outcome(predictions=frame, train_seconds=0.0, extra={
        "alpha": alpha, "chosen_on": choose_on, "alphas": alphas.tolist(),
        "mae_curve": curve.tolist(), "test_mae_curve": test_curve},
        weights=weights.combination_weights(COMPONENTS, [alpha, 1.0 - alpha], 0.0, target))


@register("late_fusion_val", requires=("rf_magpie", "cgcnn"))
def late_fusion_val(ctx: RunContext) -> Outcome:
    """α of ŷ = α ŷ_RF + (1-α) ŷ_CGCNN chosen on validation predictions (the right way).

    ``extra["test_mae_curve"]`` is the test MAE of every α, for the chapter's figure only:
    it plays no part in the choice.
    """
    return _late_fusion(ctx, "val")


@register("late_fusion_train", requires=("rf_magpie", "cgcnn"))
def late_fusion_train(ctx: RunContext) -> Outcome:
    """α chosen on training predictions, as the seed text does: a leak.

    The random forest nearly reproduces its training targets, so on training rows the blend
    leans towards it. ``extra`` also reports the forest's training MAE in-sample and out of
    fold (5-fold, training set only) to show how optimistic the in-sample fit is.
    """
    from ..models.baselines import out_of_fold_predict, random_forest

    profile = ctx.profile
    outcome = _late_fusion(ctx, "train")
    target = ctx.targets((FUSION_TARGET,))[0]
    frames = split_frames(ctx.table())
    y = frames["train"][target].to_numpy(float)
    start = time.perf_counter()
    oof = out_of_fold_predict(lambda: random_forest(profile),
                              composition_matrix(frames["train"], "magpie"), y,
                              seed=profile.training.seed)
    rf_in_sample = ctx.run("rf_magpie").arrays(target, "train")[1]
    outcome.train_seconds = time.perf_counter() - start
    outcome.extra.update(rf_train_mae_in_sample=float(np.abs(rf_in_sample - y).mean()),
                         rf_train_mae_out_of_fold=float(np.abs(oof - y).mean()))
    return outcome


def stack_table(table: pd.DataFrame, target: str = FUSION_TARGET) -> tuple[pd.DataFrame, dict]:
    """Ridge meta-model fitted on the validation rows, applied to val and test.

    Only validation targets are read; test targets are copied to the output untouched.

    Returns:
        The predictions frame and ``{"coef", "intercept", "penalty"}``.
    """
    from ..models.late_fusion import Stacking

    val = table[table["split"] == "val"]
    stacker = Stacking().fit(val[["rf", "gnn"]].to_numpy(), val["y"].to_numpy())
    out = table[table["split"].isin(["val", "test"])].reset_index(drop=True)
    frame = pd.DataFrame({"material_id": out["material_id"], "split": out["split"],
                          target: out["y"],
                          f"{target}_pred": stacker.predict(out[["rf", "gnn"]].to_numpy()),
                          f"{target}_rf": out["rf"], f"{target}_gnn": out["gnn"]})
    return frame, {"coef": stacker.coef_.tolist(), "intercept": stacker.intercept_,
                   "penalty": float(stacker.model_.alpha_)}


@register("stacking", requires=("rf_magpie", "cgcnn"))
def stacking(ctx: RunContext) -> Outcome:
    """Stacked generalisation: ridge on (ŷ_RF, ŷ_CGCNN) fitted on validation predictions.

    Its validation metrics are in-sample for the meta-model (optimistic); the test metrics
    are honest.
    """
    table, target = _base_table(ctx)
    frame, details = stack_table(table, target)
    return Outcome(predictions=frame, train_seconds=0.0, extra=details,
                   weights=weights.combination_weights(COMPONENTS, details["coef"],
                                                       details["intercept"], target,
                                                       matrix_product=True))
