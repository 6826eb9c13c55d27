"""The course's tools, kept beside the library: grading, the browser check of the built book,
the book's offline MathJax (``vendor_mathjax``, also its Sphinx guard), repository-URL
rewriting, benchmarks and the Matbench runner.

They import :mod:`hybridlib`; :mod:`hybridlib` never imports them, and editing them never
invalidates a trained run or the book build. Run them from the repository root
(``python -m tools.grade ...``); the Makefile targets do that.
"""
