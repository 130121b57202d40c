"""Text from records and data (labels, architectures, histogram names, tags, target names) made safe for the
format it is written into. HTML goes through Jinja2's autoescape (or `html.escape`); these cover the rest."""

from __future__ import annotations

TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
       "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "<": r"\textless{}", ">": r"\textgreater{}"}
# Markdown's inline specials, the table separator and raw-HTML openers; a newline would end a table row. An
# underscore between two letters or digits (sparse_lstm, EMTF_phi) cannot emphasise and stays as it is.
MARKDOWN = {c: "\\" + c for c in "\\`*[]<>|"}


def tex(text: str) -> str:
    """LaTeX text: 'L1T//Run summary/x_y 5%' has three specials."""
    return "".join(TEX.get(ch, ch) for ch in str(text)).replace("\n", " ")


def markdown(text: str) -> str:
    """Markdown text, safe in a paragraph or a table cell."""
    text = str(text).replace("\r", " ").replace("\n", " ")
    out = []
    for i, ch in enumerate(text):
        if ch == "_":
            inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
            out.append("_" if inside else "\\_")
        else:
            out.append(MARKDOWN.get(ch, ch))
    return "".join(out)
