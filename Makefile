# The two set-up commands; see README.md.
.PHONY: run test bench lock

run:  ## the dashboard on SQLite with demo data, at http://127.0.0.1:8000 (PORT=8001 for another port)
	@scripts/run

test:  ## the whole test suite (PostgreSQL at DATABASE_URL, default the local server)
	@scripts/test $(ARGS)

lock:  ## re-pin requirements/*.txt after changing pyproject.toml
	.venv/bin/python -m pip install --quiet uv
	.venv/bin/uv pip compile pyproject.toml --quiet --python-version 3.12 -o requirements/base.txt
	.venv/bin/uv pip compile pyproject.toml --quiet --python-version 3.12 --extra test -o requirements/test.txt
	.venv/bin/uv pip compile pyproject.toml --quiet --python-version 3.12 --extra clickhouse -o requirements/clickhouse.txt
