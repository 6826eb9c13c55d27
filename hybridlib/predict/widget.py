"""The page view of the predictions: a side-by-side table and a notebook widget.

:func:`side_by_side` turns the long table of :func:`hybridlib.predict.predict` into one row
per model and target and one column per crystal (the static table of the rendered book);
:func:`explorer` is the ipywidgets version for a running kernel: pick a well-known crystal
or paste a CIF, and the table appears. Introduced in: chapter 5.7.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from .examples import BOOK_EXAMPLES, prototype

__all__ = ["DFT_LABEL", "side_by_side", "explorer"]

#: Row label of the DFT values of formulas found in the training split.
DFT_LABEL = "DFT（学習データ中の同じ組成式）"
_PASTE = "（CIF を貼り付ける）"


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
