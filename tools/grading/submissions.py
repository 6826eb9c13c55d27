"""Finding the submitted notebooks under a folder and naming their students.

Every ``*.ipynb`` (any case: ``.IPYNB`` counts) under the folder is one submission; hidden
folders and files (``.ipynb_checkpoints``) are skipped. The student id is the notebook's path
without its suffix (``alice.ipynb`` -> ``alice``), or its folder when the folder holds only that
notebook (``carol/05_8_exercises.ipynb`` -> ``carol``, the layout LMS exports use). When two
submissions would get the same id (``alice.ipynb`` and ``alice/hw.ipynb``), both are named by
their paths instead (``alice``, ``alice/hw``) and a note says so: two submissions never merge.
:func:`safe_name` gives every id a distinct file name (``x y`` and ``x_y`` differ).
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Submission", "find_submissions", "safe_name"]


@dataclass(frozen=True)
class Submission:
    """One submitted notebook and the id of its student."""

    student: str
    path: Path
    relative: str   # the path inside the submissions folder


def _notebooks(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() == ".ipynb" and path.is_file():
            found.append(path)
    return sorted(found)


def find_submissions(root: Path | str) -> tuple[list[Submission], list[str]]:
    """Submissions under ``root`` with unique student ids, and notes (Japanese) on the naming."""
    root = Path(root)
    notebooks = _notebooks(root)
    per_folder = Counter(p.parent for p in notebooks)

    def preferred(path: Path) -> str:
        relative = path.relative_to(root)
        alone = path.parent != root and per_folder[path.parent] == 1
        return (relative.parent if alone else relative.with_suffix("")).as_posix()

    groups: dict[str, list[Path]] = defaultdict(list)
    for path in notebooks:
        groups[preferred(path)].append(path)
    notes, named = [], []
    for student, paths in groups.items():
        paths = sorted(paths, key=lambda p: p.relative_to(root).as_posix())
        if len(paths) == 1:
            named.append(Submission(student, paths[0], paths[0].relative_to(root).as_posix()))
            continue
        stems = [p.relative_to(root).with_suffix("").as_posix() for p in paths]
        ids = stems if len(set(stems)) == len(stems) else [
            p.relative_to(root).as_posix() for p in paths]
        named += [Submission(i, p, p.relative_to(root).as_posix()) for i, p in zip(ids, paths)]
        listing = ", ".join(p.relative_to(root).as_posix() for p in paths)
        notes.append(f"学生 ID「{student}」になる提出物が {len(paths)} つあります（{listing}）。"
                     f"別々に {', '.join(ids)} として採点しました。")
    folders = Counter(p.parent for p in notebooks if p.parent != root)
    for folder, count in sorted(folders.items()):
        if count > 1:
            notes.append(f"フォルダ {folder.relative_to(root).as_posix()} に提出物が {count} つあります。"
                         "それぞれを別の提出物として採点しました。")
    lowered = Counter(s.student.casefold() for s in named)
    for student in sorted({s.student for s in named if lowered[s.student.casefold()] > 1}):
        notes.append(f"大文字と小文字だけが違う学生 ID があります: {student}")
    return sorted(named, key=lambda s: s.student), notes


def safe_name(student: str) -> str:
    """A file name for ``student``: readable, and different for different ids."""
    readable = re.sub(r"[^\w.-]+", "_", student).strip("._")[:60] or "student"
    return f"{readable}-{hashlib.sha256(student.encode()).hexdigest()[:8]}"
