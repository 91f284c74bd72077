# Shortcuts for the scripts in scripts/ (which are what README.md documents).
.PHONY: setup run test bench lint
setup: ; ./scripts/setup
run: ; ./scripts/run
test: ; ./scripts/test
bench: ; ./scripts/bench
lint: ; uv run ruff check . && uv run ruff format --check . && uv run mypy
