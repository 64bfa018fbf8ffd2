"""The models depend on nothing of the app above them, so their package has no import
cycle: the event store, ingestion and the views use the models, never the reverse."""

import ast
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "analytics" / "models"
ALLOWED = ("analytics.models", "analytics.traits")


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            yield names[0] if node.module != "analytics" else names[1]
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_the_models_import_only_models_and_trait_rules_of_the_app():
    upward = {
        f"{path.name}: {module}"
        for path in MODELS.glob("*.py")
        for module in imported_modules(path)
        if module.startswith("analytics") and not module.startswith(ALLOWED)
    }
    assert upward == set()
