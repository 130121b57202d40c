"""The static pages' one Jinja2 environment, templates and stylesheet (report, DQM assess, lumisections assess).

Templates live in `codesign/templates/<user>/` (report/, dqm/), the shared stylesheet in
`codesign/templates/style.css`; pages inline it and link only to files beside them, so an output
directory opens from disk, from a copy or from an archive, with no server. Autoescape is on and
an undefined name is an error. Each page adds its own number formats as filters.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")
STYLESHEET = "style.css"


def environment(**filters):
    """A Jinja2 environment over `TEMPLATES` (names like 'report/index.html') with these filters."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(filters)
    return env


def stylesheet(*additions: str) -> str:
    """The shared stylesheet followed by a page's additions (paths under `TEMPLATES`), to inline."""
    return "".join((TEMPLATES / name).read_text() for name in (STYLESHEET, *additions))


def render(template: str, filters: dict | None = None, **context) -> str:
    """One page: `template` rendered with `context` (a page that renders many builds one `environment`)."""
    return environment(**(filters or {})).get_template(template).render(**context)
