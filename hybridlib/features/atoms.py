"""CGCNN's 92-dimensional atom features, computed from element data by code.

Xie & Grossman (2018) describe each element by nine properties, each one-hot encoded
(categorical properties) or binned into 10 equal intervals (continuous properties), as
listed in the paper's Supplemental Material; the exact layout below is read from the
published ``atom_init.json``, which matminer ships as ``cgcnn_atom_feature.json``:

============================  ================================  =========  ====
property                      source here                       encoding   dims
============================  ================================  =========  ====
group number                  pymatgen ``group`` (0: f block)   0-18       19
period                        pymatgen ``row``                  1-7        7
electronegativity (Pauling)   pymatgen ``X``                    0.5-4.0    10
covalent radius (pm)          Magpie ``CovalentRadius``         25-250     10
valence electrons             from group and block              1-12       12
first ionization energy (eV)  pymatgen, ln scale                1.3-3.3    10
electron affinity (eV)        Magpie ``ElectronAffinity``/96.5  -3.0-3.7   10
block                         pymatgen ``block``                s p d f    4
atomic volume (cm^3/mol)      pymatgen ``molar_volume``, ln     1.5-4.3    10
============================  ================================  =========  ====

Conventions, all read off the published vectors: f-block elements (La-Yb, Ac-No, as
pymatgen assigns blocks) take group slot 0; an element's valence-electron count is its group
(s and d block; He: 2), its group minus 10 (p block) or 2 (f block: the outer s pair only);
He counts as s block (its only electrons are 1s); bins are closed on the right,
``(lo + k w, lo + (k + 1) w]``, and values outside the range go to the end bins; a missing
value leaves its block of the vector all zero.

Agreement with the published file (elements 1-100, checked in ``tests/test_features.py``):
group, period, block and first ionization energy agree for all 100 elements, valence
electrons for 99, electronegativity and atomic volume for 80, electron affinity for 73 and
covalent radius for 43; 23 whole rows are identical. Every difference comes from the element
data (the authors' table was not published), not from the encoding:

* electronegativity: the published table lacks Kr, Pm, Eu, Tb, Yb, Rn and Am-Fm, and has
  other (older Pauling) values for Tc, Lu, W, Pt, Hg, Pb, Bi and U (e.g. W one bin of
  1.55-1.9 against pymatgen's 2.36).
* covalent radius: Magpie's values (Cordero et al. 2008) are larger than the published
  ones for most d- and f-block elements and for Na, Br, Te, I, Xe (usually one bin).
* valence electrons: the published file gives Pd 12 (4d10 5s0: 10 here).
* electron affinity: Magpie lists unbound anions (noble gases, Be, Mg, Mn, Zn, Cd, Hg) as
  0 eV and most lanthanides as 0.518 eV (50 kJ/mol); the published table leaves most of
  these empty and has other values for N, Ga, Tl; Magpie has none for Fr, Ra, Ac.
* atomic volume: for gaseous elements (H, N, F, Cl, noble gases) and some heavy elements
  (Tm, Ra, Np, Am, Cm) the published molar volumes are larger by about one bin; it lacks
  Pm, Rn, Pu, Bk, Cf, Es.

``cgcnn_atom_features(source="published")`` returns the published table instead; the
graph models of the book (CGCNN, ALIGNN, MEGNet) use it by default
(:data:`MODEL_ATOM_FEATURES`), because the computed table gives whole groups of elements the
same row (the element data bin them alike): Ce = Nd = Pm = Sm = Gd = Tb, Eu = Yb,
Dy = Ho = Er = Tm and U = Np = Pu, so a model cannot tell them apart. The published table
merges only four pairs among Z = 1-94 (:data:`PUBLISHED_DUPLICATE_ROWS`): La = Ce, Sm = Gd,
Ho = Er and Th = Np. The computed table stays available as ``source="computed"`` (the models'
``atom_features="computed"``) to show how such a table is built.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from pymatgen.core import Element

__all__ = ["CGCNN_ATOM_FEATURE_DIM", "MAX_Z", "ATOM_PROPERTIES", "MODEL_ATOM_FEATURES",
           "PUBLISHED_DUPLICATE_ROWS", "cgcnn_atom_features", "feature_names",
           "published_cgcnn_atom_features"]

CGCNN_ATOM_FEATURE_DIM = 92
MAX_Z = 118
#: The atom table the graph models read unless told otherwise.
MODEL_ATOM_FEATURES = "published"
#: Elements (Z = 1-94) that share one row of the published table.
PUBLISHED_DUPLICATE_ROWS = (("La", "Ce"), ("Sm", "Gd"), ("Ho", "Er"), ("Th", "Np"))
_BLOCKS = ("s", "p", "d", "f")


@dataclass(frozen=True)
class AtomProperty:
    """One block of the CGCNN vector.

    Attributes:
        name: property name (used in feature names).
        value: element -> number (NaN when unknown).
        categories: for categorical properties, the values that get one slot each.
        bins: for continuous properties, ``(low, high, n_bins)`` of equal-width bins.
    """

    name: str
    value: Callable[[Element], float]
    categories: tuple | None = None
    bins: tuple[float, float, int] | None = None

    @property
    def size(self) -> int:
        return len(self.categories) if self.categories is not None else self.bins[2]

    def slot(self, element: Element) -> int | None:
        """Index of the one hot entry for ``element`` (None when the value is missing)."""
        value = self.value(element)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.categories is not None:
            return self.categories.index(value) if value in self.categories else None
        low, high, n_bins = self.bins
        inner_edges = np.linspace(low, high, n_bins + 1)[1:-1]
        return int(np.searchsorted(inner_edges, value, side="left"))  # right-closed bins

    def names(self) -> list[str]:
        if self.categories is not None:
            return [f"{self.name}={c}" for c in self.categories]
        low, high, n_bins = self.bins
        edges = np.linspace(low, high, n_bins + 1)
        return [f"{self.name} in ({a:.3g}, {b:.3g}]" for a, b in zip(edges[:-1], edges[1:])]


def _quiet(getter: Callable[[Element], object]) -> Callable[[Element], float]:
    """Wrap an element-data getter: missing data (None, KeyError, warnings) -> NaN."""
    def value(element: Element) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = getter(element)
            except (KeyError, AttributeError, ValueError, TypeError, IndexError):
                return math.nan
        return math.nan if result is None else result
    return value


def _block(element: Element) -> str:
    """pymatgen's block, except that He (only 1s electrons) is s block."""
    try:
        if all(orbital == "s" for _, orbital, _ in element.full_electronic_structure):
            return "s"
    except KeyError:  # no electronic structure stored (Z > 103)
        pass
    return element.block


