"""A small fleet of generated repositories, three good ones and four that cannot run.

``alpha`` (300 commits, incidents file, its own critical path on top of the defaults'),
``beta`` (250 commits, no incidents file: proxy labels), ``gamma lab`` (200 commits, a name
with a space, an explicit main branch); ``plain`` is a folder that is not a repository,
``empty`` a repository without commits, ``shallow`` a shallow clone of alpha, and ``noisy``
a copy of beta whose incidents file holds NUL bytes.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitrepo import commit, git, init

from riskml.synth import generate

FLEET_TOML = """\
[defaults]
critical_paths = {{ payments = ["payments/**"] }}

[[repo]]
name = "alpha"
path = "{alpha}"
incidents = "{alpha_incidents}"
critical_paths = {{ search = ["search/**"] }}

[[repo]]
name = "beta"
path = "{beta}"

[[repo]]
name = "gamma lab"
path = "{gamma}"
incidents = "{gamma_incidents}"
main_branch = "main"

[[repo]]
path = "{broken}/*"

[[repo]]
name = "noisy"
path = "{noisy}"
incidents = "{noisy_incidents}"
"""
# the critical paths alpha is mined with, as a riskml.toml for `riskml mine --config`
ALPHA_TOML = """\
[critical_paths]
payments = ["payments/**"]
search = ["search/**"]
"""
GOOD = ("alpha", "beta", "gamma lab")
BROKEN = ("empty", "plain", "shallow")  # the glob's folders, in the order it lists them


@dataclass(frozen=True)
class FleetRepos:
    root: Path
    fleet: Path  # the fleet.toml
    alpha: Path
    alpha_incidents: Path
    beta: Path
    gamma: Path
    gamma_incidents: Path


def build_fleet(root: Path) -> FleetRepos:
    """Generate the repositories under ``root`` and write ``root/fleet.toml``."""
    alpha = generate(root / "alpha", commits=300, seed=3)
    beta = generate(root / "beta", commits=250, seed=4)
    gamma = generate(root / "gamma", commits=200, seed=5)
    broken = root / "broken"
    (broken / "plain").mkdir(parents=True)
    (broken / "plain" / "README").write_text("not a repository\n", encoding="utf-8")
    init(broken / "empty")
    subprocess.run(
        ["git", "clone", "-q", "--depth", "3", f"file://{alpha.repo}", str(broken / "shallow")],
        check=True,
        capture_output=True,
    )
    noisy = root / "noisy"
    shutil.copytree(beta.repo, noisy)
    (root / "noisy-incidents.csv").write_bytes(b"incident_id,opened_at\nINC-1,\x00\n")
    fleet = root / "fleet.toml"
    fleet.write_text(
        FLEET_TOML.format(
            alpha=alpha.repo, alpha_incidents=alpha.incidents, beta=beta.repo,
            gamma=gamma.repo, gamma_incidents=gamma.incidents, broken=broken, noisy=noisy,
            noisy_incidents=root / "noisy-incidents.csv",
        ),
        encoding="utf-8",
    )  # fmt: skip
    return FleetRepos(root, fleet, alpha.repo, alpha.incidents, beta.repo, gamma.repo,
                      gamma.incidents)  # fmt: skip


def add_commits(repo: Path, n: int) -> list[str]:
    """``n`` new commits on ``repo``'s main branch, an hour apart after its newest."""
    last = int(git(repo, "log", "-1", "--format=%at"))
    return [
        commit(repo, f"notes {i}", {f"docs/notes-{i}.md": f"note {i}\n"}, when=last + 3600 * i)
        for i in range(1, n + 1)
    ]
