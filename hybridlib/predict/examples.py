"""Well-known crystals built from their space group, to try the trained models on.

Each prototype is the conventional cell pymatgen builds from the space group, the
Wyckoff positions and approximate experimental lattice constants (Å). They are ideal
structures, not relaxed with the DFT settings of the training data, so a model's answer
for them also carries the difference between experimental and computed cells.
Introduced in: chapter 5.7.
"""
from __future__ import annotations

from pymatgen.core import Lattice, Structure

__all__ = ["PROTOTYPES", "BOOK_EXAMPLES", "prototype"]

#: name -> (space group, lattice, species, fractional coordinates of the Wyckoff sites)
PROTOTYPES: dict[str, tuple] = {
    "NaCl (rock salt)": ("Fm-3m", ("cubic", 5.640), ["Na", "Cl"],
                         [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "Si (diamond)": ("Fd-3m", ("cubic", 5.431), ["Si"], [[0, 0, 0]]),
    "GaN (wurtzite)": ("P6_3mc", ("hexagonal", 3.189, 5.185), ["Ga", "N"],
                       [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.377]]),
    "SrTiO3 (cubic perovskite)": ("Pm-3m", ("cubic", 3.905), ["Sr", "Ti", "O"],
                                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
    "AlN (wurtzite)": ("P6_3mc", ("hexagonal", 3.112, 4.982), ["Al", "N"],
                       [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]),
    "GaAs (zinc blende)": ("F-43m", ("cubic", 5.653), ["Ga", "As"],
                           [[0, 0, 0], [0.25, 0.25, 0.25]]),
    "KMgF3 (cubic perovskite)": ("Pm-3m", ("cubic", 3.989), ["K", "Mg", "F"],
                                 [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
    "CsCl (B2)": ("Pm-3m", ("cubic", 4.123), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
}

#: The crystals chapter 5.7 offers: rock salt, diamond, wurtzite and a perovskite.
BOOK_EXAMPLES = ("NaCl (rock salt)", "Si (diamond)", "GaN (wurtzite)",
                 "SrTiO3 (cubic perovskite)")


def prototype(name: str) -> Structure:
    """The conventional cell of a crystal of :data:`PROTOTYPES`.

    Raises:
        KeyError: an unknown name (the message lists the known ones).
    """
    if name not in PROTOTYPES:
        raise KeyError(f"unknown prototype {name!r}; choose one of {list(PROTOTYPES)}")
    group, (system, *lengths), species, coords = PROTOTYPES[name]
    lattice = getattr(Lattice, system)(*lengths)
    return Structure.from_spacegroup(group, lattice, species, coords)
