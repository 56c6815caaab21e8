"""The coarse partition of a model's vectors and the one-bit codes of their residuals (IVF).

Scanning the sign bits of every vector costs a pass over 96 MB at 1M x 768, and plain sign
bits rank a cluster's members poorly: every vector near a centre shares the centre's signs,
so a good re-rank needed 3,000 float vectors read from SQLite. As mature vector stores do
(FAISS's IVF, RaBitQ, Elasticsearch's BBQ), vectors are split into lists by k-means centroids
trained on a sample; a query scores only the lists whose centroids are nearest, and each
vector is stored as the sign bits of its residual `o - c` (from its list's centroid `c`) with
three floats: `|o - c|`, `<x, o_r>` and `<x, c>`, where `x = sign(o - c) / sqrt(D)` and
`o_r = (o - c) / |o - c|`. With those the distance to a float query `q` is estimated without
its float vector, RaBitQ's way:

    |o - q|^2 ~ |o - c|^2 + |q - c|^2 - 2 |o - c| <x, q - c> / <x, o_r>

`<x, q - c>` is `<x, q> - <x, c>`, and `<x, q>` is counted with popcounts of each code against
the bit planes of the query quantised to 4 bits, the same planes for every list, so no vector
is unpacked. The estimate ranks a list's members far better than hamming distance (at 1M x 768,
400 float vectors re-ranked give the recall 3,000 gave), so far fewer are read from SQLite.

Below `PARTITION_MIN_ROWS` there is one list around the origin (the residual is the vector,
the bits its plain sign bits), and the few hundred rows of a small index are all re-ranked
exactly anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

PARTITION_MIN_ROWS = 20_000
"""Rows from which a model's vectors are partitioned: below it one scan of every code is
already well under a millisecond."""
SAMPLE_PER_LIST = 40
"""Training rows per list (FAISS warns below 39)."""
TRAINING_ROUNDS = 12
QUERY_BITS = 4
"""Bits per dimension of the quantised query (RaBitQ: 4 lose next to nothing)."""
_BLOCK = 16_384
"""Rows assigned per matrix product: bounded memory at a million rows."""


def list_count(rows: int) -> int:
    """How many lists `rows` vectors get: about the square root, as FAISS advises, so that
    choosing lists and scanning them cost about the same."""
    return 1 if rows < PARTITION_MIN_ROWS else int(round(math.sqrt(rows)))


def train(sample: np.ndarray, lists: int, rng: np.random.Generator) -> np.ndarray:
    """k-means centroids of `sample` (rows of float32) by Lloyd's rounds, seeded by distinct
    sample rows; a list left empty is reseeded from the row farthest from its centroid."""
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(TRAINING_ROUNDS):
        nearest, distance = assign(sample, centroids, with_distance=True)
        order = np.argsort(nearest, kind="stable")
        counts = np.bincount(nearest, minlength=lists)
        filled = counts > 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[filled]
        centroids[filled] = np.add.reduceat(sample[order], starts) / counts[filled, None]
        empty = np.flatnonzero(~filled)
        if empty.size:
            farthest = np.argsort(-distance)[:empty.size]
            centroids[empty] = sample[farthest]
    return centroids


def assign(vectors: np.ndarray, centroids: np.ndarray, *, with_distance: bool = False):
    """Each vector's nearest centroid (L2), block by block; with its squared distance when
    asked (training uses it to reseed empty lists)."""
    half_norms = 0.5 * np.einsum("ij,ij->i", centroids, centroids)
    nearest = np.empty(len(vectors), dtype=np.int64)
    distance = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), _BLOCK):
        block = vectors[start:start + _BLOCK]
        # |v - c|^2 = |v|^2 - 2 (v.c - |c|^2 / 2): the largest v.c - |c|^2/2 is the nearest.
        scores = block @ centroids.T - half_norms
        best = np.argmax(scores, axis=1)
        nearest[start:start + len(block)] = best
        if with_distance:
            distance[start:start + len(block)] = (
                np.einsum("ij,ij->i", block, block) - 2 * scores[np.arange(len(block)), best])
    return (nearest, distance) if with_distance else nearest


@dataclass(frozen=True)
class Codes:
    lists: np.ndarray
    """(rows,) int64: each vector's list."""
    bits: np.ndarray
    """(rows, ceil(D / 8)) uint8: the sign bits of the residual, packed little-endian."""
    norms: np.ndarray
    """(rows,) float32: |o - c|."""
    factors: np.ndarray
    """(rows,) float32: <x, (o - c) / |o - c|>, in (0, 1]: how well the bits point the
    residual's way."""
    offsets: np.ndarray
    """(rows,) float32: <x, c>, so that a query needs only <x, q>: one quantised query for
    every list, instead of one query residual per list."""


