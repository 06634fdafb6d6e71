"""The code style the project holds itself to: ruff, configured in pyproject.toml, is clean."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                           "src", "tests", "benchmarks", "examples", "docs"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _library_files():
    return sorted((ROOT / "src" / "spectranet").rglob("*.py"))


def test_functions_fit_on_a_screen_or_two():
    """No library function longer than 100 lines, docstring included (CONTRIBUTING.md)."""
    import ast

    long = []
    for path in _library_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 100:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "split these into named steps:\n" + "\n".join(long)


def test_files_read_in_one_sitting():
    """No library file much beyond 500 lines (the guide's 'about 500')."""
    big = [f"{p.relative_to(ROOT)} ({n} lines)" for p in _library_files()
           if (n := len(p.read_text().splitlines())) > 520]
    assert not big, "split these by what they hold:\n" + "\n".join(big)
