"""The page view of the predictions: a side-by-side table and a notebook widget.

:func:`side_by_side` turns the long table of :func:`hybridlib.predict.predict` into one row
per model and target and one column per crystal (the static table of the rendered book);
:func:`explorer` is the ipywidgets version for a running kernel: pick a well-known crystal
or paste a CIF, and the table appears. :func:`page_table`, :func:`flag_table` and
:func:`spread_table` are the book's static views of the same table (Japanese headers with
units, three decimals, ``—`` where a value is missing). Introduced in: chapter 5.7.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from .examples import BOOK_EXAMPLES, prototype

__all__ = ["DFT_LABEL", "CRYSTAL_NAMES", "side_by_side", "page_table", "flag_table",
           "spread_table", "explorer"]

#: Row label of the DFT values of formulas found in the training split.
DFT_LABEL = "DFT（学習データ中の同じ組成式）"
_PASTE = "（CIF を貼り付ける）"
#: Japanese names of the prototype crystals, for the book's tables.
CRYSTAL_NAMES = {
    "NaCl (rock salt)": "NaCl（岩塩型）", "Si (diamond)": "Si（ダイヤモンド型）",
    "GaN (wurtzite)": "GaN（ウルツ鉱型）",
    "SrTiO3 (cubic perovskite)": "SrTiO3（立方晶ペロブスカイト）",
    "AlN (wurtzite)": "AlN（ウルツ鉱型）", "GaAs (zinc blende)": "GaAs（閃亜鉛鉱型）",
    "KMgF3 (cubic perovskite)": "KMgF3（立方晶ペロブスカイト）", "CsCl (B2)": "CsCl（B2 型）",
}
_TARGET_NAMES = {"e_form": "生成エネルギー", "band_gap": "バンドギャップ"}


def side_by_side(table: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Predictions with one row per (model, target) and one column per input.

    Args:
        table: the result of :func:`hybridlib.predict.predict`.
        labels: display names of the models (default: ``hl.tables.MODELS``' names).

    Returns:
        Index ``(model, target)`` in the order of ``labels``; a value marked ``*`` has an
        out-of-domain flag (see ``note`` in ``table``). When an input's formula occurs in
        the training split, rows :data:`DFT_LABEL` give the DFT value there; inputs a model
        does not take (a formula for a graph model) show ``—``.
    """
    if labels is None:
        from ..report.tables import MODELS

        labels = {name: label for name, (label, _) in MODELS.items()}
    rank = {name: i for i, name in enumerate(labels)}  # the book's order of the models
    table = table.iloc[table["model"].map(lambda n: rank.get(n, len(rank))).argsort(kind="stable")]
    flagged = (table["unseen_elements"] != "") | table["too_many_sites"]
    cells = table.assign(
        model=table["model"].map(lambda name: labels.get(name, name)),
        target=table["target"] + " (" + table["unit"] + ")",
        value=[f"{v:.3f}{'*' if f else ''}" if pd.notna(v) else "—"
               for v, f in zip(table["prediction"], flagged)])
    known = cells[cells["in_training_data"]].drop_duplicates(["input", "target"])
    cells = pd.concat([cells, known.assign(model=DFT_LABEL,
                                           value=known["dft_value"].map("{:.3f}".format))])
    order = list(dict.fromkeys(zip(cells["model"], cells["target"])))
    wide = cells.pivot(index=["model", "target"], columns="input", values="value")
    wide = wide.loc[order, list(dict.fromkeys(cells["input"]))]
    return wide.fillna("—").rename_axis(columns=None)


def _model_labels() -> dict[str, str]:
    from ..report.tables import MODELS

    return {name: label for name, (label, _) in MODELS.items()}


def _crystal(name: str) -> str:
    return CRYSTAL_NAMES.get(name, name)


def page_table(table: pd.DataFrame):
    """:func:`side_by_side` as the book shows it: Japanese headers and crystal names.

    Returns:
        A pandas ``Styler`` (:func:`hybridlib.report.tables.show`).
    """
    from ..report.tables import show

    wide = side_by_side(table).reset_index()
    names = {t: _TARGET_NAMES.get(t, t) for t in table["target"].unique()}
    units = dict(zip(table["target"], table["unit"]))
    wide["target"] = wide["target"].map(
        {f"{t} ({units[t]})": f"{n} ({units[t]})" for t, n in names.items()})
    crystals = [c for c in wide.columns if c not in ("model", "target")]
    return show(wide, labels={c: _crystal(c) for c in crystals})