def encode(vectors: np.ndarray, centroids: np.ndarray | None) -> Codes:
    """The codes of normalised `vectors` against `centroids` (None: one list at the origin)."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    dims = vectors.shape[1]
    if centroids is None or len(centroids) == 0:
        lists = np.zeros(len(vectors), dtype=np.int64)
        centre = np.zeros_like(vectors)
    else:
        lists = assign(vectors, centroids)
        centre = centroids[lists]
    residual = vectors - centre
    norms = np.linalg.norm(residual, axis=1)
    positive = residual > 0
    signs = np.where(positive, 1.0, -1.0).astype(np.float32) / math.sqrt(dims)
    with np.errstate(invalid="ignore", divide="ignore"):
        factors = np.where(norms > 0, np.einsum("ij,ij->i", signs, residual) / norms, 1.0)
    offsets = np.einsum("ij,ij->i", signs, centre)
    bits = np.packbits(positive, axis=1, bitorder="little")
    return Codes(lists, bits, norms.astype(np.float32), factors.astype(np.float32),
                 offsets.astype(np.float32))


@dataclass(frozen=True)
class Query:
    """A query vector quantised for scoring codes: QUERY_BITS bit planes of its levels."""
    vector: np.ndarray
    planes: np.ndarray
    """(QUERY_BITS, words) uint64."""
    low: float
    step: float
    """value of dimension i ~ low + step * level_i"""

    @classmethod
    def of(cls, vector: np.ndarray, words: int) -> Query:
        vector = np.asarray(vector, dtype=np.float32)
        low = float(vector.min())
        step = float(vector.max() - low) / (2**QUERY_BITS - 1) or 1.0
        levels = np.rint((vector - low) / step).astype(np.uint8)
        planes = np.zeros((QUERY_BITS, words * 8), dtype=np.uint8)
        for b in range(QUERY_BITS):
            packed = np.packbits((levels >> b) & 1, bitorder="little")
            planes[b, :packed.size] = packed
        return cls(vector, planes.view(np.uint64), low, step)


_PLANE_WEIGHTS = (2.0 ** np.arange(QUERY_BITS)).astype(np.float32)


def estimate_distances(query: Query, columns: np.ndarray, norms: np.ndarray,
                       factors: np.ndarray, offsets: np.ndarray,
                       centre_distances: np.ndarray) -> np.ndarray:
    """Estimated squared distances from `query` to the vectors coded in `columns` ((words,
    rows) uint64, word w of every row contiguous), whose residuals have `norms`, `factors`
    and `offsets`, and whose centroids lie `centre_distances` (squared, per row) from it."""
    rows = columns.shape[1]
    scratch = np.empty(rows, dtype=np.uint64)
    counted = np.empty(rows, dtype=np.uint8)
    ones = np.zeros(rows, dtype=np.uint16)
    per_plane = np.zeros((QUERY_BITS, rows), dtype=np.uint16)  # set bits shared with plane b
    for w, column in enumerate(columns):
        np.bitwise_count(column, out=counted)
        ones += counted
        for b in range(QUERY_BITS):
            np.bitwise_and(column, query.planes[b, w], out=scratch)
            np.bitwise_count(scratch, out=counted)
            per_plane[b] += counted
    levels = _PLANE_WEIGHTS @ per_plane  # sum of the query's levels over each code's set bits
    dims = query.vector.size
    set_sum = query.step * levels + query.low * ones  # sum of q_i over the set bits
    inner = (2 * set_sum - float(query.vector.sum())) / math.sqrt(dims) - offsets  # <x, q - c>
    return norms * norms + centre_distances - 2 * norms * inner / factors


CODE_FLOATS = 3
"""A stored code: the residual's sign bits, then its norm, factor and offset as float32."""


def code_bytes(dims: int) -> int:
    return -(-dims // 8) + 4 * CODE_FLOATS


def pack(codes: Codes) -> Iterator[bytes]:
    """Each vector's code as the blob stored with it, one at a time (a million at once would
    be 140 MB of bytes objects)."""
    floats = np.stack([codes.norms, codes.factors, codes.offsets], axis=1).astype(np.float32)
    return (bits.tobytes() + extra.tobytes() for bits, extra in zip(codes.bits, floats))


def unpack(blobs: bytes, rows: int, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated stored codes as (packed bits (rows, ceil(D / 8)) uint8, (rows, 3) float32
    norms, factors and offsets)."""
    raw = np.frombuffer(blobs, dtype=np.uint8).reshape(rows, code_bytes(dims))
    split = -(-dims // 8)
    return raw[:, :split], np.ascontiguousarray(raw[:, split:]).view(np.float32)
