"""The code's shape holds: no import cycle (imports inside functions count), the pipeline, insights and
training never reach Flask, every setting is documented, and the README's "What is where" matches the tree."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

import settings
from bench import ROOT

SKIPPED = {".venv", "migrations", ".git", "node_modules"}
FLASK_FREE = ("inference", "insights", "training")


def project_modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if SKIPPED.intersection(parts) or parts[0].startswith("."):
            continue
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(path: Path) -> set[str]:
    """Every module an import statement names, anywhere in the file (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: {target for target in imported_names(path) if target in modules and target != name}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                found.append(sorted([node, *component]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_pipeline_insights_and_training_never_reach_flask():
    graph, modules = import_graph(), project_modules()
    for name in (module for module in graph if module.split(".")[0] in FLASK_FREE):
        reachable, todo = set(), [name]
        while todo:
            for target in graph[todo.pop()] - reachable:
                reachable.add(target)
                todo.append(target)
        for module in {name, *reachable}:
            flask_imports = {n for n in imported_names(modules[module]) if n.split(".")[0].startswith("flask")}
            assert not flask_imports, f"{name} reaches Flask through {module}: {flask_imports}"


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme():
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme(), re.MULTILINE))
    assert {setting.name for setting in settings.SETTINGS} | set(settings.ENVIRONMENT_ONLY) <= documented


def test_the_readme_says_of_each_setting_what_its_help_says():
    """A setting's `help` and its README row were written twice by hand, and three had drifted apart."""
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| .*? \| (.*?) \|$", readme(), re.MULTILINE))
    for setting in settings.SETTINGS:
        also = f"; also read from `{setting.environment}`" if setting.environment else ""
        assert rows[setting.name] == setting.help + also, setting.name


def test_what_is_where_matches_the_tree():
    section = readme().split("## What is where", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([^`]+?)/?` \|", section, re.MULTILINE))
    assert listed and all((ROOT / path).exists() for path in listed), [p for p in listed if not (ROOT / p).exists()]
    tracked = {path.name for path in ROOT.iterdir() if not path.name.startswith((".", "__"))
               and (path.suffix == ".py" or (path.is_dir() and path.name not in {"artifacts", "instance"}))}
    assert tracked <= listed, tracked - listed


@pytest.mark.parametrize("package", ["services", "web"])
def test_what_is_where_names_every_module_of_the_services_and_the_web_layer(package):
    """Its rows named 9 and 11 of the 19 modules of each: new ones were left out."""
    section = readme().split("## What is where", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith(f"| `{package}/` |"))
    named = set(re.findall(r"`(\w+)`", row))
    modules = {path.stem for path in (ROOT / package).glob("*.py") if path.stem != "__init__"}
    assert modules <= named, sorted(modules - named)


def test_every_format_an_upload_is_read_as_is_stored_as_a_format_a_browser_is_told():
    """A format named on the reading side alone was served as a KeyError (a 500) when its upload was opened."""
    from inference.formats import KEPT_FORMAT, MIME_TYPES, FileFormat
    from inference.heif import HEIF_FORMATS
    from inference.images import SUPPORTED_FORMATS
    from inference.video_check import sniff_video
    videos = {sniff_video(head) for head in (b"\0\0\0\x18ftypisom", b"\0\0\0\x14ftypqt  ", b"\x1a\x45\xdf\xa3",
                                             b"RIFF\0\0\0\0AVI LIST")}
    assert set(SUPPORTED_FORMATS.values()) | videos | {KEPT_FORMAT} == set(MIME_TYPES)
    assert set(MIME_TYPES) | set(HEIF_FORMATS.values()) == set(FileFormat)


def test_no_symbolic_link_is_committed():
    """A committed link (a worktree's link to the unpacked detector, say) breaks the set-up of every clone."""
    listed = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert [line.split("\t")[1] for line in listed.splitlines() if line.startswith("120000")] == []
