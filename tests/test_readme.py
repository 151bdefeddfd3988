"""The README's examples, run as a reader would run them, on the real index.

Every command in a ```sh block runs: ``curl`` against the real app (TestClient), ``codefinder`` through click
(a server, a build or a cluster run is only checked to take the options shown), ``make`` against the Makefile,
``printf`` in bash. The lines after a command that are comments indented by two or more spaces (``#   …``)
are the output it shows: each stretch of them between ``…`` (and, for text, each line) must appear in the
real output, in that order (JSON compared compact, text with white space collapsed): the README shows only
what the code prints.
Beyond the examples: every link, ``CODEFINDER_`` setting, endpoint and ``--option`` the README names exists.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from codefinder.api.app import create_app
from codefinder.api.cli import main
from codefinder.indexer.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SETTINGS_DOC = ROOT / "docs" / "settings.md"
API_DOC = ROOT / "docs" / "api.md"  # its examples are checked the same way
# Produced on another branch; the README points at it before it lands.
PENDING_IMAGES = ("docs/screenshots/",)
# Commands that start a server, train or build, or a cluster: only their options are checked (with --help).
NOT_RUN = {"serve", "mcp", "build", "train-encoder"}


@dataclass
class Example:
    line: int  # where the command starts in its document
    command: str
    shown: list[str] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command, comments=True)


def fenced_blocks(text: str, language: str) -> Iterator[tuple[int, str]]:
    """(line number of the block's first line, its text) for every ```language block."""
    for match in re.finditer(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S):
        yield text[: match.start(1)].count("\n") + 1, match.group(1)


def shell_examples(text: str) -> list[Example]:
    examples: list[Example] = []
    for first, block in fenced_blocks(text, "sh"):
        pending = ""
        for offset, raw in enumerate(block.splitlines()):
            line = raw.strip()
            if line.startswith("#"):
                if re.match(r"#\s{2,}\S", line) and examples and not pending:
                    examples[-1].shown.append(line[1:])
                continue
            if not line:
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            examples.append(Example(first + offset, pending + line))
            pending = ""
    return examples


def compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def assert_shows(example: Example, output: str) -> None:
    """Each stretch of the shown output between '…' is in the real output, in order."""
    if not example.shown:
        return
    if example.shown[0].strip().startswith(("{", "[")):
        shown = "".join(line.strip() for line in example.shown)
        actual = compact_json(json.loads(output))
        edges = " ,{}[]"
    else:
        shown = "…".join(" ".join(line.split()) for line in example.shown)  # lines shown may skip lines
        actual = " ".join(output.split())
        edges = " "
    position = 0
    for stretch in shown.split("…"):
        stretch = stretch.strip(edges)
        if not stretch:
            continue
        found = actual.find(stretch, position)
        assert found >= 0, (
            f"line {example.line} `{example.command}` shows {stretch!r}, not found in order in the output:\n"
            f"{actual[:3000]}"
        )
        position = found + len(stretch)


def run_curl(client: TestClient, argv: list[str]) -> str:
    method, headers, body, url = "GET", {}, None, None
    words = iter(argv[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data"):
            body = next(words)
            method = "POST" if method == "GET" else method
        elif word.startswith("http"):
            url = word
        else:
            raise AssertionError(f"curl option {word!r} is not translated by this test")
    assert url is not None, argv
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    response = client.request(method, target, content=body, headers=headers)
    assert response.status_code == 200, f"{' '.join(argv)} -> {response.status_code} {response.text[:500]}"
    return response.text


def run_codefinder(context, argv: list[str]) -> str:
    args = argv[1:]
    if args[0] in NOT_RUN or "--cluster" in args:
        args = [*args, "--help"]  # the options must exist; nothing is started
    result = CliRunner().invoke(main, args, obj=context)
    assert result.exit_code == 0, f"{' '.join(argv)} -> exit {result.exit_code}: {result.output[-2000:]}"
    return result.output


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {match.group(1) for match in re.finditer(r"^([a-z][a-z-]*):", text, flags=re.M)}


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def client(real_context) -> Iterator[TestClient]:
    with TestClient(create_app(real_context)) as test_client:
        yield test_client


@pytest.mark.parametrize("document", [README, API_DOC], ids=lambda path: path.name)
def test_every_shell_example_runs_and_prints_what_it_shows(document, client, real_context, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the examples write (lines.csv, its report) go here
    examples = shell_examples(document.read_text(encoding="utf-8"))
    assert sum(1 for e in examples if e.argv[0] == "curl") >= 2 and any(e.shown for e in examples)
    targets = makefile_targets()
    for example in examples:
        argv = example.argv
        if argv[0] == "curl":
            output = run_curl(client, argv)
        elif argv[0] == "codefinder":
            output = run_codefinder(real_context, argv)
        elif argv[0] == "make":
            assert set(argv[1:]) <= targets, f"line {example.line}: no such make target in {argv}"
            continue
        elif argv[0] == "printf":
            output = subprocess.run(["bash", "-c", example.command], check=True, capture_output=True, text=True).stdout
        else:
            raise AssertionError(f"line {example.line}: this test does not run {argv[0]!r}")
        assert_shows(example, output)


def test_the_python_example_answers_what_it_shows(readme, real_context, monkeypatch):
    """In process (tests/test_packaging.py runs it in a fresh interpreter): the last line's value is its comment."""
    monkeypatch.setenv("CODEFINDER_INDEX", str(real_context.settings.index))
    (_, block), *_ = fenced_blocks(readme, "python")
    *statements, last = [line for line in block.splitlines() if line.strip()]
    expression, _, shown = last.partition("#")
    namespace: dict[str, object] = {}
    exec("\n".join(statements), namespace)
    assert repr(eval(expression, namespace)) == shown.strip()


def test_the_mcp_configuration_starts_a_command_that_exists(readme):
    blocks = [json.loads(block) for _, block in fenced_blocks(readme, "json")]
    servers = [server for block in blocks for server in block.get("mcpServers", {}).values()]
    assert servers
    for server in servers:
        assert server["command"].endswith("/codefinder")
        assert CliRunner().invoke(main, [*server["args"], "--help"]).exit_code == 0
        assert all(name in documented_settings() for name in server.get("env", {}))


def documented_settings() -> set[str]:
    return {f"CODEFINDER_{name.upper()}" for name in Settings.model_fields}


def test_every_setting_named_exists_and_every_setting_is_documented(readme):
    settings_doc = SETTINGS_DOC.read_text(encoding="utf-8")
    known = documented_settings()
    for path in [README, SETTINGS_DOC, *sorted((ROOT / "docs").glob("*.md"))]:
        named = set(re.findall(r"CODEFINDER_[A-Z][A-Z0-9_]*", path.read_text(encoding="utf-8")))
        assert named <= known, f"{path.name} names settings that do not exist: {sorted(named - known)}"
    listed = set(re.findall(r"`(CODEFINDER_[A-Z0-9_]+)`", settings_doc))
    assert listed == known, f"docs/settings.md misses {sorted(known - listed)}, lists unknown {sorted(listed - known)}"


def test_every_link_in_the_readme_leads_somewhere(readme):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if re.match(r"[a-z]+://", target):
            continue
        if target.startswith(PENDING_IMAGES) and not (ROOT / target).exists():
            continue  # test_the_screenshot_is_there reports it
        assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"


def test_the_screenshot_is_there(readme):
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert images
    missing = [image for image in images if not (ROOT / image).is_file()]
    if missing:
        pytest.skip(f"not merged yet: {missing}")


def test_every_endpoint_and_option_named_exists(readme, real_context):
    app = create_app(real_context)
    paths = {*app.openapi()["paths"], "/", "/docs", "/openapi.json"}
    prose = re.sub(r"^```.*?^```", "", readme, flags=re.M | re.S)
    for path in re.findall(r"`(?:GET |POST )?(/[A-Za-z0-9_/.$-]*)", prose):
        path = path.rstrip("/") or "/"
        assert any(p == path or p.startswith(path + "/") for p in paths), f"README.md names {path}: no such route"
    options = {
        option
        for command in main.commands.values()
        for parameter in command.params
        if isinstance(parameter, click.Option)
        for option in parameter.opts + parameter.secondary_opts
    }
    for option in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", readme)):
        assert option in options, f"README.md names {option}: no codefinder command takes it"
