"""The README's set-up commands are the ones CI runs."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.DOTALL)


def test_exactly_two_setup_commands_and_ci_runs_them_verbatim():
    commands = readme_commands()
    assert len(commands) == 2
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    for command in commands:
        assert command in ci, f"{command!r} is not in .ci/run"
    install, tests = commands
    assert "chromium" in install and "pip install" in install and "pytest" in tests


def test_the_main_job_searches_reports_exports_and_verifies_into_ignored_outputs():
    """The first command's main job: search -> report -> export of its best candidate -> the bundle's verify.sh,
    each writing under a git-ignored directory, each safe to run again (the study resumes, --force replaces)."""
    steps = [shlex.split(step) for step in readme_commands()[0].split("&&")]
    codesign = {s[1]: s for s in steps if s[0] == "codesign"}
    assert list(codesign) == ["search", "report", "export"]
    search, report, export = codesign.values()
    run = search[search.index("--out") + 1]
    space = search[search.index("--space") + 1]
    assert (ROOT / "codesign" / "search" / "spaces" / f"{space}.yaml").is_file()
    assert report[2] == run and export[2] == run and "--force" in report and "--force" in export
    assert "--best" in export
    bundle = export[export.index("--out") + 1]
    assert steps[-1] == [f"{bundle}/verify.sh"]
    ignored = (ROOT / ".gitignore").read_text().split()
    report_out = report[report.index("--out") + 1] if "--out" in report else f"reports/{Path(run).name}"
    for path in (run, report_out, bundle):
        top = Path(path).parts[0]
        assert f"{top}/" in ignored or f"{top}/*" in ignored, f"{path} is not under a git-ignored directory"
