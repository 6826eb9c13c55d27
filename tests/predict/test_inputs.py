"""Bad input gets an error naming the input and the problem (hybridlib.predict.inputs)."""
from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from hybridlib.predict import Predictor
from hybridlib.predict.examples import prototype
from hybridlib.predict.inputs import (InputError, from_cif, from_cif_file, from_formula,
                                      from_structure, read_inputs)


@pytest.fixture
def rock_salt_cif() -> str:
    return str(CifWriter(prototype("NaCl (rock salt)")))


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_cif_file_becomes_one_ordered_material(tmp_path, rock_salt_cif):
    (material,) = from_cif_file(_write(tmp_path, "nacl.cif", rock_salt_cif))
    assert material.name == str(tmp_path / "nacl.cif")
    assert material.formula == "NaCl" and len(material.structure) == 8
    assert material.elements == ["Cl", "Na"] and material.warnings == ()


@pytest.mark.parametrize("text, problem", [
    ("", "the file is empty"),
    ("  \n\n", "the file is empty"),
    ("this is not a crystal\n", "not a readable CIF"),
    ("data_x\n_cell_length_a 3\n", "not a readable CIF .*missing field _atom_site_label"),
])
def test_empty_and_malformed_files_are_named(tmp_path, text, problem):
    path = _write(tmp_path, "bad.cif", text)
    with pytest.raises(InputError, match=f"^{path}: {problem}"):
        from_cif_file(path)


def test_a_bad_number_is_quoted_from_the_parser(tmp_path, rock_salt_cif):
    path = _write(tmp_path, "nacl.cif", rock_salt_cif.replace("_cell_length_a   5.64000000",
                                                              "_cell_length_a   abc"))
    with pytest.raises(InputError, match=f"^{path}: not a readable CIF .*'abc'"):
        from_cif_file(path)


def test_partial_occupancies_are_refused_with_the_site(tmp_path, rock_salt_cif):
    half = rock_salt_cif.replace("Na  Na0  1  0.00000000  0.00000000  0.00000000  1",
                                 "Na  Na0  1  0.00000000  0.00000000  0.00000000  0.5")
    path = _write(tmp_path, "half.cif", half)
    with pytest.raises(InputError, match=f"^{path}: partial occupancies on site \\d+ \\(Na:0.5"):
        from_cif_file(path)


def test_an_unknown_element_is_named(tmp_path, rock_salt_cif):
    path = _write(tmp_path, "qq.cif", rock_salt_cif.replace("  Na  Na0", "  Qq  Qq0"))
    with pytest.raises(InputError, match=f"^{path}: unknown element.*'Qq'"):
        from_cif_file(path)
    with pytest.raises(InputError, match="^Xx2: unknown element\\(s\\) Xx"):
        from_formula("Xx2")
    with pytest.raises(InputError, match="^hello: neither an existing file, CIF text nor a"):
        read_inputs("hello")


def test_missing_and_binary_files_are_named(tmp_path):
    with pytest.raises(InputError, match="missing.cif: no such file"):
        read_inputs(str(tmp_path / "missing.cif"))
    binary = tmp_path / "image.cif"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(InputError, match="image.cif: not a text file"):
        from_cif_file(binary)


def test_strings_are_read_as_cif_text_paths_or_formulas(tmp_path, rock_salt_cif):
    path = _write(tmp_path, "a.cif", rock_salt_cif)
    assert read_inputs(rock_salt_cif)[0].name == "<CIF text>"
    assert read_inputs(str(path))[0].name == str(path)
    assert read_inputs(path)[0].structure is not None
    formula = read_inputs("Fe2O3")[0]
    assert formula.structure is None and formula.formula == "Fe2O3"
    with pytest.raises(InputError, match="expected a Structure"):
        read_inputs(42)


def test_a_structure_without_sites_is_refused():
    with pytest.raises(InputError, match="^<structure>: the structure has no sites"):
        from_structure(Structure(Lattice.cubic(3), [], []))


def test_two_data_blocks_give_two_named_materials(rock_salt_cif):
    si = str(CifWriter(prototype("Si (diamond)")))
    first, second = from_cif(rock_salt_cif + "\n" + si, "two.cif")
    assert (first.name, second.name) == ("two.cif[1]", "two.cif[2]")
    assert (first.formula, second.formula) == ("NaCl", "Si")


def test_an_isolated_atom_is_refused_by_the_predictor(tiny, tmp_path):
    profile, registry, _ = tiny
    lone = Structure(Lattice.cubic(40.0), ["Si"], [[0, 0, 0]])
    path = _write(tmp_path, "lone.cif", str(CifWriter(lone)))
    predictor = Predictor(["rf_magpie"], profile, registry=registry, seeds=())
    with pytest.raises(InputError, match=f"^{path}: .*no neighbour"):
        predictor.predict(str(path))
