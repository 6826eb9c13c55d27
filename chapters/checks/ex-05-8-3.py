"""Hidden checks of ex-05-8-3 (bond-angle cosines), 3 points + 2 written."""
# %% points=1 atol=1e-8
# ウルツ鉱型 ZnS の第一近接（2.6 Å 以内）の結合角の余弦 48 個を昇順に返す
import numpy as np
from pymatgen.core import Lattice, Structure

zns = Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.82, 6.26), ["Zn", "S"],
                                [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.375]])
np.asarray(bond_angle_cosines(zns, 2.6), dtype=float)

# %% points=2 atol=1e-8
# 周期像を含む近接原子のすべての順序付きの対 (j, k) を数える（岩塩型と低対称の結晶）
import numpy as np
from pymatgen.core import Lattice, Structure

nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                 [[0, 0, 0], [0.5, 0.5, 0.5]])
triclinic = Structure(Lattice.from_parameters(3.1, 3.7, 4.3, 81, 97, 104), ["Si", "O", "O"],
                      [[0, 0, 0], [0.31, 0.12, 0.44], [0.67, 0.58, 0.21]])
{"nacl": np.asarray(bond_angle_cosines(nacl, 3.0), dtype=float),
 "triclinic": np.asarray(bond_angle_cosines(triclinic, 3.0), dtype=float)}

# %% written points=2
# 1. 原子グラフ（原子がノード、結合がエッジ）と線グラフ（結合がノード、原子を共有する結合の対が
# エッジで、結合角を運ぶ）の違いを正しく述べている: 2 点（片方だけなら 1 点）。
