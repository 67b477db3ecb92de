"""The hostile corpus: every case of ``benchmarks/hostile/cases.toml`` run through the real CLI
(and a real ``riskml serve``), with what it must answer; a table per class of cases held.

    python benchmarks/hostile.py [--only CLASS[,CLASS]] [--ids ID[,ID]] [--ref GITREF]
                                 [--jobs N] [--keep DIR] [-v]

Each case runs the venv's ``riskml`` (the console script beside ``sys.executable``) with this
tree's package first on ``PYTHONPATH``, in a folder of its own (``{tmp}``, also its working
directory). The fixtures the cases read — a generated repository mined, labelled and trained
(``riskml synth`` + ``riskml run``), a second unrelated repository mined and labelled — are built
once per tree by that tree's own CLI and shared read-only. A case *holds* when:

- its exit code is the one expected (``exit``; a negative code is the signal that ended it);
- for an expected exit 2: stderr holds exactly one ``riskml: error: …`` line, its last (the
  progress and warning lines a verb printed before it aside), and that line matches ``message``
  (a regex; for Click's usage errors, the text of its box); for any other exit ``message`` is
  searched in stdout + stderr;
- no ``Traceback`` appears in stdout or stderr;
- it wrote nothing outside ``{tmp}``: the fixtures are byte-for-byte (size and mtime) as before
  and no new entry appeared beside the case folders;
- no path of ``absent`` exists afterwards (a canary that code run from a crafted file, or a
  command of a hostile ``.git/config``, would create), every path of ``exists`` does;
- it ended within ``timeout`` seconds (a hang falls short);
- each step of ``then`` (run after it, in the same folder) holds the same way.

HTTP cases (``class = "http"``) send ``request`` to one ``riskml serve`` started per tree over the
fixtures and expect ``status`` and ``message`` (a regex on the response body).

``--ref GITREF`` runs the same corpus against another commit as well (its package exported with
``git archive`` into a temporary folder and put first on ``PYTHONPATH``; fixtures built by its own
CLI) and prints both columns side by side. A case *n/a* on a tree is one whose verb that tree
does not have, whose option it does not know (a usage error "No such option" the case did not
expect), whose endpoint is 404 "Not Found", or whose ``requires`` text is nowhere in that tree's
package (a test hook it did not have yet). Exit 0 when every case holds (or is n/a) on this tree.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
sys.path.insert(0, str(TOP))

from riskml.synth.hostile import marks_left, plant_hostile_config  # noqa: E402

CORPUS = HERE / "hostile" / "cases.toml"
RISKML = Path(sys.executable).parent / "riskml"
TOKEN = "hostile-token"

CLASSES = (
    "cli",
    "config",
    "files",
    "tables",
    "identity",
    "revision",
    "mlflow",
    "pickle",
    "gitconfig",
    "disk",
    "stop",
    "concurrent",
    "http",
)
CASE_KEYS = {
    "id", "class", "verb", "about", "argv", "exit", "message", "setup", "files", "env",
    "absent", "exists", "timeout", "then", "parallel", "hold", "requires", "request", "status",
}  # fmt: skip
SETUPS = {
    "repo_copy", "data_copy", "mlflow", "hostile_git", "small_disk", "port_in_use",
    "pickle_state", "legacy_state", "pickle_model", "big_csv_field", "deep_json",
    "nul_incidents", "changes_bad_dtypes", "labels_bad_schema", "labels_out_of_range",
    "labels_duplicates", "labels_str", "mined_copy_small",
}  # fmt: skip


# ---------------------------------------------------------------- the corpus


def load_corpus(path: Path = CORPUS) -> list[dict]:
    """The cases of ``path``, in file order; a malformed corpus raises ``ValueError``."""
    with open(path, "rb") as handle:
        cases = tomllib.load(handle).get("case", [])
    problems = [p for case in cases for p in check_case(case)]
    ids = [case.get("id") for case in cases]
    problems += [f"id {i!r} used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise ValueError("; ".join(problems))
    return cases


def check_case(case: dict) -> list[str]:
    """What is wrong with one case's schema (empty when nothing)."""
    name = case.get("id", "?")
    out = [f"{name}: unknown key {k!r}" for k in sorted(set(case) - CASE_KEYS)]
    if not isinstance(case.get("id"), str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        out.append(f"{name}: id must be lower-case words joined by '-'")
    if case.get("class") not in CLASSES:
        out.append(f"{name}: class must be one of {', '.join(CLASSES)}")
    if not isinstance(case.get("message"), str):
        out.append(f"{name}: message (a regex) is required")
    else:
        try:
            re.compile(case["message"])
        except re.error as exc:
            out.append(f"{name}: message is not a regex ({exc})")
    if case.get("class") == "http":
        request = case.get("request")
        if not isinstance(request, dict) or not isinstance(request.get("path"), str):
            out.append(f"{name}: an http case needs request = {{method, path, ...}}")
        if not isinstance(case.get("status"), int):
            out.append(f"{name}: an http case needs status (an int)")
    else:
        argv = case.get("argv")
        if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
            out.append(f"{name}: argv must be a non-empty list of strings")
        if not isinstance(case.get("exit"), int) or isinstance(case.get("exit"), bool):
            out.append(f"{name}: exit (an int) is required")
    out += [f"{name}: unknown setup {s!r}" for s in case.get("setup", []) if s not in SETUPS]
    for step in case.get("then", []):
        if set(step) - {"argv", "exit", "message", "env"} or "argv" not in step:
            out.append(f"{name}: each step of then needs argv, exit, message (and env)")
    return out


# ---------------------------------------------------------------- trees and fixtures


@dataclass
class Tree:
    """A checkout whose package the cases run: its folder (first on PYTHONPATH) and label."""

    label: str
    code: Path
    root: Path  # fixtures and case folders of this tree
    verbs: dict[str, bool] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)
    server: str | None = None

    def env(self, extra: dict | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RISKML_"))}
        env.update(PYTHONPATH=str(self.code), GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
        env.setdefault("GIT_AUTHOR_NAME", "hostile")
        env.setdefault("GIT_AUTHOR_EMAIL", "hostile@riskml.invalid")
        env.setdefault("GIT_COMMITTER_NAME", "hostile")
        env.setdefault("GIT_COMMITTER_EMAIL", "hostile@riskml.invalid")
        env.update(extra or {})
        return env

    def has_verb(self, verb: str) -> bool:
        if verb not in self.verbs:
            done = subprocess.run(
                [str(RISKML), *verb.split(), "--help"], env=self.env(), capture_output=True,
                text=True, cwd=self.root, timeout=120,
            )  # fmt: skip
            self.verbs[verb] = done.returncode == 0
        return self.verbs[verb]

    def has_text(self, text: str) -> bool:
        done = subprocess.run(["grep", "-rqF", text, str(self.code / "riskml")])
        return done.returncode == 0


def _riskml(tree: Tree, *args: str, cwd: Path, env: dict | None = None) -> None:
    done = subprocess.run([str(RISKML), *args], cwd=cwd, env=tree.env(env), capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(
            f"[{tree.label}] fixture: riskml {' '.join(args)}: {done.stderr[-2000:]}"
        )


def build_fixtures(tree: Tree) -> None:
    """The read-only fixtures of ``tree``, made by its own CLI, and their placeholders."""
    fx = tree.root / "fixtures"
    work = fx / "work"
    work.mkdir(parents=True)
    (work / "riskml.toml").write_text("[label]\nwindow_days = 30\n")
    store = {"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    _riskml(tree, "synth", "--out", str(fx / "s"), "--commits", "400", "--seed", "7", cwd=fx)
    _riskml(tree, "run", "--repo", str(fx / "s" / "repo"), "--incidents",
            str(fx / "s" / "incidents.csv"), "--pending", "3", "--config",
            str(work / "riskml.toml"), "--quiet", cwd=work, env=store)  # fmt: skip
    other = fx / "other"
    _riskml(tree, "synth", "--out", str(other), "--commits", "40", "--seed", "11", cwd=fx)
    _riskml(tree, "mine", "--repo", str(other / "repo"), "--repo-name", "repo", "--data-dir",
            str(other / "data"), cwd=other)  # fmt: skip
    _riskml(tree, "label", "--repo", str(other / "repo"), "--data-dir", str(other / "data"),
            "--incidents", str(other / "incidents.csv"), cwd=other)  # fmt: skip
    tree.places = {
        "repo": str(fx / "s" / "repo"),
        "incidents": str(fx / "s" / "incidents.csv"),
        "work": str(work),
        "data": str(work / "data"),
        "changes": str(work / "data" / "repo" / "changes.parquet"),
        "labels": str(work / "data" / "repo" / "labels.parquet"),
        "state": str(work / "data" / "repo" / "changes.state"),
        "models": str(work / "models"),
        "model": str(work / "models" / "change-risk"),
        "config": str(work / "riskml.toml"),
        "store": f"sqlite:///{work / 'mlflow.db'}",
        "other": str(other / "repo"),
        "other_data": str(other / "data"),
        "other_changes": str(other / "data" / "repo" / "changes.parquet"),
        "other_labels": str(other / "data" / "repo" / "labels.parquet"),
        "other_state": str(other / "data" / "repo" / "changes.state"),
    }


def fill(text: str, places: dict[str, str]) -> str:
    """``text`` with each ``{name}`` of ``places`` replaced (other braces are left alone)."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: places.get(m.group(1), m.group(0)), text)


def fingerprint(tree: Tree) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file of the fixtures, and the names beside the case folders."""
    out = {}
    for path in (tree.root / "fixtures").rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() or path.is_symlink():
                st = path.lstat()
                out[str(path)] = (st.st_size, st.st_mtime_ns)
    for path in tree.root.iterdir():
        out[f"entry:{path.name}"] = (0, 0)
    for path in (tree.root / "cases").iterdir():
        out[f"case-entry:{path.name}"] = (0, 0)
    return out


# ---------------------------------------------------------------- crafted inputs


class _Runs:
    """A pickle that runs a shell command when it is loaded: the canary of the pickle cases."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _mount_small(path: Path) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(path)],
                          capture_output=True, timeout=30)  # fmt: skip
    if done.returncode != 0:
        return False
    fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return True


def prepare(case: dict, tree: Tree, tmp: Path, stack: contextlib.ExitStack) -> dict[str, str]:
    """Make the case's setup in ``tmp``; return its placeholders (``None`` value: n/a)."""
    import pandas as pd

    places = dict(tree.places, tmp=str(tmp), canary=str(tmp / "canary"), marks=str(tmp / "marks"))
    setup = case.get("setup", [])
    if "repo_copy" in setup or "hostile_git" in setup:
        shutil.copytree(tree.places["repo"], tmp / "repo", symlinks=True)
        places["repo"] = str(tmp / "repo")
    if "data_copy" in setup or "legacy_state" in setup:
        shutil.copytree(tree.places["data"], tmp / "data", symlinks=True)
        places["data"] = str(tmp / "data")
        places["changes"] = str(tmp / "data" / "repo" / "changes.parquet")
        places["labels"] = str(tmp / "data" / "repo" / "labels.parquet")
        places["state"] = str(tmp / "data" / "repo" / "changes.state")
    if "mlflow" in setup:
        shutil.copy2(Path(tree.places["work"]) / "mlflow.db", tmp / "mlflow.db")
    if "hostile_git" in setup:
        plant_hostile_config(Path(places["repo"]), tmp / "marks")
        edited = next(
            p for p in sorted(Path(places["repo"]).rglob("*.py")) if ".git" not in p.parts
        )
        edited.write_text(edited.read_text() + "\nprint('pending')\n")
    if "small_disk" in setup:
        small = tmp / "small"
        if not _mount_small(small):
            places["__na__"] = "cannot mount a small file system here (needs root)"
        else:
            stack.callback(subprocess.run, ["umount", "-l", str(small)], capture_output=True)
    if "port_in_use" in setup:
        taken = stack.enter_context(socket.socket())
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        places["port"] = str(taken.getsockname()[1])
    runs = _Runs(f"touch {tmp / 'canary'}")
    if "pickle_state" in setup:
        (tmp / "x.state.joblib").write_bytes(pickle.dumps(runs))
    if "legacy_state" in setup:  # an earlier riskml's table beside its pickled state
        shutil.rmtree(tmp / "data" / "repo" / "changes.state", ignore_errors=True)
        (tmp / "data" / "repo" / "changes.state").unlink(missing_ok=True)
        (tmp / "data" / "repo" / "changes.state.joblib").write_bytes(pickle.dumps(runs))
    if "pickle_model" in setup:  # a format-1 model directory: its parts were pickles
        model = tmp / "model"
        shutil.copytree(tree.places["model"], model)
        meta = json.loads((model / "model.json").read_text())
        meta["format_version"] = 1
        (model / "model.json").write_text(json.dumps(meta))
        for part in ("calibrator", "linear", "text"):
            (model / f"{part}.joblib").write_bytes(pickle.dumps(runs))
    if "big_csv_field" in setup:
        with open(tmp / "big.csv", "w") as out:
            out.write("id,opened_at,fix_commits\nINC-1,2021-02-01,")
            out.write("a" * (50 * 1024 * 1024))
            out.write("\n")
    if "deep_json" in setup:
        (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    if "nul_incidents" in setup:
        (tmp / "nul.csv").write_bytes(b"id,opened_at,fix_commits\nINC-1\0,2021-02-01,abc\0\n")
    changes = places["changes"]
    labels = places["labels"]
    if "changes_bad_dtypes" in setup:
        table = pd.read_parquet(changes)
        for column in ("la", "ld", "nf", "author_time"):
            if column in table:
                table[column] = table[column].astype(str) + "x"
        table.to_parquet(tmp / "changes.parquet")
    if "labels_bad_schema" in setup:
        pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}).to_parquet(tmp / "labels.parquet")
    if "labels_out_of_range" in setup:
        table = pd.read_parquet(labels)
        table["label"] = table["label"].fillna(0) * 0 + 2
        table.to_parquet(tmp / "labels.parquet")
    if "labels_duplicates" in setup:
        table = pd.read_parquet(labels)
        pd.concat([table, table.head(5)]).to_parquet(tmp / "labels.parquet")
    if "labels_str" in setup:
        table = pd.read_parquet(labels)
        table["label"] = table["label"].astype(str)
        table.to_parquet(tmp / "labels.parquet")
    for name, text in case.get("files", {}).items():
        path = tmp / fill(name, places)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill(text, places))
    return places


# ---------------------------------------------------------------- running a case


@dataclass
class Outcome:
    status: str  # "held", "fell short" or "n/a"
    reason: str = ""


def _usage_na(case: dict, step_message: str, text: str) -> str | None:
    """Why a usage error means the tree lacks what the case uses (None when it does not)."""
    for marker in ("No such option", "No such command"):
        if marker in text and marker not in step_message:
            line = next((x for x in text.splitlines() if marker in x), marker)
            return line.strip(" │")
    return None


def judge(step: dict, code: int, out: str, err: str, places: dict[str, str]) -> str:
    """Why one step fell short ('' when it held)."""
    message = fill(step["message"], {k: re.escape(v) for k, v in places.items()})
    if "Traceback" in out or "Traceback" in err:
        return "traceback: " + (err.strip().splitlines() or [""])[-1][:200]
    if code != step["exit"]:
        last = (err.strip().splitlines() or out.strip().splitlines() or [""])[-1]
        return f"exit {code}, expected {step['exit']}: {last[:200]}"
    if step["exit"] == 2 and err.startswith("Usage: "):  # Click's usage error: its boxed line
        box = " ".join(x.strip("│ ") for x in err.splitlines() if x.startswith("│"))
        if not re.search(message, box):
            return f"usage error {box[:300]!r} does not match {step['message']!r}"
    elif step["exit"] == 2:
        lines = [x for x in err.splitlines() if x.strip()]
        errors = [x for x in lines if x.startswith("riskml: error: ")]
        if len(errors) != 1 or lines[-1] != errors[0]:
            return f"stderr does not end in one 'riskml: error:' line: {err[-300:]!r}"
        if not re.search(message, errors[0]):
            return f"message {errors[0][:300]!r} does not match {step['message']!r}"
    elif not re.search(message, out + err, re.MULTILINE):
        return f"output does not match {step['message']!r}: {(err or out)[-300:]!r}"
    return ""


def run_step(step: dict, tree: Tree, tmp: Path, places: dict, case: dict) -> tuple[str, str]:
    """Run one command (``parallel`` copies at once, or held and signalled); (status, reason)."""
    argv = [fill(a, places) for a in step["argv"]]
    env = tree.env({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
                    "MLFLOW_REGISTRY_URI": f"sqlite:///{tmp / 'mlflow.db'}"})  # fmt: skip
    env.update(
        {k: fill(v, places) for k, v in {**case.get("env", {}), **step.get("env", {})}.items()}
    )
    timeout = case.get("timeout", 180)
    hold = case.get("hold") if step is case else None
    copies = case.get("parallel", 1) if step is case else 1
    procs = []
    for _ in range(copies):
        if hold:
            env["RISKML_TEST_HOLD"] = f"{hold['point']}:{tmp / 'hold.pid'}"
        procs.append(subprocess.Popen([str(RISKML), *argv], cwd=tmp, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL))  # fmt: skip
    if hold:
        deadline = time.monotonic() + timeout
        pid_file = tmp / "hold.pid"
        while time.monotonic() < deadline and procs[0].poll() is None:
            if pid_file.is_file() and pid_file.read_text().strip():
                time.sleep(0.3)
                # the process that reached the point, or (target = "command") the command
                pid = procs[0].pid if hold.get("target") == "command" else None
                pid = pid or int(pid_file.read_text().split()[0])
                os.kill(pid, getattr(signal, f"SIG{hold['signal']}"))
                break
            time.sleep(0.1)
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return "fell short", f"still running after {timeout} s (hangs): {err[-200:]!r}"
        results.append((proc.returncode, out, err))
    for code, out, err in results:
        na = _usage_na(case, step["message"], err)
        if na and code == 2:
            return "n/a", na
        why = judge(step, code, out, err, places)
        if why:
            return "fell short", why
    return "held", ""


def run_case(case: dict, tree: Tree) -> Outcome:
    """Run one case on ``tree`` in a folder of its own (removed after)."""
    verb = case.get("verb") or (case["argv"][0] if case["class"] != "http" else "serve")
    if not tree.has_verb(verb):
        return Outcome("n/a", f"no `riskml {verb}` in this tree")
    for text in case.get("requires", []):
        if not tree.has_text(text):
            return Outcome("n/a", f"{text!r} is not in this tree")
    tmp = Path(tempfile.mkdtemp(prefix=f"{case['id']}.", dir=tree.root / "cases"))
    try:
        with contextlib.ExitStack() as stack:
            places = prepare(case, tree, tmp, stack)
            if "__na__" in places:
                return Outcome("n/a", places["__na__"])
            before = fingerprint(tree)
            if case["class"] == "http":
                status, why = run_request(case, tree, places)
            else:
                status, why = run_step(case, tree, tmp, places, case)
                for step in case.get("then", []) if status == "held" else []:
                    status, why = run_step(step, tree, tmp, places, case)
                    if status != "held":
                        why = f"then {' '.join(step['argv'][:2])}: {why}"
                        break
            if status != "held":
                return Outcome(status, why)
            for path in case.get("absent", []):
                if Path(fill(path, places)).exists():
                    return Outcome("fell short", f"{fill(path, places)} exists (code ran)")
            if "hostile_git" in case.get("setup", []):
                ran = marks_left(tmp / "marks")
                if ran:
                    return Outcome("fell short", f"the repository's commands ran: {ran}")
            for path in case.get("exists", []):
                if not Path(fill(path, places)).exists():
                    return Outcome("fell short", f"{fill(path, places)} is missing")
            after = fingerprint(tree)
            changed = sorted(set(before.items()) ^ set(after.items()))
            changed = [k for k, _ in changed if not k.startswith(f"case-entry:{tmp.name}")]
            changed = [k for k in changed if not k.startswith("case-entry:") or
                       not _is_case_dir(k, tree)]  # fmt: skip
            if changed:
                return Outcome("fell short", f"wrote outside {{tmp}}: {sorted(set(changed))[:3]}")
            return Outcome("held")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _is_case_dir(key: str, tree: Tree) -> bool:
    """A case folder of a case running beside this one (made by mkdtemp: ``<id>.<random>``)."""
    name = key.removeprefix("case-entry:")
    return bool(re.fullmatch(r"[a-z0-9-]+\.[A-Za-z0-9_]{8}", name))


# ---------------------------------------------------------------- the server


def start_server(tree: Tree, stack: contextlib.ExitStack) -> None:
    """One ``riskml serve`` of ``tree`` over its fixtures (token required), stopped with the
    stack. Its repository allow-list names the fixture repository ``repo`` only."""
    import urllib.request

    home = tree.root / "serve"
    home.mkdir()
    config = home / "riskml.toml"
    cap = "[score]\nmax_range_commits = 50\n" if tree.has_text("max_range_commits") else ""
    config.write_text(f'[label]\nwindow_days = 30\n[serve.repos]\nrepo = "{tree.places["repo"]}"\n'
                      + cap)  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = tree.env({"RISKML_API_TOKEN": TOKEN, "MLFLOW_TRACKING_URI": tree.places["store"]})
    log = open(home / "serve.log", "w")  # noqa: SIM115 - closed with the stack
    stack.callback(log.close)
    proc = subprocess.Popen(
        [str(RISKML), "serve", "--config", str(config), "--port", str(port), "--model",
         tree.places["model"], "--data-dir", tree.places["data"]],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

    stack.callback(stop)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"[{tree.label}] serve exited: {(home / 'serve.log').read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    tree.server = base
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"[{tree.label}] serve did not come up")


def run_request(case: dict, tree: Tree, places: dict) -> tuple[str, str]:
    """Send the case's request to the tree's server; (status, reason)."""
    import urllib.error
    import urllib.request

    request = case["request"]
    if "json" in request:
        body = fill(json.dumps(request["json"]), places).encode()
    else:
        body = fill(request.get("body", ""), places).encode() if "body" in request else None
    if "body_bytes" in request:
        body = b" " * int(request["body_bytes"])
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if request.get("auth", True):
        headers["Authorization"] = f"Bearer {TOKEN}"
    headers.update(request.get("headers", {}))
    method = request.get("method", "POST" if body is not None else "GET")
    url = tree.server + fill(request["path"], places)
    if "body_bytes" in request:
        return judge_answer(case, *send_expecting_continue(url, method, headers, body))
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers,
                                                           method=method), timeout=120) as answer:  # fmt: skip
            status, text = answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        return "fell short", f"no answer: {exc}"
    return judge_answer(case, status, text)


