# The README's commands. Each target installs what it needs first, so on a fresh
# machine `make book` and `make test` are all there is to do.
#   make book     build the HTML book (zero warnings allowed) and say where it is
#   make test     builds the book, then: helper unit tests, the lock check, ruff
#                 and codespell, strict nbval over every notebook (2 cores), and
#                 checks that the built HTML reads offline
#   make portability  re-runs the notebooks with other numerics (untagged cells
#                 compared strictly, numerics cells by their assertions), then
#                 on one core (everything compared); see book/testing.md
#   make browser-check  renders every page in headless Chromium (needs chromium);
#                 fails on any console error, and on cell code wider than its
#                 column
#   make lab      JupyterLab on notebooks/ with the project's kernel
#   make execute  re-run every notebook in place, each in a fresh kernel; consecutive
#                 stdout chunks are merged afterwards, so how the kernel happened to
#                 flush its output never shows up in git diff; then record this
#                 machine's numerics fingerprint beside the outputs
#                 (tests/numerics.json)
#   make benchmark  timings behind the book's performance claims (not a test:
#                 timings are not reproducible outputs); prints ratios, and what
#                 the portable numerics cost
#   make format   ruff: format notebooks, tests, benchmarks and helpers (but those
#                 the chapters print; see pyproject.toml), and apply safe lint
#                 fixes (make test checks both)
#   make compat STACK=colab|floor  the notebooks and the helper tests on another
#                 stack (Colab's TensorFlow 2.20 / Keras 3.13, or the floor, 2.19 /
#                 3.10), each in its own environment (.venv-colab, .venv-floor);
#                 see compat/run.py and book/versions.md
#   make lock     recompile requirements.txt from requirements.in, and the compat
#                 stacks' locks (compat/*.txt) from theirs (needs network)
#   make clean    remove the built book (keeps .venv)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
KERNEL := keras-tf-book
STAMP  := $(VENV)/.installed
# The lock's installer, the same version as pinned in requirements.in.
UV_VERSION := 0.13.9
# The one complaint `uv pip check` may make (see requirements-overrides.txt).
KNOWN_CHECK := The package `tf-keras` requires `tensorflow>=2.21,<2.22`, but it

.PHONY: install book test portability browser-check compat lab execute benchmark lock format clean

install: $(STAMP)

# pip only bootstraps uv; uv installs exactly the lock (`pip sync`: adds, changes
# and removes packages until .venv holds requirements.txt and nothing else), and
# compiles the bytecode as pip would (without it, every fresh kernel would spend
# seconds compiling TensorFlow's Python files, or do so each time where
# PYTHONDONTWRITEBYTECODE is set).
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  sys.exit(0 if (3, 11) <= v <= (3, 13) else \
	  "This book needs Python 3.11, 3.12 or 3.13 (found %d.%d): " % v \
	  + "run make with PYTHON=python3.12, for example.")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet --compile-bytecode --python $(PY) requirements.txt
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	@problems="$$($(UV) pip check --color never --python $(PY) 2>&1 \
	  | grep -vF '$(KNOWN_CHECK)' | grep -vE '^Checked [0-9]+ packages' \
	  | grep -vxF 'Found 1 incompatibility' \
	  | grep -vxF 'All installed packages are compatible' || true)"; \
	  if [ -n "$$problems" ]; then echo "uv pip check: $$problems"; exit 1; fi
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

portability: $(STAMP)
	$(PY) tests/portability.py

browser-check: book
	$(PY) tests/html/render_pages.py

# The compat stacks run on Python 3.11, Linux x86-64 (Colab's platform; their locks
# are compiled for that platform). STACK picks one; each has its own venv.
STACK ?= colab
COMPAT_PYTHON ?= python3.11
COMPAT_VENV := .venv-$(STACK)
COMPAT_STAMP := $(COMPAT_VENV)/.installed

$(COMPAT_VENV)/.installed: compat/$(STACK).txt pyproject.toml
	@case "$(STACK)" in colab|floor) ;; *) echo "STACK must be colab or floor" \
	  "(got '$(STACK)'): make compat STACK=colab"; exit 1;; esac
	@$(COMPAT_PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] \
	  == (3, 11) else "The compat stacks run on Python 3.11: " \
	  "run make with COMPAT_PYTHON=/path/to/python3.11.")'
	test -x $(COMPAT_VENV)/bin/python || $(COMPAT_PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(COMPAT_VENV)/bin/uv pip sync --quiet --compile-bytecode --python $(COMPAT_VENV)/bin/python compat/$(STACK).txt
	$(COMPAT_VENV)/bin/uv pip install --quiet --python $(COMPAT_VENV)/bin/python --no-deps --no-build-isolation -e .
	touch $@

compat: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/python compat/run.py --stack $(STACK)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

execute: $(STAMP)
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.kernel_name=$(KERNEL) \
	  --ExecutePreprocessor.timeout=1200 \
	  --ExecutePreprocessor.record_timing=False \
	  --Exporter.preprocessors=nbconvert.preprocessors.CoalesceStreamsPreprocessor \
	  notebooks/*.ipynb
	$(PY) template/nbval_numerics.py record tests/numerics_probe.py tests/numerics.json

benchmark: $(STAMP)
	$(PY) -m benchmarks.steps
	@echo
	$(PY) -m benchmarks.dtw
	@echo
	$(PY) -m benchmarks.numerics

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: $(STAMP)
	$(UV) pip compile requirements.in --universal --python-version 3.11 \
	  --overrides requirements-overrides.txt --custom-compile-command "make lock" \
	  --output-file requirements.txt
	for stack in colab floor; do \
	  $(UV) pip compile compat/$$stack.in --python-platform x86_64-manylinux_2_28 \
	    --python-version 3.11 --overrides compat/$$stack-overrides.txt \
	    --custom-compile-command "make lock" --output-file compat/$$stack.txt \
	    || exit 1; \
	done

clean:
	rm -rf _build