def flag_table(table: pd.DataFrame):
    """One row per input: the out-of-domain flags of :func:`hybridlib.predict.predict`.

    A flag column that is empty for every input (no unseen element, no input larger than
    the training cells, no known formula) is left out; ``—`` marks a missing value.

    Returns:
        A pandas ``Styler`` (:func:`hybridlib.report.tables.show`).
    """
    from ..report.tables import show

    first = table.groupby("input", sort=False).agg(
        unseen=("unseen_elements", lambda v: ", ".join(sorted(
            {e for cell in v for e in cell.split(", ") if e}))),
        sites=("too_many_sites", "any"), known=("in_training_data", "any"),
        dft_id=("dft_id", lambda v: next((i for i in v if i), ""))).reset_index()
    yes_no = {True: "はい", False: "いいえ"}
    flags = pd.DataFrame({
        "input": first["input"].map(_crystal),
        "unseen": first["unseen"].replace("", None),
        "sites": first["sites"].map(yes_no),
        "known": first["known"].map(yes_no),
        "dft_id": first["dft_id"].replace("", None)})
    labels = {"input": "結晶", "unseen": "学習データにない元素",
              "sites": "学習データのどの単位胞よりサイトが多い",
              "known": "学習データに同じ組成式がある",
              "dft_id": "その最安定な多形の物質 ID"}
    empty = [c for c, none in (("unseen", flags["unseen"].isna().all()),
                                ("sites", not first["sites"].any()),
                                ("dft_id", flags["dft_id"].isna().all())) if none]
    return show(flags.drop(columns=empty), labels=labels)


def _spread_kind(kind: str, labels: dict[str, str]) -> str | None:
    if not kind:
        return None
    if kind.startswith("std over "):
        return f"{kind.split()[2]} 個の種の間の標準偏差"
    if kind.startswith("spread of "):
        names = kind.removeprefix("spread of ").split(" and ")
        return " と ".join(labels.get(n, n) for n in names) + " の予測の開き"
    return kind


def spread_table(table: pd.DataFrame, name: str):
    """Every model's prediction for input ``name`` with its spread, as the book shows it.

    Columns: model (display name), target with its unit, prediction and the spread with
    three decimals, and what the spread is (``—`` where a model has none). The spread
    columns are left out when no model has one.

    Returns:
        A pandas ``Styler`` (:func:`hybridlib.report.tables.show`).

    Raises:
        KeyError: no row of ``table`` has input ``name``.
    """
    from ..report.tables import show

    rows = table[table["input"] == name]
    if rows.empty:
        raise KeyError(f"no predictions for input {name!r}; inputs: "
                       f"{list(dict.fromkeys(table['input']))}")
    labels = _model_labels()
    rank = {n: i for i, n in enumerate(labels)}
    rows = rows.iloc[rows["model"].map(lambda n: rank.get(n, len(rank))).argsort(
        kind="stable")]
    shown = pd.DataFrame({
        "model": rows["model"].map(lambda n: labels.get(n, n)).to_numpy(),
        "target": rows["target"].to_numpy(),
        "prediction": rows["prediction"].astype(float).to_numpy(),
        "spread": rows["uncertainty"].astype(float).to_numpy(),
        "spread_kind": [_spread_kind(k, labels) for k in rows["uncertainty_kind"]]})
    if shown["spread"].isna().all():
        shown = shown.drop(columns=["spread", "spread_kind"])
    return show(shown, labels={"prediction": "予測値", "spread": "ばらつきの目安",
                               "spread_kind": "目安の種類"})


def explorer(predictor, examples: Sequence[str] = BOOK_EXAMPLES):
    """A crystal picker (or a CIF text box) and a button that shows every model's predictions.

    Args:
        predictor: a loaded :class:`hybridlib.predict.Predictor` (loaded once, reused).
        examples: names of :data:`hybridlib.predict.examples.PROTOTYPES` to offer.

    Returns:
        ``ipywidgets.VBox`` (display it in a notebook cell).
    """
    import ipywidgets as widgets
    from IPython.display import display

    from .inputs import InputError

    choice = widgets.Dropdown(options=[*examples, _PASTE], description="結晶")
    cif = widgets.Textarea(placeholder="data_... で始まる CIF をここに貼り付けます",
                           layout=widgets.Layout(width="100%", height="8em"))
    button = widgets.Button(description="予測する", button_style="primary")
    output = widgets.Output()

    def show(_=None) -> None:
        output.clear_output()
        with output:
            try:
                if choice.value == _PASTE:
                    source = cif.value
                else:
                    source = prototype(choice.value)
                table = predictor.predict(source)
            except InputError as exc:
                print(f"この入力は予測できません: {exc}")
                return
            if choice.value != _PASTE:
                table["input"] = choice.value
            display(side_by_side(table))
            notes = table.loc[table["note"] != "", ["model", "target", "note"]]
            if len(notes):
                display(notes.reset_index(drop=True))

    button.on_click(show)
    return widgets.VBox([choice, cif, button, output])
