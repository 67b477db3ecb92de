"""The fleet file: what each entry becomes, and every mistake as one line naming entry and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.fleet import FleetRepo, load_fleet


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_entries_take_the_defaults_and_their_own_keys(tmp_path: Path):
    (tmp_path / "clones" / "web").mkdir(parents=True)
    (tmp_path / "clones" / "api").mkdir()
    (tmp_path / "clones" / "notes.txt").write_text("a file, not a folder\n", encoding="utf-8")
    (tmp_path / "shared.toml").write_text("[label]\nwindow_days = 30\n", encoding="utf-8")
    fleet = load_fleet(
        _write(
            tmp_path,
            """
[defaults]
main_branch = "trunk"
incidents = "incidents/{name}.csv"
config = "shared.toml"
critical_paths = { payments = ["payments/**"], auth = ["auth/**"] }

[[repo]]
name = "shop"
path = "/srv/git/shop"
incidents = "/srv/shop-incidents.json"
main_branch = "main"
critical_paths = { auth = [], infra = ["deploy/**"] }

[[repo]]
path = "clones/*"
""",
        )
    )
    assert fleet.path == tmp_path / "fleet.toml"
    assert fleet.repos == (
        FleetRepo(
            name="shop",
            path=Path("/srv/git/shop"),
            incidents=Path("/srv/shop-incidents.json"),
            main_branch="main",
            config=tmp_path / "shared.toml",
            critical_paths={"payments": ["payments/**"], "auth": [], "infra": ["deploy/**"]},
        ),
        *(
            FleetRepo(
                name=name,
                path=tmp_path / "clones" / name,
                incidents=tmp_path / "incidents" / f"{name}.csv",
                main_branch="trunk",
                config=tmp_path / "shared.toml",
                critical_paths={"payments": ["payments/**"], "auth": ["auth/**"]},
            )
            for name in ("api", "web")
        ),
    )


def test_an_entry_without_defaults_keeps_the_repository_s_own_settings(tmp_path: Path):
    repo = tmp_path / "shop"
    repo.mkdir()
    (repo / "riskml.toml").write_text('[critical_paths]\nown = ["own/**"]\n', encoding="utf-8")
    (fleet,) = load_fleet(_write(tmp_path, '[[repo]]\npath = "shop"\n')).repos
    assert fleet == FleetRepo(name="shop", path=repo)
    assert fleet.settings(repo).critical_paths == {"own": ["own/**"]}
    assert FleetRepo("x", repo, critical_paths={"a": ["a/**"]}).settings(repo) == Config(
        critical_paths={"a": ["a/**"]}
    )


def test_cli_config_is_the_default_riskml_toml(tmp_path: Path):
    (tmp_path / "base.toml").write_text("", encoding="utf-8")
    fleet = load_fleet(
        _write(tmp_path, '[[repo]]\npath = "/srv/a"\n'), config=tmp_path / "base.toml"
    )
    assert fleet.repos[0].config == tmp_path / "base.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[repo]\n", "not valid TOML"),
        ("[defaults]\n", "fleet.toml: no [[repo]] entry: name at least one repository"),
        ('repos = 1\n[[repo]]\npath = "a"\n',
         "fleet.toml: unknown key(s) repos: expected [defaults] and [[repo]]"),
        ('repo = "a"\n', "fleet.toml: repo must be an array of tables ([[repo]] entries)"),
        ("[[repo]]\nname = 'a'\n",
         "fleet.toml: [[repo]] 1 (a): path: required (a repository, or a glob over folders)"),
        ('[[repo]]\npath = "a"\n[[repo]]\npath = "b"\nmain_branch = 3\n',
         "fleet.toml: [[repo]] 2 (b) main_branch: must be a string, got int"),
        ('[[repo]]\npath = "a"\nmain_branch = "--output=x"\n',
         "fleet.toml: [[repo]] 1 (a) main_branch: invalid revision: '--output=x'"),
        ('[[repo]]\npath = "a"\nbranch = "main"\n',
         "fleet.toml: [[repo]] 1 (a): unknown key(s) branch: expected name, path, main_branch, "
         "incidents, config, critical_paths"),
        ('[[repo]]\nname = ".."\npath = "a"\n',
         "fleet.toml: [[repo]] 1 (..) name: invalid repository name '..': one folder name under "
         "the data directory (not empty, '.', '..', and without '/', '\\' or NUL)"),
        ('[[repo]]\npath = "a"\nincidents = ""\n',
         "fleet.toml: [[repo]] 1 (a) incidents: must not be empty"),
        ('[defaults]\ncritical_paths = { pay = ["/abs/**"] }\n[[repo]]\npath = "a"\n',
         "fleet.toml: [defaults] critical_paths: pay: must be relative to the repository root "
         "(no leading /), got '/abs/**'"),
        ('[[repo]]\npath = "a"\ncritical_paths = { pay = "pay/**" }\n',
         "fleet.toml: [[repo]] 1 (a) critical_paths: maps a name to a list of globs"),
        ('[defaults]\nname = "a"\n[[repo]]\npath = "a"\n',
         "fleet.toml: [defaults]: unknown key(s) name: expected main_branch, incidents, config, "
         "critical_paths"),
        ('[[repo]]\nname = "a"\npath = "x"\n[[repo]]\nname = "a"\npath = "y"\n',
         "fleet.toml: [[repo]] 2 (a) name: 'a' is also the name of [[repo]] 1 (a) (each "
         "repository needs its own name: its data/<name>/ and project)"),
    ],
)  # fmt: skip
def test_a_bad_fleet_file_is_one_line_naming_entry_and_key(tmp_path, text, message):
    with pytest.raises(RiskmlError) as caught:
        load_fleet(_write(tmp_path, text))
    assert "\n" not in str(caught.value)
    assert message in str(caught.value)
    assert str(caught.value).startswith(message) or message == "not valid TOML"


def test_globs_and_configs_are_checked_when_the_file_is_read(tmp_path: Path):
    with pytest.raises(RiskmlError) as caught:
        load_fleet(_write(tmp_path, '[[repo]]\npath = "clones/*"\n'))
    assert str(caught.value) == (
        f"fleet.toml: [[repo]] 1 (clones/*) path: no folder matches {tmp_path / 'clones/*'}"
    )
    (tmp_path / "clones" / "a").mkdir(parents=True)
    with pytest.raises(RiskmlError) as caught:
        load_fleet(_write(tmp_path, '[[repo]]\nname = "x"\npath = "clones/*"\n'))
    assert str(caught.value) == (
        "fleet.toml: [[repo]] 1 (x) name: a glob entry names its repositories by their folders"
    )
    (tmp_path / "bad.toml").write_text("[label]\nwindow_days = -3\n", encoding="utf-8")
    with pytest.raises(RiskmlError) as caught:
        load_fleet(_write(tmp_path, '[[repo]]\npath = "a"\nconfig = "bad.toml"\n'))
    assert str(caught.value) == (
        "fleet.toml: [[repo]] 1 (a) config: bad.toml: [label] window_days: must be > 0, got -3"
    )
    with pytest.raises(RiskmlError) as caught:
        load_fleet(_write(tmp_path, '[[repo]]\npath = "a"\n'), config=tmp_path / "none.toml")
    assert str(caught.value) == (
        f"fleet.toml: --config: config file not found: {tmp_path / 'none.toml'}"
    )
    with pytest.raises(RiskmlError) as caught:
        load_fleet(tmp_path / "missing.toml")
    assert str(caught.value) == f"fleet file not found: {tmp_path / 'missing.toml'}"
