"""Vectorized composition features, equal to matminer's, for whole data sets at once.

Two presets:

* ``"magpie"``: matminer's ``ElementProperty.from_preset("magpie")``, 22 Magpie element
  properties x 6 fraction-weighted statistics = 132 features.
* ``"ward2016"``: the general-purpose set of Ward et al. (2016), 145 features =
  ``Stoichiometry()`` (6) + the magpie preset (132) + ``ValenceOrbital(props=["frac"])`` (4)
  + ``IonProperty(fast=True)`` (3).

matminer computes every statistic composition by composition in Python; here each one is a
single numpy expression over all compositions: the compositions become a padded
``(n, K)`` table of atomic numbers and amounts (K = most elements in one composition),
element properties are gathered from ``(119, P)`` tables into ``(n, K, P)`` and reduced along
``K``. The element data are read from matminer's own data sources (``MagpieData``,
``PymatgenData``), never retyped, and every reduction is written in the same arithmetic order
as matminer's ``PropertyStats``, so the values agree to rounding (tests and
``python -m hybridlib.bench features`` check the whole shared sample).

Known difference: oxidation-state decorations (``Fe2+``) are reduced to their element;
matminer's ``IonProperty`` would instead test charge neutrality with the given charges.
Introduced in: chapter 5.1.
"""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element, Structure

__all__ = ["PRESETS", "composition_features", "feature_labels", "featurize_frame",
           "parse_compositions"]

PRESETS = ("magpie", "ward2016")
MAX_Z = 118
_ISCLOSE_ATOL, _ISCLOSE_RTOL = 1e-8, 1e-5  # numpy.isclose defaults, as matminer uses them
_CACHE_VERSION = 1


# ----------------------------------------------------------------------------- parsing

@dataclass(frozen=True)
class ParsedCompositions:
    """Compositions as padded arrays (element order as in each composition).

    Attributes:
        z: int array (n, K) of atomic numbers; 0 pads rows with fewer than K elements.
        amount: float array (n, K) of element amounts (not normalised); 0 in the padding.
    """

    z: np.ndarray
    amount: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """Boolean mask (n, K) of real (non-padding) entries."""
        return self.z > 0


def _as_composition(item, index: int) -> Composition:
    if isinstance(item, Composition):
        return item
    if isinstance(item, Structure):
        return item.composition
    if isinstance(item, str):
        try:
            return Composition(item)
        except Exception as exc:  # pymatgen raises ValueError/KeyError for bad formulas
            raise ValueError(f"composition #{index} {item!r} cannot be parsed: {exc}") from exc
    raise TypeError(f"composition #{index} is a {type(item).__name__}; expected a formula "
                    "string, a pymatgen Composition or a Structure")


@lru_cache(maxsize=None)
def _atomic_number(species) -> int:
    element = getattr(species, "element", species)  # Species -> Element
    if not isinstance(element, Element):
        raise ValueError(f"{species!s} is not a chemical element")
    return element.Z


def parse_compositions(compositions: Iterable) -> ParsedCompositions:
    """Turn formulas / Compositions / Structures into padded atomic-number and amount arrays.

    Raises:
        ValueError: an empty composition, an unknown element or a dummy species
            (the message names the composition and the offending item).
    """
    rows = []
    for index, item in enumerate(compositions):
        comp = _as_composition(item, index)
        amounts: dict[int, float] = {}
        for species, amount in comp.items():
            try:
                z = _atomic_number(species)
            except ValueError as exc:
                raise ValueError(f"composition #{index} ({comp.formula!r}): {exc}") from None
            amounts[z] = amounts.get(z, 0.0) + amount
        amounts = {z: a for z, a in amounts.items() if abs(a) >= Composition.amount_tolerance}
        if not amounts:
            raise ValueError(f"composition #{index} ({item!r}) is empty")
        rows.append(amounts)
    if not rows:
        raise ValueError("no compositions given")
    width = max(map(len, rows))
    z = np.zeros((len(rows), width), dtype=np.int64)
    amount = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        z[i, :len(row)] = list(row)
        amount[i, :len(row)] = list(row.values())
    return ParsedCompositions(z, amount)


# ------------------------------------------------------------------ element tables

@lru_cache(maxsize=None)
def _magpie_featurizer(impute_nan: bool):
    from matminer.featurizers.composition import ElementProperty

    return ElementProperty.from_preset("magpie", impute_nan=impute_nan)


@lru_cache(maxsize=None)
def _magpie_table(properties: tuple[str, ...], impute_nan: bool) -> np.ndarray:
    """Magpie element data as a (MAX_Z + 1, P) array; row 0 (padding) is NaN."""
    source = _magpie_featurizer(impute_nan).data_source
    table = np.full((MAX_Z + 1, len(properties)), np.nan)
    for z in range(1, MAX_Z + 1):
        symbol = Element.from_Z(z).symbol
        table[z] = [source.all_elemental_props[p][symbol] for p in properties]
    return table


