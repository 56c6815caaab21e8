"""The coarse partition (IVF) and residual codes: recall against exact search on a clustered
set, new rows joining their nearest list through the change log, deletes, retraining and a
model made anew.

Real SQLite with sqlite-vec loaded; vectors written by a second connection, as the nightly
rebuild or a watcher writes while the daemon searches; the reference is a numpy matmul over
every stored vector, and a fresh load of the same tables.
"""

from __future__ import annotations

import numpy as np
import pytest

from tierd.db import connect, transaction
from tierd.index import lists, store
from tierd.index.bits import SignBits, sign_bits_for
from tierd.index.search import vector_knn

DIMS = 64
CLUSTERS = 40


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "index.db"
    writer = connect(path, vec=True)
    store.ensure_schema(writer)
    tables = store.ensure_model(writer, "test:lists", DIMS)
    reader = connect(path, vec=True)
    yield writer, reader, tables
    writer.close()
    reader.close()


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    """Points around `centres` with as much noise as signal, as the search benchmark draws."""
    points = centres[rng.integers(0, len(centres), n)] + rng.standard_normal(
        (n, centres.shape[1])).astype(np.float32)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def add(conn, tables, vectors: np.ndarray, prefix: str) -> list[int]:
    with transaction(conn):
        return store.insert_vectors(conn, tables, [f"{prefix}-{i}" for i in range(len(vectors))],
                                    vectors)


def delete(conn, tables, rowids: list[int]) -> None:
    with transaction(conn):
        conn.executemany(f"DELETE FROM {tables.keys} WHERE id = ?", [(r,) for r in rowids])
        conn.executemany(f"DELETE FROM {tables.floats} WHERE id = ?", [(r,) for r in rowids])


def exact_top(conn, tables, query: np.ndarray, k: int) -> list[int]:
    rowids = [r[0] for r in conn.execute(f"SELECT id FROM {tables.keys} ORDER BY id")]
    ids, matrix = store.read_floats(conn, tables, rowids)
    return [ids[i] for i in np.argsort(-(matrix @ query))[:k]]


def recall(conn, tables, queries: np.ndarray, k: int = 10, candidates: int = 200) -> float:
    found = [len(set(exact_top(conn, tables, q, k))
                 & {rowid for rowid, _ in vector_knn(conn, tables, q, k, candidates)}) / k
             for q in queries]
    return float(np.mean(found))


def view_rows(view) -> dict[int, tuple[int, bytes]]:
    alive = np.ones(view.ids.size, dtype=bool)
    alive[view.dead] = False
    return {int(i): (int(view.lists[p]), view.columns[:, p].tobytes() + view.floats[:, p].tobytes())
            for p, i in enumerate(view.ids) if alive[p]}


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values, kind="stable"))


