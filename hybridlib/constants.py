"""Physical and modelling constants shared by the graphs and the models (one home each).

Introduced in: chapter 5.2.
"""
from __future__ import annotations

__all__ = ["CUTOFF", "MAX_NEIGHBORS", "MAX_Z"]

#: Neighbour search radius of the crystal graphs, in Å (CGCNN and ALIGNN: 8 Å).
CUTOFF = 8.0
#: Nearest neighbours kept per atom (CGCNN and ALIGNN: 12).
MAX_NEIGHBORS = 12
#: Largest atomic number any element table covers.
MAX_Z = 118
