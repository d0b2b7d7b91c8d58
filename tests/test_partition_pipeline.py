"""Customer partitions on disk (issue 14.1): score and features on a partitioned folder give exactly the
single-file results, simulate --partitioned writes the book part by part, and a half-partitioned folder is refused."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _scoring_helpers import save_bundle, small_settings, world, write_tables
from riskmodel.data import schemas as S
from riskmodel.data.partition import is_partitioned, write_partitioned
from riskmodel.data.validation import load_and_validate
from riskmodel.exceptions import SchemaError
from riskmodel.io import read_frame

AS_OF = "2024-12-31"


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """The small base twice: one file per table, and partitions of 150 customers (4 parts)."""
    w = world()
    root = tmp_path_factory.mktemp("parts")
    save_bundle(w.bundles["lightgbm"], root)
    single = write_tables(w.tables, root / "single")
    n = write_partitioned(w.tables, root / "parts", 150)
    return w, root, single, root / "parts", n


def test_partitioned_folder_reads_back_as_the_same_tables(layouts) -> None:
    w, _, single, parts, n = layouts
    assert n == 4 and is_partitioned(parts) and not is_partitioned(single)
    assert len(list((parts / S.INVOICES).glob("part-*.parquet"))) == 4
    a, b = load_and_validate(single), load_and_validate(parts)
    for name, frame in a.as_dict().items():
        other = getattr(b, name)
        key = list(S.SPECS[name].key)
        pd.testing.assert_frame_equal(frame.sort_values(key, ignore_index=True),
                                      other.sort_values(key, ignore_index=True))
    # a customer's rows are all in one part
    seen: dict[str, str] = {}
    for table in (S.CUSTOMERS, S.INVOICES, S.EVENTS):
        for p in sorted((parts / table).glob("part-*.parquet")):
            for cid in pd.read_parquet(p)[S.CUSTOMER_ID].unique():
                assert seen.setdefault(cid, p.name) == p.name


def test_score_on_partitions_equals_the_single_file_path(layouts) -> None:
    from riskmodel.pipeline import run_score

    _, root, single, parts, _ = layouts
    one_chunk = small_settings(root)  # chunk_size 50,000: the whole base at once
    a = run_score(one_chunk, AS_OF, data_dir=single, out_file=root / "a.parquet")
    b = run_score(small_settings(root, scale={"partition_customers": 150}), AS_OF, data_dir=parts,
                  out_file=root / "b.parquet")
    pd.testing.assert_frame_equal(read_frame(a), read_frame(b))  # same rows, order, PDs, grades, reasons
    drift_a = json.loads(root.joinpath("a.parquet.drift.json").read_text())
    drift_b = json.loads(root.joinpath("b.parquet.drift.json").read_text())
    assert drift_a == drift_b
    assert not list(root.glob(".riskmodel-parts-*"))  # the scratch copy is removed


def test_features_on_partitions_equal_the_single_file_path(layouts) -> None:
    from riskmodel.pipeline import run_features

    _, root, single, parts, _ = layouts
    s = small_settings(root)
    a = read_frame(run_features(s, data_dir=single, out_file=root / "fa" / "t.parquet"))
    b = read_frame(run_features(s, data_dir=parts, out_file=root / "fb" / "t.parquet"))
    key = [S.SNAPSHOT_DATE, S.CUSTOMER_ID]
    assert len(a) == len(b) > 0
    pd.testing.assert_frame_equal(a.sort_values(key, ignore_index=True), b.sort_values(key, ignore_index=True),
                                  check_categorical=False)


def test_simulate_partitioned_writes_the_book_part_by_part(tmp_path) -> None:
    from riskmodel.data.simulator import oracle_path_for
    from riskmodel.pipeline import run_simulate

    s = small_settings(tmp_path, scale={"partition_customers": 40})
    single = run_simulate(s, n_customers=100, years=2, out_dir=tmp_path / "single")
    parts = run_simulate(s, n_customers=100, years=2, out_dir=tmp_path / "parts", partitioned=True)
    assert is_partitioned(parts) and len(list((parts / S.CUSTOMERS).glob("part-*.parquet"))) == 3
    assert len(list(oracle_path_for(parts).with_suffix("").glob("part-*.parquet"))) == 3
    assert not (parts / "customers.parquet").exists() and not oracle_path_for(parts).exists()
    b = load_and_validate(parts)  # the contract over every part, ids unique over the book
    assert len(b.customers) == 100 and b.customers[S.CUSTOMER_ID].is_unique and b.invoices[S.INVOICE_ID].is_unique
    # a book that fits one partition is the whole-book simulation, byte for byte
    one = run_simulate(small_settings(tmp_path, scale={"partition_customers": 100}), n_customers=100, years=2,
                       out_dir=tmp_path / "one", partitioned=True)
    a, c = load_and_validate(single), load_and_validate(one)
    for name, frame in a.as_dict().items():
        pd.testing.assert_frame_equal(frame, getattr(c, name), check_exact=True)
    # back to one file per table: the partitions and the oracle's parts are removed, the folder reads as one layout
    run_simulate(s, n_customers=100, years=2, out_dir=parts)
    assert not is_partitioned(parts) and len(load_and_validate(parts).customers) == 100
    assert oracle_path_for(parts).is_file() and not oracle_path_for(parts).with_suffix("").exists()


def test_a_half_partitioned_folder_is_refused_naming_the_table(layouts, tmp_path) -> None:
    from riskmodel.pipeline import run_score

    w, root, _, parts, _ = layouts
    mixed = tmp_path / "mixed"
    write_partitioned(w.tables, mixed, 150)
    for p in (mixed / S.VISITS).glob("*.parquet"):
        p.unlink()
    (mixed / S.VISITS).rmdir()
    w.tables.visits.to_parquet(mixed / "visits.parquet")
    with pytest.raises(SchemaError, match="visits is a single file"):
        run_score(small_settings(root), AS_OF, data_dir=mixed, out_file=tmp_path / "s.parquet")


def test_training_on_partitions_samples_customers_under_the_ceiling_and_says_so(layouts) -> None:
    from riskmodel.pipeline import TRAIN_BYTES_PER_CUSTOMER, train_from_tables

    _, root, _, parts, _ = layouts
    ceiling = 250 * TRAIN_BYTES_PER_CUSTOMER / 0.5e9  # room for 250 of the 500 customers
    s = small_settings(root, models={"enabled": ["logistic_scorecard"]}, scale={"memory_ceiling_gb": ceiling})
    result = train_from_tables(s, parts)
    assert result.data["sample"].startswith("250 of 500 customers (50.0%)")
    full = train_from_tables(small_settings(root, models={"enabled": ["logistic_scorecard"]}), parts)
    assert "sample" not in full.data
    assert 0.3 * full.data["n_train"] < result.data["n_train"] < 0.7 * full.data["n_train"]


def test_partitions_validated_in_worker_processes_give_the_same_book(layouts, tmp_path) -> None:
    """PartitionedBook.open with 2 worker processes: the same book, span and spilled partitions, in order;
    a broken partition is still named (the error crosses the process boundary)."""
    from riskmodel.data.partition import PartitionedBook

    _, _, _, parts, n = layouts
    one = PartitionedBook.open(parts, tmp_path / "one", workers=1)
    two = PartitionedBook.open(parts, tmp_path / "two", workers=2, parallel_min_customers=0)
    assert one.names == two.names and len(two.names) == n and one.span == two.span
    for name, frame in one.book.as_dict().items():
        pd.testing.assert_frame_equal(frame, getattr(two.book, name), check_exact=True)
    for a, b in zip(one.parts(), two.parts(), strict=True):
        for name, frame in a.as_dict().items():
            pd.testing.assert_frame_equal(frame, getattr(b, name), check_exact=True)
    broken = tmp_path / "broken"
    write_partitioned(load_and_validate(parts), broken, 150)
    bad = pd.read_parquet(broken / S.INVOICES / "part-00002.parquet")
    bad.loc[bad.index[:3], S.AMOUNT] = -5.0
    bad.to_parquet(broken / S.INVOICES / "part-00002.parquet", index=False)
    with pytest.raises(SchemaError, match="part-00002"):
        PartitionedBook.open(broken, tmp_path / "three", workers=2, parallel_min_customers=0)