@lru_cache(maxsize=None)
def _pymatgen_tables(impute_nan: bool) -> tuple[np.ndarray, tuple[tuple[int, ...], ...]]:
    """Electronegativity (MAX_Z + 1,) and common oxidation states per Z, as matminer reads them."""
    from matminer.utils.data import PymatgenData

    source = PymatgenData(impute_nan=impute_nan)
    electronegativity = np.full(MAX_Z + 1, np.nan)
    oxidation_states: list[tuple[int, ...]] = [()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pymatgen: "no Pauling electronegativity"
        for z in range(1, MAX_Z + 1):
            element = Element.from_Z(z)
            electronegativity[z] = source.get_elemental_property(element, "X")
            oxidation_states.append(tuple(source.get_oxidation_states(element)))
    return electronegativity, tuple(oxidation_states)


# ------------------------------------------------------------------- statistics

def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``np.average`` along axis 1 (same order of operations); padding has weight 0, value 0."""
    return np.multiply(values, weights).sum(axis=1) / weights.sum(axis=1)


def _element_property_stats(parsed: ParsedCompositions, table: np.ndarray,
                            stats: Sequence[str]) -> np.ndarray:
    """matminer ``PropertyStats`` for every (property, stat), as an (n, P * S) array.

    Column order is property-major, as in ``ElementProperty.feature_labels``.
    """
    present = parsed.present[:, :, None]
    values = table[parsed.z]  # (n, K, P); padding rows are NaN
    weights = parsed.amount[:, :, None]
    filled = np.where(present, values, 0.0)
    mean = _weighted_mean(filled, weights)
    computed: dict[str, np.ndarray] = {}
    computed["minimum"] = np.where(present, values, np.inf).min(axis=1)  # NaN propagates
    computed["maximum"] = np.where(present, values, -np.inf).max(axis=1)
    computed["range"] = computed["maximum"] - computed["minimum"]
    computed["mean"] = mean
    deviation = np.where(present, np.abs(np.subtract(filled, mean[:, None, :])), 0.0)
    computed["avg_dev"] = _weighted_mean(deviation, weights)
    heaviest = np.where(parsed.present, parsed.amount, -np.inf).max(axis=1, keepdims=True)
    most_frequent = parsed.present & (
        np.abs(parsed.amount - heaviest) <= _ISCLOSE_ATOL + _ISCLOSE_RTOL * np.abs(heaviest))
    computed["mode"] = np.where(most_frequent[:, :, None], values, np.inf).min(axis=1)
    unknown = set(stats) - computed.keys()
    if unknown:
        raise ValueError(f"statistics {sorted(unknown)} are not implemented")
    return np.stack([computed[s] for s in stats], axis=2).reshape(len(parsed.z), -1)


def _stoichiometry(parsed: ParsedCompositions, p_list: Sequence[int]) -> np.ndarray:
    """matminer ``Stoichiometry``: number of elements and L_p norms of the atomic fractions."""
    fractions = parsed.amount / parsed.amount.sum(axis=1, keepdims=True)
    columns = []
    for p in p_list:
        if p == 0:
            columns.append(parsed.present.sum(axis=1).astype(float))
        else:
            columns.append((fractions ** p).sum(axis=1) ** (1.0 / p))
    return np.stack(columns, axis=1)


def _valence_fractions(parsed: ParsedCompositions, orbitals: Sequence[str],
                       impute_nan: bool) -> np.ndarray:
    """matminer ``ValenceOrbital(props=["frac"])``: share of valence electrons per shell."""
    names = tuple(f"N{orbital}Valence" for orbital in orbitals) + ("NValence",)
    values = np.where(parsed.present[:, :, None], _magpie_table(names, impute_nan)[parsed.z], 0.0)
    means = _weighted_mean(values, parsed.amount[:, :, None])
    return means[:, :-1] / means[:, -1:]


def _neutral_compound_possible(parsed: ParsedCompositions,
                               oxidation_states: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Whether some choice of one common oxidation state per element sums to zero charge.

    matminer's ``IonProperty(fast=True)`` loops over ``itertools.product`` of the states;
    here compositions are grouped by the number of states of their elements, and each group
    enumerates its products with one broadcast sum.
    """
    counts = np.array([len(states) for states in oxidation_states])
    width = counts.max()
    padded = np.zeros((len(oxidation_states), width))
    for z, states in enumerate(oxidation_states):
        padded[z, :len(states)] = states
    n_states = np.where(parsed.present, counts[parsed.z], 1)
    possible = np.zeros(len(parsed.z), dtype=bool)
    codes = n_states @ (width + 1) ** np.arange(n_states.shape[1])  # one integer per signature
    _, first, group = np.unique(codes, return_index=True, return_inverse=True)
    for g, signature in enumerate(n_states[first]):
        rows = np.flatnonzero(group == g)
        if (signature == 0).any():
            continue  # an element without common oxidation states: no neutral compound
        charge = np.zeros((len(rows),) + (1,) * len(signature))
        for k, m in enumerate(signature):
            shape = [len(rows)] + [1] * len(signature)
            shape[k + 1] = m
            term = padded[parsed.z[rows, k], :m] * parsed.amount[rows, k:k + 1]
            charge = charge + term.reshape(shape)
        charge = charge.reshape(len(rows), -1)
        possible[rows] = (np.abs(charge) <= _ISCLOSE_ATOL).any(axis=1)
    return possible


def _ion_properties(parsed: ParsedCompositions, impute_nan: bool) -> np.ndarray:
    """matminer ``IonProperty(fast=True)``: compound possible, max and mean ionic character."""
    electronegativity, oxidation_states = _pymatgen_tables(impute_nan)
    n_elements = parsed.present.sum(axis=1)
    fractions = parsed.amount / parsed.amount.sum(axis=1, keepdims=True)
    x = electronegativity[parsed.z]
    n, width = parsed.z.shape
    max_char = np.full(n, -np.inf)
    mean_char = np.zeros(n)
    for i, j in itertools.combinations(range(width), 2):  # matminer's pair order
        valid = parsed.present[:, j]  # padding is at the end, so j present implies i present
        ionic = 1.0 - np.exp(-0.25 * ((x[:, i] - x[:, j]) ** 2))
        max_char = np.where(valid, np.maximum(max_char, ionic), max_char)  # NaN propagates
        mean_char = np.where(valid, mean_char + fractions[:, i] * fractions[:, j] * ionic,
                             mean_char)
    single = n_elements < 2
    possible = np.where(single, True, _neutral_compound_possible(parsed, oxidation_states))
    max_char[single] = 0.0
    mean_char[single] = 0.0
    return np.stack([possible.astype(float), max_char, mean_char], axis=1)


# ------------------------------------------------------------------------ presets

@lru_cache(maxsize=None)
def _ward_featurizers():
    from matminer.featurizers.composition import IonProperty, Stoichiometry, ValenceOrbital

    return Stoichiometry(), ValenceOrbital(props=["frac"]), IonProperty(fast=True)


def _check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")


def feature_labels(preset: str = "magpie") -> list[str]:
    """matminer's feature labels of ``preset``, in column order."""
    _check_preset(preset)
    magpie = _magpie_featurizer(True).feature_labels()
    if preset == "magpie":
        return list(magpie)
    stoichiometry, valence, ions = _ward_featurizers()
    return [*stoichiometry.feature_labels(), *magpie, *valence.feature_labels(),
            *ions.feature_labels()]


def composition_features(compositions: Iterable, preset: str = "magpie", *,
                         impute_nan: bool = True) -> pd.DataFrame:
    """Composition features of many materials at once, equal to matminer's.

    Args:
        compositions: formula strings, pymatgen ``Composition`` or ``Structure`` objects.
        preset: ``"magpie"`` (132 columns) or ``"ward2016"`` (145 columns).
        impute_nan: as matminer's ``impute_nan`` (its default, True): missing element data
            are replaced by the mean over all elements. With False, a feature is NaN exactly
            where matminer's is (e.g. statistics of noble-gas electronegativity).

    Returns:
        DataFrame (n, D) with matminer's labels; "compound possible" is 1.0/0.0.

    Raises:
        ValueError: unknown preset, empty composition, unknown element or dummy species.
    """
    _check_preset(preset)
    parsed = parse_compositions(compositions)
    magpie = _magpie_featurizer(impute_nan)
    blocks = [_element_property_stats(
        parsed, _magpie_table(tuple(magpie.features), impute_nan), magpie.stats)]
    if preset == "ward2016":
        stoichiometry, valence, _ = _ward_featurizers()
        blocks = [_stoichiometry(parsed, stoichiometry.p_list), *blocks,
                  _valence_fractions(parsed, valence.orbitals, impute_nan),
                  _ion_properties(parsed, impute_nan)]
    return pd.DataFrame(np.concatenate(blocks, axis=1), columns=feature_labels(preset))


def featurize_frame(df: pd.DataFrame, preset: str = "magpie", *,
                    impute_nan: bool = True) -> np.ndarray:
    """Composition features of a table from :mod:`hybridlib.data`, cached on disk.

    The cache key is a fingerprint of the material ids and formulas, the preset and the
    matminer version; a damaged cache file is reported (warning) and rebuilt.

    Returns:
        float array (len(df), D), rows in ``df`` order.
    """
    import matminer

    from ..cache import CacheCorruptedError, cached, fingerprint, load_arrays, save_arrays
    from ..data import cache_dir

    _check_preset(preset)
    key = fingerprint(list(df["material_id"]), list(df["formula"]), preset, impute_nan,
                      matminer.__version__, _CACHE_VERSION)
    path = cache_dir() / "features" / f"{preset}-{key}.npz"

    def build() -> np.ndarray:
        source = df["structure"] if "structure" in df else df["formula"]
        return composition_features(source, preset, impute_nan=impute_nan).to_numpy()

    def load(p) -> np.ndarray:
        features = load_arrays(p)["features"]
        if features.shape != (len(df), len(feature_labels(preset))):
            raise CacheCorruptedError(f"cache file {p} holds an array of shape {features.shape}")
        return features

    return cached(path, build, save=lambda p, x: save_arrays(p, features=x), load=load)