def test_the_estimated_distances_are_unbiased_and_rank_better_than_hamming():
    """The codes' distance estimate, against a zero centroid and against trained ones: about
    right on average, and ordering vectors much more as the exact distance does than the
    hamming distance of plain sign bits (it is what picks the re-rank's few)."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    vectors = clustered(rng, centres, 4000)
    query = clustered(rng, centres, 1)[0]
    exact = ((vectors - query) ** 2).sum(axis=1)
    hamming = ((vectors > 0) != (query > 0)).sum(axis=1)
    by_hamming = np.corrcoef(ranks(hamming), ranks(exact))[0, 1]
    nearest = set(np.argsort(exact)[:10].tolist())
    for centroids in (None, lists.train(vectors, 32, rng)):
        codes = lists.encode(vectors, centroids)
        columns = np.ascontiguousarray(codes.bits.view(np.uint64).T)
        centre = np.zeros((1, DIMS), np.float32) if centroids is None else centroids[codes.lists]
        estimate = lists.estimate_distances(lists.Query.of(query, columns.shape[0]), columns,
                                            codes.norms, codes.factors, codes.offsets,
                                            ((query - centre) ** 2).sum(axis=1))
        assert abs(float(np.mean(estimate - exact))) < 0.05
        assert np.corrcoef(ranks(estimate), ranks(exact))[0, 1] > max(0.75, by_hamming + 0.1)
        assert len(nearest & set(np.argsort(estimate)[:100].tolist())) >= 9


def test_a_partitioned_index_finds_the_exact_neighbours_of_clustered_queries(db):
    writer, reader, tables = db
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    add(writer, tables, clustered(rng, centres, 6000), "a")
    assert store.partition(writer, tables, rng, count=64) == 64
    bits = sign_bits_for(reader, tables)
    view = bits.current(reader)
    assert view.centroids is not None and view.centroids.shape == (64, DIMS)
    assert np.all(np.diff(view.lists) >= 0), "rows sorted by list"
    assert recall(reader, tables, clustered(rng, centres, 30)) >= 0.95


def test_new_rows_join_their_nearest_list_through_the_log_without_a_reload(db):
    writer, reader, tables = db
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    add(writer, tables, clustered(rng, centres, 3000), "a")
    store.partition(writer, tables, rng, count=32)
    bits = sign_bits_for(reader, tables)
    bits.current(reader)
    fresh_vectors = clustered(rng, centres, 50)
    added = add(writer, tables, fresh_vectors, "b")
    view = bits.current(reader)
    assert bits.reloads == 1, "a write must not reload the codes"
    centroids = store.centroids(reader, tables)
    expected = lists.assign(fresh_vectors, centroids)
    positions = {int(i): p for p, i in enumerate(view.ids)}
    assert [int(view.lists[positions[r]]) for r in added] == expected.tolist()
    assert view_rows(view) == view_rows(SignBits(tables).current(reader))
    for rowid, vector in zip(added[:5], fresh_vectors[:5]):
        assert vector_knn(reader, tables, vector, 3, 200)[0][0] == rowid


def test_deleted_rows_are_not_found_and_a_history_matches_a_fresh_load(db):
    writer, reader, tables = db
    rng = np.random.default_rng(4)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    alive = add(writer, tables, clustered(rng, centres, 3000), "seed")
    store.partition(writer, tables, rng, count=32)
    bits = sign_bits_for(reader, tables)
    bits.current(reader)
    for step in range(20):
        if step % 2:
            gone = rng.choice(alive, size=int(rng.integers(1, 400)), replace=False).tolist()
            delete(writer, tables, gone)
            alive = sorted(set(alive) - set(gone))
            query = store.read_floats(writer, tables, alive[:1])[1][0]
            assert not set(gone) & {r for r, _ in vector_knn(reader, tables, query, 10, 200)}
        else:
            alive += add(writer, tables, clustered(rng, centres, int(rng.integers(1, 600))),
                         f"s{step}")
        assert view_rows(bits.current(reader)) == view_rows(SignBits(tables).current(reader))
    assert set(view_rows(bits.current(reader))) == set(alive)
    assert bits.reloads == 1
    for query in clustered(rng, centres, 5):
        got = [rowid for rowid, _ in vector_knn(reader, tables, query, 5, len(alive))]
        assert got == exact_top(reader, tables, query, 5), "every row re-ranked is exact"


def test_training_again_or_a_model_made_anew_reloads_with_the_new_lists(db):
    writer, reader, tables = db
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    add(writer, tables, clustered(rng, centres, 2000), "a")
    bits = sign_bits_for(reader, tables)
    assert bits.current(reader).centroids is None  # one list around the origin
    store.partition(writer, tables, rng, count=16)
    view = bits.current(reader)
    assert bits.reloads == 2 and len(view.centroids) == 16
    assert view_rows(view) == view_rows(SignBits(tables).current(reader))
    assert recall(reader, tables, clustered(rng, centres, 10)) >= 0.95

    store.drop_model(writer, "test:lists")
    tables = store.ensure_model(writer, "test:lists", DIMS)
    add(writer, tables, clustered(rng, centres, 7), "b")
    view = sign_bits_for(reader, tables).current(reader)
    assert view.centroids is None and view.live == 7


def test_lists_are_due_once_the_rows_pass_the_threshold_and_again_when_they_double(db,
                                                                                  monkeypatch):
    writer, reader, tables = db
    monkeypatch.setattr(lists, "PARTITION_MIN_ROWS", 500)
    rng = np.random.default_rng(6)
    add(writer, tables, clustered(rng, np.eye(DIMS, dtype=np.float32), 400), "a")
    assert not store.partition_due(writer, tables)
    add(writer, tables, clustered(rng, np.eye(DIMS, dtype=np.float32), 200), "b")
    assert store.partition_due(writer, tables)
    assert store.partition(writer, tables, rng) == lists.list_count(600) > 1
    assert not store.partition_due(writer, tables)
    add(writer, tables, clustered(rng, np.eye(DIMS, dtype=np.float32), 600), "c")
    assert store.partition_due(writer, tables)


def test_deleted_rows_take_no_candidate_place(db):
    """A query whose nearest rows were all deleted still gets the exact best of the rest:
    the deleted rows' codes, still in memory until compaction, are not candidates."""
    writer, reader, tables = db
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    add(writer, tables, clustered(rng, centres, 4000), "a")
    store.partition(writer, tables, rng, count=32)
    bits = sign_bits_for(reader, tables)
    bits.current(reader)
    query = clustered(rng, centres, 1)[0]
    delete(writer, tables, exact_top(reader, tables, query, 50))
    got = {rowid for rowid, _ in vector_knn(reader, tables, query, 10, 60)}
    assert bits.reloads == 1 and bits.current(reader).dead.size == 50
    assert len(got & set(exact_top(reader, tables, query, 10))) >= 9