def send_expecting_continue(url: str, method: str, headers: dict, body: bytes) -> tuple[int, str]:
    """Send ``body`` as a careful client does (``Expect: 100-continue``): the headers first, the
    body only on ``100 Continue``. A server that refuses by the declared length answers before
    the body is sent, so its answer is never lost to a broken pipe; (status, body text)."""
    import urllib.parse

    where = urllib.parse.urlsplit(url)
    lines = [
        f"{method} {where.path or '/'} HTTP/1.1",
        f"Host: {where.netloc}",
        f"Content-Length: {len(body)}",
        "Expect: 100-continue",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((where.hostname, where.port), timeout=120) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        first = sock.recv(65536)
        if first.startswith(b"HTTP/1.1 100"):
            sock.sendall(body)
            first = first.partition(b"\r\n\r\n")[2] or sock.recv(65536)
        answer = first
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, text = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, text.decode(errors="replace")


def judge_answer(case: dict, status: int, text: str) -> tuple[str, str]:
    """Whether the server's answer is the case's: (held / fell short / n/a, reason)."""
    request = case["request"]
    if status == 404 and text == '{"detail":"Not Found"}' and case["status"] != 404:
        return "n/a", f"no {request['path']} on this server"
    if "Traceback" in text:
        return "fell short", "traceback in the response"
    if status != case["status"]:
        return "fell short", f"status {status}, expected {case['status']}: {text[:200]}"
    if not re.search(case["message"], text):
        return "fell short", f"body {text[:200]!r} does not match {case['message']!r}"
    return "held", ""


# ---------------------------------------------------------------- one tree, the report


def run_tree(tree: Tree, cases: list[dict], jobs: int, verbose: bool) -> dict[str, Outcome]:
    """Every case of ``cases`` on ``tree``: fixtures, then the CLI cases (``jobs`` at a time),
    then the HTTP cases against one server."""
    (tree.root / "cases").mkdir(parents=True)
    start = time.monotonic()
    build_fixtures(tree)
    print(f"[{tree.label}] fixtures built in {time.monotonic() - start:.0f} s", file=sys.stderr)
    results: dict[str, Outcome] = {}

    def one(case: dict) -> None:
        try:
            results[case["id"]] = run_case(case, tree)
        except Exception as exc:  # a broken case is reported, never a crashed run
            results[case["id"]] = Outcome("fell short", f"runner: {type(exc).__name__}: {exc}")
        if verbose or results[case["id"]].status == "fell short":
            outcome = results[case["id"]]
            print(f"[{tree.label}] {case['id']}: {outcome.status} {outcome.reason}",
                  file=sys.stderr, flush=True)  # fmt: skip

    plain = [c for c in cases if c["class"] != "http"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, plain))
    http = [c for c in cases if c["class"] == "http"]
    if http:
        with contextlib.ExitStack() as stack:
            try:
                start_server(tree, stack)
            except RuntimeError as exc:
                for case in http:
                    results[case["id"]] = Outcome("fell short", str(exc).splitlines()[0][:200])
            else:
                for case in http:
                    one(case)
    print(f"[{tree.label}] {len(cases)} cases in {time.monotonic() - start:.0f} s",
          file=sys.stderr)  # fmt: skip
    return results


