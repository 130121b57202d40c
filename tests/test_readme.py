"""The README's set-up commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_exactly_three_setup_commands_and_ci_runs_them_verbatim():
    commands = readme_commands()
    assert len(commands) == 3
    ci = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l and not l.startswith("#")]
    for command in commands:
        assert command in ci, f"{command!r} is not in .ci/run"
    assert "chromium" in commands[0] and "codesign demo" in commands[1] and "pytest" in commands[2]
