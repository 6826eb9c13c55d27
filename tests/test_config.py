"""Which profile a run gets when it names none."""
from __future__ import annotations

import hybridlib.config as hc


def test_without_env_the_quick_ci_profile_runs(monkeypatch):
    monkeypatch.delenv(hc.PROFILE_ENV, raising=False)
    assert hc.get_profile().name == "ci" == hc.resolve_profile(None).name
    quick, book = hc.get_profile("ci"), hc.get_profile("book")
    assert quick.data.n_materials < book.data.n_materials
    assert quick.training.steps < book.training.steps


def test_env_and_argument_still_choose(monkeypatch):
    monkeypatch.setenv(hc.PROFILE_ENV, " Book ")
    assert hc.get_profile().name == "book"
    assert hc.get_profile("full").name == "full"
