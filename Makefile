# Two commands do everything on a fresh machine (see README):
#   make book   - install, execute every chapter on the offline MP sample, build _build/html
#   make test   - install, run the unit tests and nbval over every chapter (ci profile)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch==2.13.0 resolves here to a 1.8 GB CPU wheel; a bare `torch` pulls a 6 GB CUDA build.
# Override (e.g. TORCH_SPEC=torch) on machines with a GPU. Colab keeps its own torch.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
export HYBRIDLIB_CACHE_DIR ?= $(CURDIR)/.cache/hybridlib
export MPLBACKEND ?= Agg
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install book test check-book students grading-test bench set-repo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[book,test,tools]"
	# matbench 0.6 pins matminer 0.7.4 / scipy 1.7.3 / scikit-learn 1.0.1 (unresolvable on
	# Python >= 3.10); everything it needs at run time is already installed above.
	$(BIN)/pip install -q --no-deps "matbench==0.6"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

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

test: install
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m hybridlib.experiments --jobs 2
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m pytest tests -q
	HYBRIDLIB_PROFILE=ci $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=900 -q -p no:cacheprovider chapters

check-book: install
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

# make set-repo URL=https://github.com/you/hybrid-book : launch buttons + Colab setup cells
set-repo: install
	test -n "$(URL)" || { echo "usage: make set-repo URL=https://github.com/you/hybrid-book"; exit 2; }
	$(BIN)/python -m tools.set_repository "$(URL)"

clean:
	rm -rf _build .cache students
