"""What :func:`hybridlib.predict.predict` accepts, read and checked before any model runs.

An input is a pymatgen ``Structure``, CIF text, the path of a CIF file, or (for the
composition-only models) a formula. Each becomes a :class:`Material`; anything the models
cannot take raises :class:`InputError`, whose message starts with the input's name (the
file) and says what is wrong: an empty or unreadable file, text that is no CIF, an unknown
element, partial occupancies, a cell without sites. (Isolated atoms depend on the graph
settings and are checked by the predictor, :meth:`~hybridlib.predict.Predictor.check`.)
Introduced in: chapter 5.7.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Composition, Structure
from pymatgen.core.periodic_table import DummySpecies

__all__ = ["InputError", "Material", "read_inputs", "from_structure", "from_cif",
           "from_cif_file", "from_formula"]

#: pymatgen's CIF warnings that only restate the failure itself.
_UNINFORMATIVE = ("No structure parsed for section", "Issues encountered while parsing CIF")


class InputError(ValueError):
    """An input the models cannot take; the message names the input and the problem."""


@dataclass(frozen=True)
class Material:
    """One input, checked.

    Attributes:
        name: where it came from (a file name, ``"<CIF text>"``, a formula...).
        composition: its composition.
        structure: its crystal structure (``None`` for a formula).
        warnings: what the CIF parser noticed without failing (e.g. a stoichiometry that
            differs from the file's ``_chemical_formula_sum``).
    """

    name: str
    composition: Composition
    structure: Structure | None = None
    warnings: tuple[str, ...] = ()

    @property
    def formula(self) -> str:
        """Reduced formula (``"NaCl"``)."""
        return self.composition.reduced_formula

    @property
    def elements(self) -> list[str]:
        """Element symbols, sorted."""
        return sorted({el.symbol for el in self.composition.elements})


def _check_composition(composition: Composition, name: str) -> None:
    if composition.num_atoms <= 0:
        raise InputError(f"{name}: the composition is empty")
    unknown = sorted({str(sp).rstrip("0+-") for sp in composition
                      if isinstance(sp, DummySpecies)})
    if unknown:
        raise InputError(f"{name}: unknown element(s) {', '.join(unknown)}")


def from_structure(structure: Structure, name: str = "<structure>",
                   parser_warnings: tuple[str, ...] = ()) -> Material:
    """A checked :class:`Material` from a pymatgen ``Structure``.

    Raises:
        InputError: no sites, an unknown element (dummy species), partial occupancies.
    """
    if not isinstance(structure, Structure):
        raise InputError(f"{name}: expected a pymatgen Structure, got {type(structure).__name__}")
    if len(structure) == 0:
        raise InputError(f"{name}: the structure has no sites")
    _check_composition(structure.composition, name)
    if not structure.is_ordered:
        disordered = [f"site {i} ({site.species_string})" for i, site in enumerate(structure)
                      if not site.is_ordered]
        more = f" and {len(disordered) - 3} more" if len(disordered) > 3 else ""
        raise InputError(f"{name}: partial occupancies on {', '.join(disordered[:3])}{more}; "
                         f"the models need an ordered structure (one element per site, "
                         f"occupancy 1), e.g. an ordered supercell of it")
    return Material(name, structure.composition, structure, tuple(parser_warnings))


def _parser_notes(messages) -> list[str]:
    """The distinct lines of the CIF parser's warnings, less those restating the failure."""
    lines = []
    for message in messages:
        for line in message.splitlines():
            line = " ".join(line.split())
            if re.fullmatch(r"'(_\w+)'", line):  # a KeyError: a required field is missing
                line = f"missing field {line.strip(chr(39))}"
            if line and not line.startswith(_UNINFORMATIVE) and line not in lines:
                lines.append(line)
    return lines


def from_cif(text: str, name: str = "<CIF text>") -> list[Material]:
    """Checked materials from CIF text (one per data block with a structure).

    Raises:
        InputError: empty text, no structure in it, or a structure :func:`from_structure`
            rejects.
    """
    from pymatgen.io.cif import CifParser

    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            structures = CifParser.from_str(text).parse_structures(primitive=False)
        except Exception as exc:  # pymatgen raises ValueError, KeyError, IndexError...
            structures, failure = [], f"{type(exc).__name__}: {exc}"
        else:
            failure = ""
    notes = _parser_notes(str(w.message) for w in caught)
    if not structures:
        raise InputError(f"{name}: not a readable CIF ({'; '.join(notes or [failure])})")
    unknown = [n for n in notes if "is not a valid Element" in n]
    if unknown:
        raise InputError(f"{name}: unknown element(s): {'; '.join(unknown)}")
    kept = tuple(notes)
    if len(structures) == 1:
        return [from_structure(structures[0], name, kept)]
    return [from_structure(s, f"{name}[{i + 1}]", kept) for i, s in enumerate(structures)]


def from_cif_file(path: str | Path) -> list[Material]:
    """Checked materials from a CIF file, named by the file.

    Raises:
        InputError: the file is missing, not text, empty, or not a usable CIF.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file ({exc.reason} at byte {exc.start})") from exc
    return from_cif(text, str(path))


def from_formula(formula: str, name: str | None = None) -> Material:
    """A composition-only material (graph models skip it).

    Raises:
        InputError: the text is not a formula of known elements.
    """
    name = name or formula
    try:
        composition = Composition(formula)
    except Exception as exc:  # pymatgen raises ValueError/KeyError for bad formulas
        raise InputError(f"{name}: neither an existing file, CIF text nor a formula "
                         f"({exc})") from exc
    _check_composition(composition, name)
    return Material(name, composition)


def read_inputs(item) -> list[Material]:
    """Materials of one input: a ``Structure``, a ``Material``, CIF text, a path or a formula.

    A string is CIF text when it has several lines or starts with ``data_``, a path when it
    names an existing file or ends in ``.cif``, and otherwise a formula.
    """
    if isinstance(item, Material):
        return [item]
    if isinstance(item, Structure):
        return [from_structure(item)]
    if isinstance(item, Path):
        return from_cif_file(item)
    if not isinstance(item, str):
        raise InputError(f"<{type(item).__name__}>: expected a Structure, CIF text, a CIF "
                         f"file or a formula")
    text = item.strip()
    if not text:
        raise InputError("<empty string>: nothing to predict")
    if "\n" in text or text.startswith("data_"):
        return from_cif(item)
    if text.lower().endswith(".cif") or Path(text).is_file():
        return from_cif_file(text)
    return [from_formula(text)]
