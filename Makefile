# The README's commands. Each target installs what it needs first, so on a fresh
# machine `make book` and `make test` are all there is to do.
#   make book     build the HTML book (zero warnings allowed) and say where it is
#   make test     builds the book, then: helper unit tests, strict nbval over every
#                 notebook (2 cores), and checks that the built HTML reads offline
#   make browser-check  renders every page in headless Chromium (needs chromium);
#                 fails on any console error
#   make lab      JupyterLab on notebooks/ with the project's kernel
#   make execute  re-run every notebook in place, each in a fresh kernel; consecutive
#                 stdout chunks are merged afterwards, so how the kernel happened to
#                 flush its output never shows up in git diff
#   make benchmark  timings behind the book's performance claims (not a test:
#                 timings are not reproducible outputs); prints ratios
#   make clean    remove the built book (keeps .venv)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KERNEL := keras-tf-book
STAMP  := $(VENV)/.installed
# The one complaint `pip check` is allowed to make (see requirements.txt).
KNOWN_PIP_CHECK := tf-keras 2.21.0 requires tensorflow, which is not installed.

.PHONY: install book test browser-check lab execute benchmark clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==26.3
	$(PY) -m pip install --no-deps -r requirements.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	@problems="$$($(PY) -m pip check 2>&1 | grep -vxF '$(KNOWN_PIP_CHECK)' || true)"; \
	  if [ -n "$$problems" ]; then echo "pip check: $$problems"; exit 1; fi
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))"
	touch $(STAMP)

book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(VENV)/bin/jupyter-book build . --all --warningiserror --nitpick --keep-going
	@echo
	@echo "The book is built. Open it in a browser:"
	@echo "    file://$(CURDIR)/_build/html/index.html"

test: book
	$(PY) -m pytest

browser-check: book
	$(PY) tests/html/render_pages.py

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

execute: $(STAMP)
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.kernel_name=$(KERNEL) \
	  --ExecutePreprocessor.timeout=1200 \
	  --ExecutePreprocessor.record_timing=False \
	  --Exporter.preprocessors=nbconvert.preprocessors.CoalesceStreamsPreprocessor \
	  notebooks/*.ipynb

benchmark: $(STAMP)
	$(PY) -m benchmarks.steps
	@echo
	$(PY) -m benchmarks.dtw

clean:
	rm -rf _build
