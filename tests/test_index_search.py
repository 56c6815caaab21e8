"""Hybrid search behaviour: identifier-aware keywords, how the two lists are weighed, summaries
as evidence for the code they describe, distinct places, and the explain data.

The embedders here are small fakes whose vectors are chosen by the test, so each test says
exactly what the vector side believes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tierd.db import connect
from tierd.index.build import build_index
from tierd.index.chunking import header_names
from tierd.index.embedder import Embedder, hashing_embedder
from tierd.index.keywords import (
    identifier_parts,
    identifier_share,
    keyword_terms,
    name_coverage,
    query_terms,
)
from tierd.index.search import Fusion, hits_as_dicts, search
from tierd.index.sources import SourceSpec

STATS = '''\
def median_grouped(data, interval=1):
    ordered = sorted(data)
    if not ordered:
        raise StatisticsError("no median for empty data")
    middle = ordered[len(ordered) // 2]
    below = sum(1 for x in ordered if x < middle - interval / 2)
    within = sum(1 for x in ordered if abs(x - middle) <= interval / 2)
    return middle - interval / 2 + interval * (len(ordered) / 2 - below) / within


def harmonic_mean(data):
    if any(x <= 0 for x in data):
        raise StatisticsError("harmonic mean needs positive data")
    return len(data) / sum(1 / x for x in data)
'''

DATES = '''\
def fetch_remote_date(url):
    response = download(url, timeout=30, retries=3, headers={"accept": "*/*"})
    if response.status >= 400:
        raise RuntimeError(f"{url} answered {response.status}")
    return response.stamp


def parse_http_date(value):
    if not value:
        return None
    return email.utils.parsedate_to_datetime(value).astimezone(datetime.timezone.utc)
'''


@pytest.fixture
def conn(tmp_path):
    return connect(tmp_path / "index.db", vec=True)


def index_tree(conn, root: Path, files: dict[str, str], embedder: Embedder, **kw):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    stats = build_index(conn, [SourceSpec("src", str(root))], embedder, **kw)
    assert stats.errors == []
    return stats


def test_identifiers_become_words_and_stay_whole():
    assert identifier_parts("median_grouped") == ["median", "grouped"]
    assert identifier_parts("parseHttpDate") == ["parse", "http", "date"]
    assert identifier_parts("HTTPServer") == ["http", "server"]
    assert keyword_terms("os.path.join(a)") == ["os.path.join", "os", "path", "join", "a"]
    assert query_terms("the grouped median of the data") == ["grouped", "median", "data"]
    # English words also look for the short forms code spells them with.
    assert query_terms("string representation") == ["string", "str", "representation", "repr"]
    assert identifier_share("parse_http_date") == 1.0
    assert identifier_share("where do we parse dates") == 0.0


def test_grouped_median_finds_median_grouped_by_keyword(conn, tmp_path):
    index_tree(conn, tmp_path / "src", {"stats.py": STATS, "dates.py": DATES},
               hashing_embedder())
    [hit, *_] = search(conn, "grouped median", None, k=3)
    assert (hit.path, hit.start_line, hit.end_line) == ("stats.py", 1, 8)
    [hit, *_] = search(conn, "parseHttpDate", None, k=3)
    assert (hit.path, hit.start_line) == ("dates.py", 8)


def vectors_by_rule(rules: list[tuple[str, list[float]]], default: list[float]) -> Embedder:
    """An embedder giving the vector of the first rule whose marker the text contains."""

    def embed(texts: list[str]) -> list[list[float]]:
        return [next((v for marker, v in rules if marker in t), default) for t in texts]

    return Embedder("test:rules", len(default), 512, embed)


def test_an_identifier_query_leans_on_keywords_a_sentence_on_meaning(conn, tmp_path):
    # The "model" thinks every query means fetch_remote_date; only keywords know better.
    embedder = vectors_by_rule([("def fetch_remote_date", [1.0, 0.0, 0.0]),
                                ("def parse_http_date", [0.5, 0.87, 0.0])], [1.0, 0.0, 0.0])
    index_tree(conn, tmp_path / "src", {"dates.py": DATES}, embedder)
    assert search(conn, "parse_http_date", embedder, k=1)[0].start_line == 8
    assert search(conn, "when was it fetched", embedder, k=1)[0].start_line == 1


def test_a_summary_hit_ranks_the_code_it_describes(conn, tmp_path):
    summaries = {"stats.py": "Averages for a garden harvest ledger.",
                 "dates.py": "Timestamps sent by web servers."}
    index_tree(conn, tmp_path / "src", {"stats.py": STATS, "dates.py": DATES},
               hashing_embedder(), summarize=lambda path, text: summaries[path])
    hits = search(conn, "garden harvest ledger", hashing_embedder(), k=3, explain=True)
    assert hits[0].path == "stats.py" and hits[0].kind == "chunk"
    assert hits[0].explain["summary_score"] > 0
    assert all(h.kind == "chunk" for h in hits)
    [summary] = search(conn, "garden harvest ledger", hashing_embedder(), k=1, kind="summary")
    assert (summary.path, summary.kind) == ("stats.py", "summary")


def test_a_place_is_listed_once(conn, tmp_path):
    source = ("class Ledger:\n    def total_harvest(self):\n        return sum(self.harvest)\n\n"
              "    def clear_harvest(self):\n        self.harvest = []\n")
    index_tree(conn, tmp_path / "src", {"ledger.py": source}, hashing_embedder())
    hits = search(conn, "total harvest", hashing_embedder(), k=5)
    # The class and each method are chunks, but the class overlaps both methods.
    assert len(hits) == 1


def test_explain_gives_each_lists_rank_and_the_fused_score(conn, tmp_path):
    index_tree(conn, tmp_path / "src", {"stats.py": STATS, "dates.py": DATES},
               hashing_embedder())
    [hit] = search(conn, "median grouped interval within below", hashing_embedder(), k=1,
                   explain=True)
    assert hit.explain["vector_rank"] == 1 and hit.explain["keyword_rank"] == 1
    assert hit.explain["fused_score"] == hit.score
    assert set(hit.explain) == {"vector_rank", "vector_score", "keyword_rank", "keyword_score",
                                "summary_score", "name_score", "fused_score"}
    plain = search(conn, "median grouped interval within below", hashing_embedder(), k=1)
    assert "explain" not in hits_as_dicts(plain)[0]
    assert hits_as_dicts([hit])[0]["explain"]["keyword_rank"] == 1


LEDGER = '''\
class Ledger:
    def total_harvest(self):
        counted = [crate.weight for crate in self.crates if crate.weight > 0]
        spoiled = [crate.weight for crate in self.crates if crate.spoiled]
        return sum(counted) - sum(spoiled)

    def clear_harvest(self):
        for crate in self.crates:
            crate.weight = 0
            crate.spoiled = False
        self.crates = []
'''

TALLY = '''\
def tally_orchard(rows):
    return sum(len(row.trees) for row in rows)
'''


def test_neighbours_in_one_small_chunk_are_listed_as_that_chunk(conn, tmp_path):
    # The "model" finds both methods nearest, the class chunk far away: the two methods are
    # one place to read (the class), which leaves room for the next place, the orchard tally.
    embedder = vectors_by_rule([("fruit yield", [1.0, 0.0, 0.0]),
                                ("class Ledger\ndef total_harvest", [1.0, 0.0, 0.0]),
                                ("class Ledger\ndef clear_harvest", [0.95, 0.31, 0.0]),
                                ("def tally_orchard", [0.9, 0.44, 0.0])], [0.0, 0.0, 1.0])
    index_tree(conn, tmp_path / "src", {"ledger.py": LEDGER, "tally.py": TALLY}, embedder)
    hits = search(conn, "fruit yield", embedder, k=2)
    assert [(h.path, h.start_line, h.end_line) for h in hits] == [
        ("ledger.py", 1, 11), ("tally.py", 1, 2)]
    assert hits[0].score > hits[1].score


EXPIRY = '''\
def expire_keys(store, now):
    stale = [name for name, entry in store.items() if entry.deadline <= now]
    for name in stale:
        del store[name]
    store.log.append(("removed", len(stale), now))
    return stale


def touch(store, expire, keys):
    for key in keys:
        entry = store[key]
        entry.deadline = entry.deadline + expire
        entry.expire = expire
        store.log.append(("expire keys moved", key, expire, len(keys)))
    return keys
'''


def test_a_query_saying_a_definitions_name_finds_it_among_siblings(conn, tmp_path):
    # Both functions mean the same to the "model", and `touch` says the query's words more
    # often (its parameters, its body); only `expire_keys` is named for them.
    embedder = vectors_by_rule([("expire", [1.0, 0.0, 0.0])], [1.0, 0.0, 0.0])
    index_tree(conn, tmp_path / "src", {"expiry.py": EXPIRY}, embedder)
    query = "expire the keys"
    without = search(conn, query, embedder, k=2, fusion=Fusion(name=0.0))
    assert without[0].start_line == 9
    [hit, _] = search(conn, query, embedder, k=2, explain=True)
    assert (hit.start_line, hit.explain["name_score"]) == (1, 1.0)
    [hit, _] = search(conn, query, None, k=2)
    assert hit.start_line == 1


def test_a_chunk_is_named_by_its_own_definitions_or_its_heading():
    assert header_names("a.py\nclass Cache\ndef expire_keys(self, now)") == ["expire_keys"]
    assert header_names("a.py\ndef keys(self); def values(self)") == ["keys", "values"]
    assert header_names("notes/setup.md\nInstall > From source") == ["From source"]
    assert header_names("a.py") == []
    terms = query_terms("iterate over the reversed keys")
    assert name_coverage(terms, ["__reversed__"]) == 1.0  # "reversed" ~ reversed
    assert name_coverage(terms, ["iter_keys", "values"]) == 1.0  # "iterate" ~ iter
    assert name_coverage(terms, ["sorted_items"]) == 0.0
    assert name_coverage(query_terms("the grouped median"), ["median_grouped_by"]) == 2 / 3
