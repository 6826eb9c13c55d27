"""The page view: prototypes, the side-by-side table and the notebook widget."""
from __future__ import annotations

import numpy as np
import pytest

from hybridlib.predict import Predictor
from hybridlib.predict.examples import BOOK_EXAMPLES, PROTOTYPES, prototype
from hybridlib.predict.widget import (DFT_LABEL, _spread_kind, explorer, flag_table, page_table,
                                     side_by_side, spread_table)

#: name -> (atoms in the conventional cell, nearest-neighbour distance in Å)
EXPECTED = {"NaCl (rock salt)": (8, 2.820), "Si (diamond)": (8, 2.352),
            "GaN (wurtzite)": (4, 1.948), "SrTiO3 (cubic perovskite)": (5, 1.9525),
            "AlN (wurtzite)": (4, 1.890), "GaAs (zinc blende)": (8, 2.448),
            "KMgF3 (cubic perovskite)": (5, 1.9945), "CsCl (B2)": (2, 3.571)}


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_prototypes_have_their_textbook_cells(name):
    structure = prototype(name)
    distances = structure.distance_matrix[np.triu_indices(len(structure), 1)]
    n_sites, nearest = EXPECTED[name]
    assert len(structure) == n_sites
    assert distances.min() == pytest.approx(nearest, abs=2e-3)
    assert structure.composition.reduced_formula == name.split()[0]
    with pytest.raises(KeyError, match="unknown prototype"):
        prototype("NaCl")


def test_side_by_side_puts_crystals_in_columns_and_marks_flags(tiny):
    profile, registry, dataset = tiny
    train = dataset[dataset["split"] == "train"]
    known = train["structure"].iloc[0]
    predictor = Predictor(["rf_magpie", "cgcnn"], profile, registry=registry, seeds=())
    inputs = {name: prototype(name) for name in BOOK_EXAMPLES}
    table = predictor.predict({**inputs, "known": known, "formula": "MgO"})
    wide = side_by_side(table)
    assert list(wide.columns) == [*BOOK_EXAMPLES, "known", "formula"]
    assert ("CGCNN", "e_form (eV/atom)") in wide.index
    assert ("RF (Magpie 132)", "band_gap (eV)") in wide.index
    cell = wide.loc[("CGCNN", "e_form (eV/atom)")]
    assert cell["formula"] == "—"  # a formula has no structure
    row = table[(table["model"] == "cgcnn") & (table["input"] == "known")].iloc[0]
    assert cell["known"] == f"{row['prediction']:.3f}"
    assert wide.loc[(DFT_LABEL, "e_form (eV/atom)"), "known"] == f"{row['dft_value']:.3f}"
    flagged = table[(table["unseen_elements"] != "") & (table["model"] == "cgcnn")]
    for name in flagged["input"]:
        assert wide.loc[("CGCNN", "e_form (eV/atom)"), name].endswith("*")


def test_the_explorer_shows_a_table_for_a_prototype_and_an_error_for_bad_text(tiny, capsys):
    profile, registry, _ = tiny
    predictor = Predictor(["rf_magpie"], profile, registry=registry, seeds=())
    box = explorer(predictor)
    choice, text, button, output = box.children
    assert list(choice.options)[:4] == list(BOOK_EXAMPLES)
    choice.value = "Si (diamond)"
    button.click()
    shown = capsys.readouterr().out  # outside a kernel the output area prints
    assert "Si (diamond)" in shown and "RF (Magpie 132)" in shown
    choice.value = choice.options[-1]
    text.value = "not a cif\nat all"
    button.click()
    assert "予測できません" in capsys.readouterr().out


def _shown(styler) -> tuple[list[str], str]:
    """Headers and HTML of a table from :func:`hybridlib.report.tables.show`."""
    return list(styler.data.columns), styler.to_html()


def test_the_page_tables_have_japanese_headers_three_decimals_and_dashes(tiny):
    profile, registry, dataset = tiny
    train = dataset[dataset["split"] == "train"]
    predictor = Predictor(["rf_magpie", "cgcnn"], profile, registry=registry, seeds=())
    table = predictor.predict({"Si (diamond)": prototype("Si (diamond)"),
                               "known": train["structure"].iloc[0]})
    headers, html = _shown(page_table(table))
    assert headers[:2] == ["モデル", "目的変数"] and "Si（ダイヤモンド型）" in headers
    assert "生成エネルギー (eV/atom)" in html and "e_form" not in html
    headers, html = _shown(flag_table(table))
    assert headers[0] == "結晶" and "学習データに同じ組成式がある" in headers
    assert "unseen_elements" not in html and "nan" not in html.lower()
    if (table["unseen_elements"] == "").all():
        assert "学習データにない元素" not in headers  # an empty column is left out
    headers, html = _shown(spread_table(table, "Si (diamond)"))
    assert headers[:3] == ["モデル", "目的変数", "予測値"]
    row = table[(table["input"] == "Si (diamond)") & (table["model"] == "cgcnn")].iloc[0]
    assert f"{row['prediction']:.3f}" in html and f"{row['prediction']:.6f}" not in html
    assert "spread of" not in html and "nan" not in html.lower()
    with pytest.raises(KeyError, match="no predictions"):
        spread_table(table, "GaN (wurtzite)")


def test_the_spread_kind_is_written_in_japanese():
    labels = {"rf_magpie": "RF", "cgcnn": "CGCNN"}
    assert _spread_kind("spread of rf_magpie and cgcnn", labels) == "RF と CGCNN の予測の開き"
    assert _spread_kind("std over 3 seeds", labels) == "3 個の種の間の標準偏差"
    assert _spread_kind("", labels) is None
