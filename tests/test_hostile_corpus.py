"""The hostile corpus (benchmarks/hostile/cases.toml): its schema, and one case of each class
run through the runner's own functions against the real CLI (the whole corpus: `make hostile`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import hostile  # noqa: E402

# one case per class, with the exit its case file expects (the runner checks it)
SUBSET = {
    "serve-port-too-big": 2,
    "config-tier-share-string": 2,
    "incidents-semicolon-separated": 2,
    "labels-out-of-range-train": 2,
    "train-labels-of-another-repo": 2,
    "score-rev-option-like": 2,
    "score-store-scheme-unsupported": 2,
    "score-model-format-1-pickles": 2,
    "gitconfig-score-worktree": 0,
    "disk-mine-under-a-file": 2,
    "stop-mine-killed-table-written": -9,
    "concurrent-mine-same-data-dir": 0,
}
HTTP_SUBSET = {"http-rev-option-like": 400, "http-no-token": 401}


def test_the_corpus_loads_with_unique_ids_and_every_class() -> None:
    cases = hostile.load_corpus()
    ids = [case["id"] for case in cases]
    assert len(ids) == len(set(ids)) and len(ids) >= 150
    assert {case["class"] for case in cases} == set(hostile.CLASSES)
    for case in cases:
        assert isinstance(case["message"], str)
        if case["class"] == "http":
            assert isinstance(case["status"], int) and case["request"]["path"].startswith("/")
        else:
            assert isinstance(case["exit"], int) and case["argv"]
    verbs = {case.get("verb", case.get("argv", ["serve"])[0]).split()[0] for case in cases}
    assert verbs >= {"mine", "label", "train", "evaluate", "score", "serve", "trends", "budget",
                     "run", "incidents", "fleet", "bench", "synth", "demo", "ci"}  # fmt: skip
    by_id = {case["id"]: case for case in cases}
    assert {i: by_id[i]["exit"] for i in SUBSET} == SUBSET
    assert {i: by_id[i]["status"] for i in HTTP_SUBSET} == HTTP_SUBSET
    assert {by_id[i]["class"] for i in [*SUBSET, *HTTP_SUBSET]} == set(hostile.CLASSES)


def test_a_malformed_case_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "cases.toml"
    path.write_text(
        '[[case]]\nid = "a"\nclass = "cli"\nargv = ["mine"]\nexit = 2\nmessage = "("\n'
        '[[case]]\nid = "a"\nclass = "nosuch"\nargv = []\nmessage = "x"\nsetup = ["disk"]\n'
        "color = 1\n"
    )
    with pytest.raises(ValueError) as info:
        hostile.load_corpus(path)
    assert str(info.value) == (
        "a: message is not a regex (missing ), unterminated subpattern at position 0); "
        "a: unknown key 'color'; "
        "a: class must be one of " + ", ".join(hostile.CLASSES) + "; "
        "a: argv must be a non-empty list of strings; a: exit (an int) is required; "
        "a: unknown setup 'disk'; id 'a' used twice"
    )


def test_placeholders_are_filled_and_other_braces_kept() -> None:
    places = {"repo": "/r", "tmp": "/t"}
    assert hostile.fill("{repo}/{tmp}/{nosuch} {critical = 1}", places) == (
        "/r//t/{nosuch} {critical = 1}"
    )


@pytest.mark.slow
def test_one_case_of_each_class_holds_through_the_real_cli(tmp_path: Path) -> None:
    cases = {case["id"]: case for case in hostile.load_corpus()}
    tree = hostile.Tree("this tree", hostile.TOP, tmp_path / "this")
    (tree.root / "cases").mkdir(parents=True)
    hostile.build_fixtures(tree)
    outcomes = {i: hostile.run_case(cases[i], tree) for i in SUBSET}
    assert {i: (o.status, o.reason) for i, o in outcomes.items()} == {
        i: ("held", "") for i in SUBSET
    }
    import contextlib

    with contextlib.ExitStack() as stack:
        hostile.start_server(tree, stack)
        outcomes = {i: hostile.run_case(cases[i], tree) for i in HTTP_SUBSET}
    assert {i: (o.status, o.reason) for i, o in outcomes.items()} == {
        i: ("held", "") for i in HTTP_SUBSET
    }
