"""Text from records and data in Markdown and LaTeX: every special character neutralised."""

import re

from codesign import escape


def test_latex_specials_and_newlines():
    assert escape.tex(r"a\b{c}~^#$") == r"a\textbackslash{}b\{c\}\textasciitilde{}\^{}\#\$"
    assert escape.tex("L1T//Run summary/x_y 5% & <more>\nline") == \
        r"L1T//Run summary/x\_y 5\% \& \textless{}more\textgreater{} line"


def test_markdown_cells_cannot_break_the_table_or_inject_html():
    text = "a|b <script>alert(1)</script> *bold* _em_ `code` [link](x) \\ #1\nnext sparse_lstm"
    out = escape.markdown(text)
    assert "\n" not in out and "<script>" not in out and "sparse_lstm" in out and r"\_em\_" in out
    assert not re.search(r"(?<!\\)[|*`\[\]<>]", out)  # every special preceded by its backslash
    assert re.sub(r"\\(.)", r"\1", out) == text.replace("\n", " ")  # and nothing else changed