def test_vectors_written_while_the_lists_train_are_coded_against_the_new_lists(db,
                                                                                monkeypatch):
    """Training holds no lock, so a watcher may write meanwhile: its vectors, coded by the
    writer against the lists there were, are coded again against the new ones."""
    writer, reader, tables = db
    rng = np.random.default_rng(8)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    add(writer, tables, clustered(rng, centres, 2000), "a")
    store.partition(writer, tables, rng, count=8)
    code_all = store._code_all
    landed: list[int] = []
    watcher_vectors = clustered(rng, centres, 30)

    def code_all_then_a_watcher_writes(conn, tables_, matrix):
        coded = code_all(conn, tables_, matrix)
        watcher = connect(conn.execute("PRAGMA database_list").fetchone()[2], vec=True)
        landed.extend(add(watcher, tables_, watcher_vectors, "watcher"))
        watcher.close()
        return coded

    monkeypatch.setattr(store, "_code_all", code_all_then_a_watcher_writes)
    store.partition(reader, tables, rng, count=16)
    centroids = store.centroids(reader, tables)
    stored = {r[0]: (r[1], r[2]) for r in reader.execute(
        f"SELECT id, list_id, bits FROM {tables.keys} WHERE id IN "
        f"({','.join('?' * len(landed))})", landed)}
    expected = lists.encode(watcher_vectors, centroids)
    assert [stored[r][0] for r in landed] == expected.lists.tolist()
    assert [stored[r][1] for r in landed] == list(lists.pack(expected))
    view = sign_bits_for(reader, tables).current(reader)
    assert view_rows(view) == view_rows(SignBits(tables).current(reader))


def test_a_build_trains_the_lists_once_the_vectors_pass_the_threshold(tmp_path, monkeypatch):
    """The nightly build partitions the vectors when it finds them past the threshold (here
    lowered to 40) and doubled since the last training, and search answers through the
    lists afterwards."""
    from tierd.index.build import build_index
    from tierd.index.embedder import hashing_embedder
    from tierd.index.search import search
    from tierd.index.sources import SourceSpec

    monkeypatch.setattr(lists, "PARTITION_MIN_ROWS", 40)
    root = tmp_path / "notes"
    root.mkdir()
    topics = ["lighthouse keepers", "sourdough starters", "bicycle gears", "tide pools",
              "violin bows", "compost heaps", "glacier caves", "honey bees"]
    for n in range(30):
        (root / f"note{n:02}.md").write_text(f"# Note {n}\n\nAbout {topics[n % 8]} and "
                                             f"{topics[(n * 3) % 8]}, entry {n}.\n")
    conn = connect(tmp_path / "index.db", vec=True)
    embedder = hashing_embedder()
    spec = SourceSpec("notes", str(root))
    first = build_index(conn, [spec], embedder)
    assert first.lists_trained == 0  # 30 chunks: one list
    for n in range(30, 90):
        (root / f"note{n:02}.md").write_text(f"# Note {n}\n\nOn {topics[n % 8]}, item {n}.\n")
    second = build_index(conn, [spec], embedder)
    tables = store.tables_for(conn, embedder.model_id)
    assert second.lists_trained == lists.list_count(90) > 1
    assert len(store.centroids(conn, tables)) == second.lists_trained
    assert build_index(conn, [spec], embedder).lists_trained == 0  # not doubled since
    hit = search(conn, "glacier caves", embedder, k=1)[0]
    assert "glacier caves" in hit.snippet
    conn.close()


def test_lists_emptied_by_deletes_make_the_search_look_further(db):
    """When the lists nearest a query have lost their rows, the lists behind them are
    scored instead: the query still gets ten close live neighbours, not nothing."""
    writer, reader, tables = db
    rng = np.random.default_rng(9)
    centres = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    add(writer, tables, clustered(rng, centres, 3000), "a")
    store.partition(writer, tables, rng, count=32)
    view = sign_bits_for(reader, tables).current(reader)
    query = clustered(rng, centres, 1)[0]
    nearest_lists = np.argsort(((view.centroids - query) ** 2).sum(axis=1))[:6]
    emptied = view.ids[np.isin(view.lists, nearest_lists)].tolist()
    delete(writer, tables, emptied)
    got = vector_knn(reader, tables, query, 10, 60)
    assert len(got) == 10 and not {rowid for rowid, _ in got} & set(emptied)
    live = [r[0] for r in reader.execute(f"SELECT id FROM {tables.keys}")]
    similarities = store.read_floats(reader, tables, live)[1] @ query
    assert min(score for _, score in got) >= np.percentile(similarities, 95)
