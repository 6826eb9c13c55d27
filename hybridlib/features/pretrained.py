"""Frozen crystal embeddings from a pretrained universal potential (CHGNet), cached by content.

CHGNet {cite}`deng2023chgnet` is a graph network pretrained on the Materials Project
trajectory data set (MPtrj {cite}`mptrj2023`). Its crystal feature, the mean over atoms
of the 64-number atom features its energy read-out acts on, is a fixed description of a
crystal. Here it is used *frozen*: computed once per structure and fed to ordinary models
(a random forest, an MLP) next to the Magpie features.

* :func:`chgnet_embeddings` -> float32 array ``(N, 64)``, one row per structure, in order.
  Each structure is computed once: embeddings are stored under
  ``<cache_dir>/pretrained/chgnet-<model key>/`` in shards keyed by
  :func:`structure_fingerprint` (species, fractional coordinates and lattice), and the
  folder's model key covers the ``chgnet`` version, the checkpoint name and a hash of its
  weights (:func:`model_fingerprint`). Two processes asking for the same structures share
  the work (one file lock per shard).
* ``chgnet`` is an optional dependency (``pip install "hybridlib[pretrained]"``); without it
  :class:`MissingOptionalDependencyError` says how to install it.

The embedding does not depend on the batch a structure is computed in (checked by the
tests), so cached and freshly computed rows agree.
Introduced in: chapter 5.9.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from pymatgen.core import Structure

__all__ = ["CHGNET_MODEL", "EMBEDDING_DIM", "INSTALL_HINT", "MissingOptionalDependencyError",
           "require_chgnet", "load_chgnet", "model_fingerprint", "structure_fingerprint",
           "chgnet_embeddings", "embedding_labels", "model_card"]

#: The CHGNet checkpoint bundled in the ``chgnet`` wheel that the book uses.
CHGNET_MODEL = "0.3.0"
#: Width of CHGNet's crystal feature (``atom_fea_dim`` of the pretrained models).
EMBEDDING_DIM = 64
INSTALL_HINT = ('pip install "hybridlib[pretrained]"  (or: pip install "chgnet>=0.4"); '
                "on Colab the chapter's setup cell installs it")
#: Structures per cache shard (also the unit two processes split the work by).
SHARD_SIZE = 250
_EMBEDDING_VERSION = 1  # what is stored: the pooled crystal feature of task "e"
_DECIMALS = 6  # coordinates and lattice are compared to 1e-6 (the data carry 8 decimals)


class MissingOptionalDependencyError(ImportError):
    """An optional package needed for this feature is not installed."""


def require_chgnet():
    """The ``CHGNet`` class, or :class:`MissingOptionalDependencyError` with the install line."""
    try:
        from chgnet.model import CHGNet
    except ImportError as exc:
        raise MissingOptionalDependencyError(
            f"the pretrained CHGNet embedding needs the optional package 'chgnet' (>= 0.4), "
            f"which cannot be imported ({exc}). Install it with: {INSTALL_HINT}") from exc
    return CHGNet


@lru_cache(maxsize=None)
def load_chgnet(model_name: str = CHGNET_MODEL):
    """The pretrained CHGNet bundled with the ``chgnet`` wheel (offline), on the CPU, in eval mode."""
    CHGNet = require_chgnet()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameter count
        model = CHGNet.load(model_name=model_name, use_device="cpu", verbose=False)
    return model.eval()


@lru_cache(maxsize=None)
def model_fingerprint(model_name: str = CHGNET_MODEL) -> str:
    """Hash of the ``chgnet`` version, the checkpoint name and every weight of the model."""
    import chgnet

    from ..cache import fingerprint

    digest = hashlib.sha256()
    for name, tensor in sorted(load_chgnet(model_name).state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return fingerprint("chgnet", chgnet.__version__, model_name, digest.hexdigest(),
                       _EMBEDDING_VERSION)


def model_card(model_name: str = CHGNET_MODEL) -> str:
    """The README shipped with a bundled checkpoint (its training data and errors), offline."""
    require_chgnet()
    from importlib.resources import files

    card = files("chgnet") / "pretrained" / model_name / "README.md"
    if not card.is_file():
        raise FileNotFoundError(f"the chgnet package has no model card for {model_name!r}")
    return card.read_text(encoding="utf-8")


def structure_fingerprint(structure: Structure) -> str:
    """Content hash of a crystal: species, fractional coordinates and lattice (to 1e-6).

    Two structures with the same key give the same CHGNet input; any change of an element, a
    position or the cell gives a new key. Site order is part of the key (a reordered copy is
    computed again, with the same result).
    """
    from ..cache import fingerprint

    lattice = np.round(structure.lattice.matrix, _DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    coords = np.round(structure.frac_coords, _DECIMALS) + 0.0
    return fingerprint([site.species_string for site in structure], lattice.tolist(),
                       coords.tolist(), length=24)


def embedding_labels(prefix: str = "chgnet") -> list[str]:
    """Column names of the embedding: ``chgnet_0`` ... ``chgnet_63``."""
    return [f"{prefix}_{k}" for k in range(EMBEDDING_DIM)]


def _embed(model, structures: Sequence[Structure], ids: Sequence[str],
           batch_size: int) -> np.ndarray:
    """CHGNet crystal features ``(n, 64)`` of the structures (no cache)."""
    import torch

    graphs = []
    for structure, material_id in zip(structures, ids):
        try:
            graphs.append(model.graph_converter(structure, graph_id=str(material_id)))
        except Exception as exc:  # CHGNet raises ValueError/RuntimeError for odd cells
            raise ValueError(f"CHGNet cannot build the graph of material {material_id!r} "
                             f"({type(exc).__name__}: {exc})") from exc
    with warnings.catch_warnings(), torch.no_grad():
        # chgnet turns a tensor into a number inside its forward pass; harmless here
        warnings.filterwarnings("ignore", message=".*detach", category=UserWarning)
        predictions = model.predict_graph(graphs, task="e", return_crystal_feas=True,
                                          batch_size=batch_size)
    if isinstance(predictions, dict):  # one graph: chgnet returns the dict itself
        predictions = [predictions]
    return np.stack([p["crystal_fea"] for p in predictions]).astype(np.float32)


def _read_store(folder: Path) -> dict[str, np.ndarray]:
    """Every cached embedding of one model: key -> (64,) vector. Damaged shards are dropped."""
    from ..cache import CacheCorruptedError, load_arrays

    known: dict[str, np.ndarray] = {}
    for path in sorted(folder.glob("*.npz")):
        try:
            arrays = load_arrays(path)
            keys, values = arrays["keys"], arrays["embeddings"]
            if values.shape != (len(keys), EMBEDDING_DIM):
                raise CacheCorruptedError(f"cache file {path} holds shape {values.shape}")
        except (CacheCorruptedError, KeyError) as exc:
            warnings.warn(f"{exc}; its embeddings are computed again", stacklevel=3)
            path.unlink(missing_ok=True)
            continue
        known.update(zip(keys.tolist(), values))
    return known


def _fill_shard(folder: Path, keys: list[str], compute, known: dict, *, wait: bool) -> bool:
    """Compute and store one shard unless another process holds it; False if it does."""
    from filelock import FileLock, Timeout

    from ..cache import fingerprint, load_arrays, save_arrays

    path = folder / f"{fingerprint(keys, length=20)}.npz"
    try:
        lock = FileLock(str(path) + ".lock", timeout=-1 if wait else 0)
        lock.acquire()
    except Timeout:
        return False
    try:
        if path.exists():  # finished by another process meanwhile
            arrays = load_arrays(path)
            known.update(zip(arrays["keys"].tolist(), arrays["embeddings"]))
            return True
        values = compute(keys)
        save_arrays(path, keys=np.array(keys, dtype=str), embeddings=values)
        known.update(zip(keys, values))
        return True
    finally:
        lock.release()


def chgnet_embeddings(structures: Sequence[Structure], ids: Sequence[str] | None = None, *,
                      model_name: str = CHGNET_MODEL, batch_size: int = 50,
                      progress: bool = True, cache: bool = True) -> np.ndarray:
    """CHGNet's pooled crystal feature of every structure, computed once and cached.

    Args:
        structures: pymatgen structures.
        ids: material ids, used only to name a structure CHGNet cannot read.
        model_name: the CHGNet checkpoint (``"0.3.0"``; ``"0.2.0"`` and ``"r2scan"`` also
            ship with the wheel).
        batch_size: structures per forward pass (the result does not depend on it).
        progress: show a progress bar over the structures that are not cached yet.
        cache: read and write ``<cache_dir>/pretrained/chgnet-<model key>/``.

    Returns:
        float32 array ``(len(structures), 64)``, rows in input order.

    Raises:
        MissingOptionalDependencyError: ``chgnet`` is not installed.
        ValueError: CHGNet cannot build a structure's graph (the message names it).
    """
    from tqdm.auto import tqdm

    from ..data import cache_dir

    require_chgnet()
    structures = list(structures)
    ids = [f"#{i}" for i in range(len(structures))] if ids is None else list(ids)
    if len(ids) != len(structures):
        raise ValueError(f"{len(ids)} ids for {len(structures)} structures")
    if not structures:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    model = load_chgnet(model_name)
    keys = [structure_fingerprint(s) for s in structures]
    first = {key: i for i, key in reversed(list(enumerate(keys)))}

    def compute(chunk: list[str]) -> np.ndarray:
        rows = [first[k] for k in chunk]
        values = _embed(model, [structures[i] for i in rows], [ids[i] for i in rows],
                        batch_size)
        bar.update(len(chunk))
        return values

    folder = cache_dir() / "pretrained" / f"chgnet-{model_fingerprint(model_name)}"
    known = _read_store(folder) if cache else {}
    missing = [k for k in first if k not in known]
    with tqdm(total=len(missing), disable=not progress or not missing,
              desc="CHGNet embeddings", unit="structure") as bar:
        if not cache:
            known.update(zip(missing, compute(missing)))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            # shards follow the request order, so two processes asking alike agree on them
            ordered = list(first)
            shards = [[k for k in ordered[i:i + SHARD_SIZE] if k not in known]
                      for i in range(0, len(ordered), SHARD_SIZE)]
            busy = [s for s in shards if s and not _fill_shard(folder, s, compute, known,
                                                                 wait=False)]
            for shard in busy:
                _fill_shard(folder, shard, compute, known, wait=True)
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)
