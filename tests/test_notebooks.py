"""Both notebooks run top to bottom with nbclient, offline, on a temporary SQLite database."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from numbersearch.cli.voila import notebook_path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    # The kernel is the venv's python3 (jupyter_client swaps "python" for this interpreter).
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def assert_no_errors(notebook: nbformat.NotebookNode) -> None:
    for output in outputs(notebook):
        assert output["output_type"] != "error", "\n".join(output.get("traceback", []))
        if output["output_type"] == "stream":
            assert "Traceback" not in output["text"], output["text"]


def code_statements(path: Path) -> list[ast.stmt]:
    notebook = nbformat.read(path, as_version=4)
    return [stmt for cell in notebook.cells if cell.cell_type == "code" for stmt in ast.parse(cell.source).body]


@pytest.mark.parametrize("path", [NOTEBOOKS / "dashboard.ipynb", notebook_path()], ids=["checkout", "packaged"])
def test_dashboard_notebook_holds_only_imports_and_display_calls(path):
    statements = code_statements(path)
    assert statements
    for stmt in statements:
        is_import = isinstance(stmt, ast.Import | ast.ImportFrom)
        is_display = (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name)
            and stmt.value.func.id == "display"
        )
        assert is_import or is_display, ast.unparse(stmt)


def test_packaged_dashboard_notebook_is_the_checkout_one():
    sources = [
        [c.source for c in nbformat.read(p, as_version=4).cells]
        for p in (NOTEBOOKS / "dashboard.ipynb", notebook_path())
    ]
    assert sources[0] == sources[1]


def test_dashboard_notebook_runs(sandbox_env, sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    notebook = execute(NOTEBOOKS / "dashboard.ipynb", tmp_path)
    assert_no_errors(notebook)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs(notebook))
    state = json.dumps(notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"])
    assert "Sync Management" in state and "Sync Number Types" in state and "Regulations" in state
    assert Path(sqlite_url.removeprefix("sqlite:///")).exists(), "the dashboard must use DATABASE_URL"


def test_explore_notebook_runs_offline(tmp_path):
    notebook = execute(NOTEBOOKS / "explore.ipynb", tmp_path)
    assert_no_errors(notebook)
    text = json.dumps([o for o in outputs(notebook)])
    assert "image/png" in text, "the plot of number types per country"
    assert "regulations-" in text and "Requirements" in text, "the export"
    assert "completed" in text
    assert not list(tmp_path.glob("*.db")), "the walkthrough keeps its database in a temporary folder"
    assert "ready for" in text and "+1415" in text, "a readiness and a live search example"
    shown = [o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in outputs(notebook)]
    assert not [s for s in shown if "\\n" in s], "no literal \\n in what the walkthrough shows"


def test_explore_notebook_uses_the_readmes_api():
    # The README's `import numbersearch as ns` and `ns.*`, not the package's inner modules.
    imports = [s for s in code_statements(NOTEBOOKS / "explore.ipynb") if isinstance(s, ast.Import | ast.ImportFrom)]
    inner = [
        ast.unparse(s)
        for s in imports
        if isinstance(s, ast.ImportFrom) and (s.module or "").startswith("numbersearch")
        and s.module not in ("numbersearch.sandbox", "numbersearch.db")
    ]
    assert inner == []
    assert any(isinstance(s, ast.Import) and any(a.name == "numbersearch" and a.asname == "ns" for a in s.names)
               for s in imports)