def counts(results: dict[str, Outcome], ids: list[str]) -> tuple[int, int, int]:
    """(held, fell short, n/a) among ``ids``."""
    statuses = [results[i].status for i in ids]
    return statuses.count("held"), statuses.count("fell short"), statuses.count("n/a")


def report(cases: list[dict], columns: list[tuple[str, dict[str, Outcome]]]) -> str:
    """The table: per class its cases, then held / fell short / n/a of each tree."""
    head = f"{'class':<12} {'cases':>5}"
    for label, _ in columns:
        head += f"  | {label[:26]:^26}"
    sub = f"{'':<12} {'':>5}" + "  | {:>7} {:>10} {:>5}".format("held", "fell short", "n/a") * len(
        columns
    )
    lines = [head, sub, "-" * len(sub)]
    classes = [c for c in CLASSES if any(case["class"] == c for case in cases)]
    for name in [*classes, "total"]:
        ids = [c["id"] for c in cases if name in ("total", c["class"])]
        row = f"{name:<12} {len(ids):>5}"
        for _, results in columns:
            held, short, na = counts(results, ids)
            row += f"  | {held:>7} {short:>10} {na:>5}"
        if name == "total":
            lines.append("-" * len(sub))
        lines.append(row)
    return "\n".join(lines)


def export(ref: str, into: Path) -> Path:
    """The package of commit ``ref`` (``git archive``), in ``into``: a tree to run."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(TOP), "archive", ref, "riskml"],
                             capture_output=True, check=True)  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="Run only these classes (comma-separated).")
    parser.add_argument("--ids", help="Run only these case ids (comma-separated).")
    parser.add_argument("--ref", help="Also run the corpus against this commit, side by side.")
    parser.add_argument("--jobs", type=int, default=2, help="Cases at once (default 2).")
    parser.add_argument("--keep", type=Path, help="Build everything under DIR and keep it.")
    parser.add_argument("-v", "--verbose", action="store_true", help="Print every outcome.")
    args = parser.parse_args(argv)
    cases = load_corpus()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - set(CLASSES)
        if unknown:
            parser.error(
                f"unknown class(es) {', '.join(sorted(unknown))}: use {', '.join(CLASSES)}"
            )
        cases = [c for c in cases if c["class"] in wanted]
    if args.ids:
        wanted = set(args.ids.split(","))
        cases = [c for c in cases if c["id"] in wanted]
    with contextlib.ExitStack() as stack:
        if args.keep:
            base = args.keep.resolve()
            base.mkdir(parents=True, exist_ok=True)
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hostile.")))
        commit = subprocess.run(["git", "-C", str(TOP), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(TOP), "status", "--porcelain", "riskml"],
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        here = Tree(f"this tree ({commit}{'+' if dirty else ''})", TOP, base / "this")
        trees = [here]
        if args.ref:
            code = export(args.ref, base / "ref-code")
            trees.insert(0, Tree(f"--ref {args.ref}", code, base / "ref"))
        columns = [(t.label, run_tree(t, cases, args.jobs, args.verbose)) for t in trees]
    print(f"hostile corpus: {len(cases)} cases ({CORPUS.relative_to(TOP)})")
    print(report(cases, columns))
    for label, results in columns:
        short = [(i, o.reason) for i, o in results.items() if o.status == "fell short"]
        if short:
            print(f"\nfell short on {label}:")
            for i, reason in sorted(short):
                print(f"  {i}: {reason}")
    mine = columns[-1][1]
    return 0 if all(o.status != "fell short" for o in mine.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