def _group_slot(element: Element) -> int:
    return 0 if _block(element) == "f" else element.group


def _valence_electrons(element: Element) -> int:
    block = _block(element)
    if block == "f":
        return 2
    if block == "p":
        return element.group - 10
    if block == "d":
        return element.group
    return element.full_electronic_structure[-1][2]  # s block: occupancy of the outer s


@lru_cache(maxsize=None)
def _magpie_data():
    from matminer.utils.data import MagpieData

    return MagpieData(impute_nan=False)


def _magpie(name: str, scale: float = 1.0) -> Callable[[Element], float]:
    return _quiet(lambda e: _magpie_data().all_elemental_props[name][e.symbol] * scale)


def _kj_per_mol_in_ev() -> float:
    from scipy.constants import Avogadro, electron_volt

    return 1e3 / (electron_volt * Avogadro)


ATOM_PROPERTIES: tuple[AtomProperty, ...] = (
    AtomProperty("group", _quiet(_group_slot), categories=tuple(range(19))),
    AtomProperty("period", _quiet(lambda e: e.row), categories=tuple(range(1, 8))),
    AtomProperty("electronegativity", _quiet(lambda e: e.X), bins=(0.5, 4.0, 10)),
    AtomProperty("covalent_radius", _magpie("CovalentRadius"), bins=(25.0, 250.0, 10)),
    AtomProperty("valence_electrons", _quiet(_valence_electrons), categories=tuple(range(1, 13))),
    AtomProperty("ln_first_ionization_energy",
                 _quiet(lambda e: math.log(e.ionization_energies[0])), bins=(1.3, 3.3, 10)),
    AtomProperty("electron_affinity", _magpie("ElectronAffinity", _kj_per_mol_in_ev()),
                 bins=(-3.0, 3.7, 10)),
    AtomProperty("block", _quiet(_block), categories=_BLOCKS),
    AtomProperty("ln_atomic_volume", _quiet(lambda e: math.log(float(e.molar_volume))),
                 bins=(1.5, 4.3, 10)),
)


@lru_cache(maxsize=None)
def _feature_table() -> np.ndarray:
    table = np.zeros((MAX_Z + 1, CGCNN_ATOM_FEATURE_DIM), dtype=np.float32)
    for z in range(1, MAX_Z + 1):
        element = Element.from_Z(z)
        offset = 0
        for prop in ATOM_PROPERTIES:
            slot = prop.slot(element)
            if slot is not None:
                table[z, offset + slot] = 1.0
            offset += prop.size
    table.setflags(write=False)
    return table


def cgcnn_atom_features(source: str = "computed") -> np.ndarray:
    """The (MAX_Z + 1, 92) float32 table of CGCNN atom features; row Z is element Z.

    Args:
        source: ``"computed"`` (from element data, see the module docstring) or
            ``"published"`` (the authors' ``atom_init.json``; elements above 100 all zero).

    Row 0 is all zero (padding); index it with atomic numbers (``table[batch.z]``).
    """
    if source == "computed":
        return _feature_table().copy()
    if source == "published":
        table = np.zeros((MAX_Z + 1, CGCNN_ATOM_FEATURE_DIM), dtype=np.float32)
        published = published_cgcnn_atom_features()
        table[:len(published)] = published
        return table
    raise ValueError(f"unknown source {source!r}; use 'computed' or 'published'")


def feature_names() -> list[str]:
    """Names of the 92 columns, e.g. ``"group=1"``, ``"electronegativity in (0.5, 0.85]"``."""
    return [name for prop in ATOM_PROPERTIES for name in prop.names()]


def published_cgcnn_atom_features() -> np.ndarray:
    """The published ``atom_init.json`` (elements 1-100) as a (101, 92) array, for comparison.

    Read from matminer's copy (``matminer/utils/data_files/cgcnn_atom_feature.json``).
    """
    import json
    from importlib.resources import files

    path = files("matminer.utils.data_files") / "cgcnn_atom_feature.json"
    published = json.loads(path.read_text())
    table = np.zeros((101, CGCNN_ATOM_FEATURE_DIM), dtype=np.float32)
    for z, vector in published.items():
        table[int(z)] = vector
    return table
