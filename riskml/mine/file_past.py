"""Signals from the touched files' own past: earlier fixes and reverts, recency, ownership,
co-change coupling and recent activity (docs/features.md, "The touched files' own past").

Each group is one small function with the same inputs: the histories of the touched files
that have one (``known``, :class:`riskml.mine.state.FileHistory` objects), the change's author
time ``t`` and the :class:`PastIndex` of the state (what every commit index stands for). They
only read; :class:`riskml.mine.state.MiningState` records a change after its row is computed,
so a row never sees its own or a later commit.
"""

from __future__ import annotations

from array import array

DAY = 86400

# Earlier fixes weigh 0.5 ** (days ago / FIX_HALF_LIFE_DAYS) in ``file_fixes_decay``.
FIX_HALF_LIFE_DAYS = 90.0
# Bird et al. (FSE 2011): a minor contributor made less than 5 % of a file's earlier commits.
MINOR_SHARE = 0.05
# Co-change coupling. Commits touching more than this many files (bulk reformatting, licence
# headers, mass renames) say little about which files belong together and would cost O(nf²):
# they count neither as co-changes nor in a file's commit count for confidence.
COUPLING_MAX_FILES = 30
# A partner b of file a is strongly coupled when a and b changed together in at least
# COUPLING_MIN_SUPPORT earlier commits and in at least COUPLING_MIN_CONFIDENCE of a's commits.
COUPLING_MIN_SUPPORT = 3
COUPLING_MIN_CONFIDENCE = 0.5
# The window of the recent-activity columns.
RECENT_DAYS = 30


class PastIndex:
    """Per commit index of the state: author time, author id; per directory: earlier fixes."""

    __slots__ = ("times", "author_of", "author_ids", "dir_fixes")

    def __init__(self) -> None:
        self.times = array("q")  # author time of commit i
        self.author_of = array("l")  # author id of commit i
        self.author_ids: dict[str, int] = {}
        self.dir_fixes: dict[str, int] = {}  # directory -> earlier fix commits touching it

    def __getstate__(self):
        return (self.times, self.author_of, self.author_ids, self.dir_fixes)

    def __setstate__(self, state) -> None:
        self.times, self.author_of, self.author_ids, self.dir_fixes = state

    def record(self, t: int, email: str, dirs: set[str], fix: bool) -> None:
        """Commit ``len(self.times)`` joins the index."""
        self.times.append(t)
        aid = self.author_ids.get(email)
        if aid is None:
            aid = self.author_ids[email] = len(self.author_ids)
        self.author_of.append(aid)
        if fix:
            for d in dirs:
                self.dir_fixes[d] = self.dir_fixes.get(d, 0) + 1


def _distinct(lists: list[list[int]]) -> set[int] | list[int]:
    if len(lists) == 1:
        return lists[0]
    return set().union(*lists)


def fix_history(known: list, t: int, past: PastIndex, dirs: set[str]) -> dict:
    """file_fixes, file_fixes_decay, dir_fixes, file_reverts."""
    fix_lists = [h.fixes for h in known if h.fixes]
    fixes = _distinct(fix_lists) if fix_lists else ()
    times = past.times
    scale = 1.0 / (FIX_HALF_LIFE_DAYS * DAY)
    decay = sum(0.5 ** (max(0, t - times[i]) * scale) for i in fixes)
    revert_lists = [h.reverts for h in known if h.reverts]
    dir_fixes = past.dir_fixes
    return {
        "file_fixes": len(fixes),
        "file_fixes_decay": decay,
        "dir_fixes": max((dir_fixes.get(d, 0) for d in dirs), default=0),
        "file_reverts": len(_distinct(revert_lists)) if revert_lists else 0,
    }


def recency(known: list, t: int) -> dict:
    """age_min, age_max (days since last change), file_age_min, file_age_max (since creation)."""
    last = [max(0, t - h.last_time) / DAY for h in known if h.last_time is not None]
    born = [max(0, t - h.first_time) / DAY for h in known if h.first_time is not None]
    return {
        "age_min": min(last, default=0.0),
        "age_max": max(last, default=0.0),
        "file_age_min": min(born, default=0.0),
        "file_age_max": max(born, default=0.0),
    }


def ownership(known: list, email: str) -> dict:
    """minor_contributors, minor_share, top_owner_share, author_share_min (Bird et al. 2011)."""
    most_minor = 0
    minor_share = 0.0
    top_share = None
    author_share = None
    for h in known:
        n = len(h.commits)
        minor = 0
        for commits in h.authors.values():
            if len(commits) < MINOR_SHARE * n:
                minor += 1
        most_minor = max(most_minor, minor)
        minor_share = max(minor_share, minor / len(h.authors))
        share = h.top / n
        top_share = share if top_share is None else min(top_share, share)
        mine = len(h.authors.get(email, ())) / n
        author_share = mine if author_share is None else min(author_share, mine)
    return {
        "minor_contributors": most_minor,
        "minor_share": minor_share,
        "top_owner_share": 1.0 if top_share is None else top_share,
        "author_share_min": 0.0 if author_share is None else author_share,
    }


def coupling(known: list, alive: set[int]) -> dict:
    """coupled_partners, coupled_missing, coupled_missing_share."""
    touched = {h.fid for h in known}
    strong: set[int] = set()
    for h in known:
        n = h.n_coupled
        if n < COUPLING_MIN_SUPPORT:
            continue
        least = max(COUPLING_MIN_SUPPORT, COUPLING_MIN_CONFIDENCE * n)
        for partner, together in h.partners.items():
            if together >= least and partner in alive:
                strong.add(partner)
    missing = len(strong - touched)
    return {
        "coupled_partners": len(strong),
        "coupled_missing": missing,
        "coupled_missing_share": missing / len(strong) if strong else 0.0,
    }


def activity(known: list, t: int, past: PastIndex) -> dict:
    """recent_file_commits, recent_churn, recent_devs (the last RECENT_DAYS days)."""
    since = t - RECENT_DAYS * DAY
    times = past.times
    commits: set[int] = set()
    churn = 0
    for h in known:
        history = h.commits
        k = len(history) - 1
        while k >= 0 and times[history[k]] >= since:
            commits.add(history[k])
            churn += h.churn[k]
            k -= 1
    author_of = past.author_of
    return {
        "recent_file_commits": len(commits),
        "recent_churn": churn,
        "recent_devs": len({author_of[i] for i in commits}),
    }


def record_coupling(touched: list) -> None:
    """Count the co-changes of one commit's touched (surviving) file histories."""
    ids = [h.fid for h in touched]
    for h in touched:
        h.n_coupled += 1
        partners = h.partners
        own = h.fid
        for other in ids:
            if other != own:
                partners[other] = partners.get(other, 0) + 1
