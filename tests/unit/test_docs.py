"""Docs are part of the product: the references must cover what the code does."""

from __future__ import annotations

from pathlib import Path

from appliance.settings import doc as settings_doc
from appliance.wire import topics

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_has_a_description() -> None:
    assert settings_doc.undocumented() == []


def test_settings_reference_is_up_to_date() -> None:
    current = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert current == settings_doc.render(), (
        "docs/settings.md is stale: run `python -m appliance.settings.doc > docs/settings.md`")


def test_mqtt_api_documents_every_topic() -> None:
    text = (DOCS / "mqtt-api.md").read_text(encoding="utf-8")
    for name in (*topics.RETAINED, "events", "response", "preview"):
        assert f"<base>/{name}`" in text, name
    for action in topics.COMMANDS:
        assert f"<base>/cmd/{action}`" in text, action
    for extra in ("<base>/set`", "lightbox/all/", "lightbox/group/<name>/",
                  "homeassistant/status", "homeassistant/device/lightbox_<device_id>/config"):
        assert extra in text, extra


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    import re

    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_every_relative_link_in_the_docs_resolves() -> None:
    import re

    root = DOCS.parent
    pages = [root / "README.md", *sorted(DOCS.glob("*.md"))]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
                continue
            if anchor and dest.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", dest.read_text(encoding="utf-8"), re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def _cells(row: str) -> list[str]:
    """A Markdown table row's cells as GitHub splits them: at every unescaped pipe."""
    import re

    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_settings_tables_keep_their_columns_and_their_own_keys() -> None:
    import re

    section = ""
    header = 0
    rows = 0
    for line in settings_doc.render().splitlines():
        heading = re.match(r"^## `([^`]+)`", line)
        if heading:
            section, header = heading.group(1), 0
            continue
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        if not header:
            header = len(cells)
            assert [c.strip() for c in cells] == ["key", "type", "default", "meaning"]
            continue
        assert len(cells) == header, f"{section}: {line}"
        if set(cells[0].strip()) <= {"-"}:
            continue
        key = cells[0].strip().strip("`")
        owner, _, leaf = key.rpartition(".")
        assert owner == section and leaf, f"{key} is in the table of {section}"
        assert all(c.strip() for c in cells), f"{key} has an empty cell"
        assert "Annotated" not in line and "FieldInfo" not in line, key
        rows += 1
    documented = [p for p, _, sub in settings_doc.fields() if "." in p]
    assert rows == len(documented)


def _installed_paths_text() -> str:
    """The installer, uninstaller and units, with the installer's path variables expanded."""
    import re

    deploy = DOCS.parent / "deploy"
    script = (deploy / "install.sh").read_text(encoding="utf-8")
    names = dict(re.findall(r"^([A-Z]+)=\"?((?:\$\w+)?/[^\s\"]*)\"?$", script, re.M))
    for key, value in names.items():  # VENV=$PREFIX/venv: defined in order
        names[key] = re.sub(r"\$(\w+)", lambda m: names.get(m.group(1), m.group(0)), value)
    texts = [script, (deploy / "uninstall.sh").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((deploy / "systemd").rglob("*"))
              if p.is_file()]
    text = "\n".join(texts)
    # What the installer makes without spelling the path: `secret NAME ...` writes
    # $SECRETS/NAME, `python3 -m venv` makes bin/python and bin/pip.
    made = [f"{names['SECRETS']}/{n}" for n in re.findall(r"^secret (\S+) ", script, re.M)]
    made += [f"{names['VENV']}/bin/python", f"{names['VENV']}/bin/pip"]
    # Made at run time beside the settings file (appliance/settings.py SettingsStore).
    made.append(names["SETTINGS"].rsplit("/", 1)[0] + "/backups")
    text = "\n".join([text, *made])
    return re.sub(r"\$\{?([A-Z]+)\}?", lambda m: names.get(m.group(1), m.group(0)), text)


def test_every_installed_path_in_the_docs_is_the_installers() -> None:
    import re

    known = _installed_paths_text()
    wrong = []
    for page in [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for path in re.findall(r"/(?:opt|etc|var/lib)/lightbox[\w./-]*", text):
            path = path.rstrip("./")
            if path not in known:
                wrong.append(f"{page.name}: {path}")
    assert wrong == []


def test_tools_the_docs_pipe_into_are_installed() -> None:
    import re

    root = DOCS.parent
    used = set()
    for page in sorted(DOCS.glob("*.md")):
        used |= set(re.findall(r"\|\s*(jq)\b", page.read_text(encoding="utf-8")))
    install = (root / "deploy" / "install.sh").read_text(encoding="utf-8")
    wanted = re.search(r"^want=\(([^)]*)\)", install, re.M)
    dev = re.search(r"setup\.sh ([^\n]*)", (root / "scripts" / "dev").read_text(encoding="utf-8"))
    assert wanted and dev
    for tool in used:
        assert tool in wanted.group(1).split(), f"docs pipe into {tool}; install.sh lacks it"
        assert tool in dev.group(1).split(), f"docs pipe into {tool}; scripts/dev lacks it"
