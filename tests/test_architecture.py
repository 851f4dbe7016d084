"""Meta-tests that guard the shape of the code (STYLE.md #12)."""

import ast
import re
from pathlib import Path

import pytest

from core.cli import build_parser
from core.i18n import CATALOGS
from core.ui.navigation import PAGES

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def py_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", [p for p in py_files("core") if "ui" not in p.relative_to(ROOT / "core").parts],
                         ids=str)
def test_core_does_not_import_streamlit(path):
    assert not {m for m in imports_of(path) if m.split(".")[0] == "streamlit"}


@pytest.mark.parametrize("path", py_files("reports"), ids=str)
def test_reports_import_neither_streamlit_nor_db(path):
    assert not {m for m in imports_of(path) if m.split(".")[0] in ("streamlit", "db", "sqlalchemy")}


@pytest.mark.parametrize("path", py_files("pages"), ids=str)
def test_pages_do_not_touch_the_database(path):
    assert not {m for m in imports_of(path) if m.split(".")[0] in ("db", "sqlalchemy")}


@pytest.mark.parametrize("path", py_files("pages"), ids=str)
def test_every_page_guards_first(path):
    """A page's first statement checks access: `guard(Action.…)`, or `public_page()` for a page registered as
    public (and only for one)."""
    source = path.read_text(encoding="utf-8")
    body = [line for line in source.splitlines() if line and not line.startswith(("import", "from", '"""', "#"))]
    is_public = path.relative_to(ROOT).as_posix() in {spec.path for spec in PAGES if spec.public}
    if is_public:
        assert body[0] == "actor = public_page()", f"{path.name}: first statement must be public_page()"
    else:
        assert body[0].startswith("actor = guard(Action."), f"{path.name}: first statement must be the guard"
    assert source.count("public_page(") == (1 if is_public else 0), f"{path.name}: public_page() misused"


def test_only_public_pages_have_no_action():
    assert all((spec.action is None) == spec.public for spec in PAGES)
    public = {"partner-werden", "hilfe", "datenschutz", "passwort", "status", "umfrage", "freigabe"}
    assert {spec.url_path for spec in PAGES if spec.public} == public


def test_every_page_is_registered_and_has_a_page_test():
    files = {p.relative_to(ROOT).as_posix() for p in py_files("pages")}
    assert files == {spec.path for spec in PAGES}
    page_tests = (ROOT / "tests" / "app" / "test_pages.py").read_text()
    assert "PAGES" in page_tests  # the matrix covers every registered page


def test_no_unsafe_html_anywhere():
    for path in [*py_files("pages"), *py_files("core"), ROOT / "app.py"]:
        assert "unsafe_allow_html=True" not in path.read_text(encoding="utf-8"), path


def test_every_cli_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"`{name}" in readme, f"python -m core {name} is not documented in the README"


def test_every_i18n_key_used_exists():
    catalog = CATALOGS["de"]
    pattern = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_]+)["']""")
    for path in [*py_files("pages"), *py_files("core"), ROOT / "app.py"]:
        for key in pattern.findall(path.read_text(encoding="utf-8")):
            assert key in catalog, f"{path.name}: missing catalog key {key}"


def test_enum_labels_exist():
    from core.enums import (
        ApplicationStatus,
        CaseStatus,
        DamageType,
        NoteVisibility,
        PartnerKind,
        Role,
    )
    from core.i18n import label
    from core.lifecycle import DeadlineState

    for enum in (ApplicationStatus, CaseStatus, DamageType, NoteVisibility, PartnerKind, Role, DeadlineState):
        for member in enum:
            assert label(member)


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text(encoding="utf-8").split("---")[0]
    assert "pip install -r requirements.txt && python -m core serve" in head
    assert "bash tests/run.sh" in head
    assert "bash tests/run.sh" in (ROOT / ".ci" / "run").read_text()


def _calls(path: Path, names: set[str]):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names:
            yield node


@pytest.mark.parametrize("path", py_files("pages") + py_files("core/ui") + [ROOT / "app.py"], ids=str)
def test_empty_choice_widgets_say_so_in_german(path):
    """A multiselect, or a selectbox without a preselection (index=None), shows Streamlit's English placeholder
    ("Choose an option") unless given one."""
    bare = []
    for call in _calls(path, {"selectbox", "multiselect"}):
        keywords = {k.arg: k.value for k in call.keywords}
        empty = call.func.attr == "multiselect" or (
            isinstance(keywords.get("index"), ast.Constant) and keywords["index"].value is None)
        if empty and "placeholder" not in keywords:
            bare.append(f"{path.name}:{call.lineno}")
    assert not bare
