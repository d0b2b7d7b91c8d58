"""Issue 11.1: output paths built from data ids stay inside their folder; free text in memos is bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from _scoring_helpers import save_bundle, small_settings, world, write_tables
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.safety import UnsafePathError, clip_text, ensure_inside, safe_name

HOSTILE = ["../../outside/pwned", "/etc/passwd", "..", "evil\u202eLMTH.exe", "nul\x00byte", "x" * 400,
           "a/b\\c", "C 1"]


@pytest.mark.parametrize("raw", HOSTILE)
def test_safe_name_has_only_safe_characters(raw: str) -> None:
    name = safe_name(raw)
    assert name and len(name) <= 91
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-%~") for ch in name), name
    assert "\u202e" not in name and "\x00" not in name and "/" not in name and name not in (".", "..")


def test_safe_name_keeps_plain_ids_and_never_collides() -> None:
    assert safe_name("C000123") == "C000123"
    names = {safe_name(x) for x in ["a/b", "a%2Fb", "a\u202eb", "ab", "x" * 400, "x" * 401]}
    assert len(names) == 6  # the hash suffix keeps distinct ids apart


def test_ensure_inside_refuses_paths_that_leave_the_folder(tmp_path: Path) -> None:
    assert ensure_inside(tmp_path, tmp_path / "memo_a.html") == tmp_path / "memo_a.html"
    with pytest.raises(UnsafePathError, match="outside"):
        ensure_inside(tmp_path / "memos", tmp_path / "memos" / ".." / ".." / "x.html")
    with pytest.raises(UnsafePathError):
        ensure_inside(tmp_path, "/etc/passwd")


def _rename(tables: Tables, old: str, new: str) -> Tables:
    out = {}
    for name, frame in tables.as_dict().items():
        f = frame.copy()
        f[S.CUSTOMER_ID] = f[S.CUSTOMER_ID].astype(str).where(f[S.CUSTOMER_ID].astype(str) != old, new)
        out[name] = f
    return Tables(**out)


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory):
    from test_memo import _scored_customer

    w = world()
    root = tmp_path_factory.mktemp("hostile") / "project"
    root.mkdir()
    save_bundle(w.bundles["lightgbm"], root)
    cid = _scored_customer(w)
    return w, root, cid


@pytest.mark.parametrize("hostile", ["../../outside/pwned", "/tmp/harden_abs_pwned", "evil\u202elmth.exe",
                                     "y" * 300])
def test_explain_writes_hostile_ids_inside_the_memo_folder(hostile_project, hostile: str) -> None:
    from riskmodel.pipeline import run_explain

    w, root, cid = hostile_project
    data = root / f"data_{abs(hash(hostile))}"
    write_tables(_rename(w.tables, cid, hostile), data)
    settings = small_settings(root)
    before = set(root.parent.rglob("*"))
    out = run_explain(settings, hostile, as_of="2024-12-31", fmt="json", data_dir=data)
    memo_dir = (root / "reports" / "memos").resolve()
    assert out.resolve().parent == memo_dir
    assert "\u202e" not in out.name and "/" not in out.name.replace(str(memo_dir), "")
    created = set(root.parent.rglob("*")) - before
    assert all(memo_dir in p.resolve().parents or p.resolve() == memo_dir or p == memo_dir.parent
               or p == root / "reports" for p in created), created
    assert not Path("/tmp/harden_abs_pwned_2024-12-31.json").exists()


def test_long_notes_are_truncated_in_the_memo(hostile_project) -> None:
    from riskmodel.pipeline import run_explain

    w, root, cid = hostile_project
    visits = w.tables.visits.copy()
    mine = visits.index[visits[S.CUSTOMER_ID].astype(str) == cid]
    assert len(mine)
    visits[S.NOTES] = visits[S.NOTES].astype(object)
    visits.loc[mine, S.NOTES] = "A" * 3_000_000
    tables = Tables(**{**w.tables.as_dict(), "visits": visits})
    data = write_tables(tables, root / "data_notes")
    out = run_explain(small_settings(root), cid, as_of="2024-12-31", fmt="html", data_dir=data)
    text = out.read_text()
    assert len(text) < 1_500_000 and "truncated" in text
    assert clip_text("abc", 2).startswith("ab […truncated: 1 more")
