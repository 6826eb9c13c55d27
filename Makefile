# Two commands do everything on a fresh machine (see README):
#   make book   - install, execute every chapter on the offline MP sample, build _build/html
#   make test   - install, run the unit tests, nbval over every chapter, the browser check of
#                 the book built on the ci profile (installs Chromium as root) and the
#                 Colab-path check (make colab-check)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch==2.13.0 resolves here to a 1.8 GB CPU wheel; a bare `torch` pulls a 6 GB CUDA build.
# Override (e.g. TORCH_SPEC=torch) on machines with a GPU. Colab keeps its own torch.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
MATHJAX := book/_static/mathjax/.version
export HYBRIDLIB_CACHE_DIR ?= $(CURDIR)/.cache/hybridlib
export MPLBACKEND ?= Agg
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install book test exercises-nbval-then-colab colab-check browser check-ci check-book students grading-test bench set-repo clean

install: $(STAMP) $(MATHJAX)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[book,test,tools,pretrained]"
	# matbench 0.6 pins matminer 0.7.4 / scipy 1.7.3 / scikit-learn 1.0.1 (unresolvable on
	# Python >= 3.10); everything it needs at run time is already installed above.
	$(BIN)/pip install -q --no-deps "matbench==0.6"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# MathJax for the book's formulas, served by the book itself: unpacked from the npm
# package mathjax@3.2.2 (~2 MB, not committed; the book build stops without it).
$(MATHJAX): tools/vendor_mathjax.py | $(STAMP)
	$(BIN)/python -m tools.vendor_mathjax
	touch $@

# Training happens first, two single-threaded workers filling the run registry; the book
# build then only reads results. Jupyter Book's caches know only the notebooks' code, so
# the build starts afresh whenever hybridlib, the data or the profile changed.
BOOK_STAMP := _build/.hybridlib-version
book: install
	export HYBRIDLIB_PROFILE=$${HYBRIDLIB_PROFILE:-book}; \
	$(BIN)/python -m hybridlib.experiments --jobs 2; \
	version="$$($(BIN)/python -m hybridlib.results --version)"; \
	if [ "$$(cat $(BOOK_STAMP) 2>/dev/null)" != "$$version" ]; then rm -rf _build; fi; \
	$(BIN)/jupyter-book build . -W -n --keep-going; \
	echo "$$version" > $(BOOK_STAMP); \
	test -f _build/html/index.html && echo "book: _build/html/index.html"

# Unit tests, then three checks side by side (each runs one kernel at a time, so two cores
# serve them together; each one's log is printed when it ends): nbval over the graded exercise
# notebook followed by the Colab path, and the ci-profile book (its build executes every chapter
# and fails on any cell error: allow_errors false, -W) read in headless Chromium. The test files
# are spread over both cores (pytest-xdist, one file per worker at a time: module fixtures are
# built once); the ten slowest tests are listed in the log.
test: install browser
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m hybridlib.experiments --jobs 2
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m pytest tests -q -m "slow or not slow" --durations=10 -n 2 --dist loadfile
	$(MAKE) --no-print-directory -j 2 --output-sync=target exercises-nbval-then-colab check-ci

# nbval over the graded exercise notebook (the registry filled by make test), then the Colab path.
exercises-nbval-then-colab: install
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=900 -q \
		-p no:cacheprovider chapters/05_8_exercises.ipynb
	$(MAKE) --no-print-directory colab-check

# The Colab path on this machine: a fresh venv that already has torch, hybridlib installed by
# the chapters' own setup cell from a git+file:// copy of this tree, one chapter and the
# student notebook run from a folder outside the repository (tools/colab_check.py).
colab-check: install
	$(BIN)/python -m tools.colab_check

# Chromium and the fonts a reader's browser has (Japanese, emoji), for tools.browser_check.
# CI runs as root on Debian and installs them; elsewhere the command to run is printed.
BROWSER_PACKAGES := chromium fonts-noto-cjk fonts-noto-color-emoji
browser:
	@if command -v chromium >/dev/null && fc-list :lang=ja | grep -q . \
	    && fc-list :charset=2705 | grep -q .; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $(BROWSER_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; \
	else \
	  echo "the browser check needs: sudo apt-get install -y --no-install-recommends $(BROWSER_PACKAGES)" >&2; \
	  exit 1; \
	fi

# The ci-profile book (its own build folder, so its pages never mix with the book profile's),
# checked page by page in Chromium with the network off; screenshots in $(CI_BUILD)/screenshots.
CI_BUILD := _build/ci
check-ci: install browser
	export HYBRIDLIB_PROFILE=ci; \
	version="$$($(BIN)/python -m hybridlib.results --version)"; \
	if [ "$$(cat $(CI_BUILD)/.hybridlib-version 2>/dev/null)" != "$$version" ]; then rm -rf $(CI_BUILD); fi; \
	$(BIN)/jupyter-book build . --path-output $(CI_BUILD) -W -n --keep-going -q; \
	echo "$$version" > $(CI_BUILD)/.hybridlib-version
	$(BIN)/python -m tools.browser_check $(CI_BUILD)/_build/html --screenshots $(CI_BUILD)/screenshots

check-book: install browser
	$(BIN)/python -m tools.browser_check _build/html --screenshots _build/screenshots

students: install
	$(BIN)/python -m tools.grading students chapters/05_8_exercises.ipynb --out students

# The grading tools alone: unit tests, the fixture class end to end, the book's exercises.
grading-test: install
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m hybridlib.experiments --jobs 2
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m pytest -q tests/tools/test_grading.py \
		tests/tools/test_grading_e2e.py tests/tools/test_grading_book.py

bench: install
	$(BIN)/python -m tools.bench features

# make set-repo URL=https://github.com/you/hybrid-book : _config.yml, launch buttons, the Colab
# cell and links of every chapter and of the student copy (book/instructor.md: then
# make students, commit, push, hand out the Colab links)
set-repo: install
	test -n "$(URL)" || { echo "usage: make set-repo URL=https://github.com/you/hybrid-book"; exit 2; }
	$(BIN)/python -m tools.set_repository "$(URL)"

# Generated files only: students/ and everything else git tracks stay.
clean:
	rm -rf _build .cache grading_out
