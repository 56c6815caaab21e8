"""The sign bits the vector search scans follow writes through the change log, without reloads.

Real SQLite with sqlite-vec loaded, vectors written by a second connection (as the nightly
rebuild or a watcher writes while the daemon searches); the reference is always a fresh load
of the same table, and the exact answer a numpy matmul over every stored vector.
"""

from __future__ import annotations

import numpy as np
import pytest

from tierd.db import connect, transaction
from tierd.index import store
from tierd.index.bits import SignBits, sign_bits_for
from tierd.index.search import vector_knn

DIMS = 96


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "index.db"
    writer = connect(path, vec=True)
    store.ensure_schema(writer)
    tables = store.ensure_model(writer, "test:bits", DIMS)
    reader = connect(path, vec=True)
    yield path, writer, reader, tables
    writer.close()
    reader.close()


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add(conn, tables, vectors: np.ndarray, prefix: str) -> list[int]:
    with transaction(conn):
        return store.insert_vectors(conn, tables, [f"{prefix}-{i}" for i in range(len(vectors))],
                                    vectors)


def delete(conn, tables, rowids: list[int]) -> None:
    with transaction(conn):
        conn.executemany(f"DELETE FROM {tables.keys} WHERE id = ?", [(r,) for r in rowids])
        conn.executemany(f"DELETE FROM {tables.floats} WHERE id = ?", [(r,) for r in rowids])


def live_rows(view) -> dict[int, tuple[int, bytes]]:
    """rowid -> its list and code as bytes, for the rows a view would scan."""
    alive = np.ones(view.ids.size, dtype=bool)
    alive[view.dead] = False
    return {int(i): (int(view.lists[p]), view.columns[:, p].tobytes() + view.floats[:, p].tobytes())
            for p, i in enumerate(view.ids) if alive[p]}


def fresh(reader, tables):
    return SignBits(tables).current(reader)


def test_inserts_and_deletes_from_another_connection_are_applied_without_a_reload(db):
    path, writer, reader, tables = db
    rng = np.random.default_rng(1)
    first = add(writer, tables, unit(rng, 500), "a")
    bits = sign_bits_for(reader, tables)
    assert set(live_rows(bits.current(reader))) == set(first)
    assert bits.reloads == 1

    added = add(writer, tables, unit(rng, 40), "b")
    delete(writer, tables, first[10:30] + added[:5])
    view = bits.current(reader)
    assert bits.reloads == 1, "a write must not reload the bits"
    assert live_rows(view) == live_rows(fresh(reader, tables))
    assert set(live_rows(view)) == (set(first) - set(first[10:30])) | set(added[5:])


def test_the_first_search_after_a_write_finds_the_new_vector_and_not_the_deleted(db):
    path, writer, reader, tables = db
    rng = np.random.default_rng(2)
    rowids = add(writer, tables, unit(rng, 2000), "a")
    probe = unit(rng, 1)[0]
    vector_knn(reader, tables, probe, 5, 400)  # loads the bits
    [new] = add(writer, tables, probe[None, :], "probe")
    best, _ = vector_knn(reader, tables, probe, 5, 400)[0]
    assert best == new
    delete(writer, tables, [new])
    assert new not in {rowid for rowid, _ in vector_knn(reader, tables, probe, 5, 400)}
    assert sign_bits_for(reader, tables).reloads == 1
    assert len(rowids) == 2000


def test_a_random_history_of_writes_matches_a_fresh_load_and_exact_search(db):
    path, writer, reader, tables = db
    rng = np.random.default_rng(3)
    alive = add(writer, tables, unit(rng, 3000), "seed")
    bits = sign_bits_for(reader, tables)
    bits.current(reader)
    for step in range(25):
        if rng.random() < 0.5 and len(alive) > 100:
            gone = rng.choice(alive, size=int(rng.integers(1, 300)), replace=False).tolist()
            delete(writer, tables, gone)
            alive = sorted(set(alive) - set(gone))
        else:
            alive += add(writer, tables, unit(rng, int(rng.integers(1, 200))), f"s{step}")
        assert live_rows(bits.current(reader)) == live_rows(fresh(reader, tables))
    assert set(live_rows(bits.current(reader))) == set(alive)
    # and the search over the maintained bits is the exact answer for these small tables
    ids = np.array(alive)
    _, matrix = store_vectors(reader, tables, alive)
    for query in unit(rng, 5):
        exact = ids[np.argsort(-(matrix @ query))[:5]].tolist()
        got = [rowid for rowid, _ in vector_knn(reader, tables, query, 5, len(alive))]
        assert got == exact


def store_vectors(conn, tables, rowids):
    return store.read_floats(conn, tables, rowids)


def test_a_reused_rowid_after_deleting_the_newest_rows_is_kept_right(db):
    """SQLite hands a new row the id after the newest live one, so deleting the newest rows
    and inserting again reuses their ids: the bits must carry the new row, not the old."""
    path, writer, reader, tables = db
    rng = np.random.default_rng(4)
    rowids = add(writer, tables, unit(rng, 100), "a")
    bits = sign_bits_for(reader, tables)
    bits.current(reader)
    delete(writer, tables, rowids[-3:])
    reused = add(writer, tables, unit(rng, 2), "b")
    assert reused == rowids[-3:-1]
    view = bits.current(reader)
    assert live_rows(view) == live_rows(fresh(reader, tables))
    assert bits.reloads == 1


def test_a_pruned_log_or_a_model_made_anew_reloads(db):
    path, writer, reader, tables = db
    rng = np.random.default_rng(5)
    add(writer, tables, unit(rng, 50), "a")
    bits = sign_bits_for(reader, tables)
    bits.current(reader)
    add(writer, tables, unit(rng, 10), "b")
    with transaction(writer):  # as a build's pruning does once the log is long
        writer.execute(f"DELETE FROM {tables.log}")
    add(writer, tables, unit(rng, 10), "c")
    assert live_rows(bits.current(reader)) == live_rows(fresh(reader, tables))
    assert bits.reloads == 2

    store.drop_model(writer, "test:bits")
    tables = store.ensure_model(writer, "test:bits", DIMS)
    add(writer, tables, unit(rng, 7), "d")
    assert len(live_rows(sign_bits_for(reader, tables).current(reader))) == 7
