"""Hidden checks of ex-05-8-3 (bond-angle cosines of a real crystal), 3 points."""
# %% points=1
import numpy as _np
import hybridlib as _hl

_zns = _hl.data.load_mp_sample().set_index("material_id").loc["mp-560588", "structure"]
_got = _np.asarray(bond_angle_cosines(_zns, 2.6))
assert _got.shape == (48,), f"wurtzite ZnS within 2.6 A has 4 atoms x 4 x 3 angles = 48, got {_got.shape}"
assert _np.allclose(_got, -1 / 3, atol=0.02), "first-shell angles of ZnS are tetrahedral (cos = -1/3)"

# %% points=2
import numpy as _np
import hybridlib as _hl

_s = _hl.data.load_mp_sample().set_index("material_id").loc["mp-7", "structure"]
_ref = []
for _i, _nbrs in enumerate(_s.get_all_neighbors(3.0)):
    for _a, _nj in enumerate(_nbrs):
        for _b, _nk in enumerate(_nbrs):
            if _a != _b:
                _u, _v = _nj.coords - _s[_i].coords, _nk.coords - _s[_i].coords
                _ref.append(_u @ _v / _np.linalg.norm(_u) / _np.linalg.norm(_v))
_got = _np.asarray(bond_angle_cosines(_s, 3.0))
assert _got.shape == (len(_ref),), f"expected {len(_ref)} cosines for sulfur (mp-7) at 3 A, got {_got.shape}"
assert _np.allclose(_got, _np.sort(_ref), atol=1e-8), "cosines differ from a direct computation"
