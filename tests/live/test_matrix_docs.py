"""docs/call-tracker.md carries the scenario matrix exactly as pbxlab.matrix defines it."""

from __future__ import annotations

from pathlib import Path

from pbxlab.matrix import matrix_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "call-tracker.md"


def test_the_docs_table_is_the_matrix() -> None:
    text = DOC.read_text()
    start = text.index("<!-- matrix-table:")
    table = text[text.index("\n", start) + 1 : text.index("<!-- /matrix-table -->")]
    assert table == matrix_table(), "regenerate the table with pbxlab.matrix.matrix_table()"
