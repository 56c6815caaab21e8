"""How files are cut into chunks: every Python definition at every depth, a header saying where
each chunk sits, and line ranges that are the chunk's own text."""

from __future__ import annotations

from tierd.index.chunking import chunk_file, embedded_text, max_chunk_chars

MAX = max_chunk_chars(512)

SOURCE = '''\
import os
import sys


class Shelf(Base):
    capacity = 10

    def __len__(self):
        return len(self.books)

    def __iter__(self):
        return iter(self.books)

    def rearrange(self, key=None) -> list:
        def by_title(book):
            return book.title.lower().strip()

        ordered = sorted(self.books, key=key or by_title)
        self.books = ordered
        return ordered


def median_grouped(data, interval=1):
    n = len(data)
    if n == 0:
        raise ValueError("no median for empty data")
    return data[n // 2] * interval
'''


def spans(chunks):
    return [(c.start_line, c.end_line) for c in chunks]


def test_every_definition_at_every_depth_is_a_chunk_with_its_own_lines():
    chunks = chunk_file("lib/shelf.py", SOURCE, MAX)
    by_first_line = {c.text.splitlines()[0].strip(): c for c in chunks}
    assert spans(chunks) == [(1, 2), (5, 20), (8, 12), (14, 20), (15, 16), (23, 27)]
    # The class is its whole body; its methods and the function nested in one are their own.
    assert by_first_line["class Shelf(Base):"].end_line == 20
    assert by_first_line["def rearrange(self, key=None) -> list:"].start_line == 14
    assert by_first_line["def by_title(book):"].text.count("\n") == 1
    assert by_first_line["def median_grouped(data, interval=1):"].end_line == 27


def test_headers_name_the_file_the_enclosing_definitions_and_the_signature():
    chunks = {c.start_line: c for c in chunk_file("lib/shelf.py", SOURCE, MAX)}
    assert chunks[15].header.splitlines() == [
        "lib/shelf.py", "class Shelf(Base)", "def rearrange(self, key=None) -> list",
        "def by_title(book)"]
    assert chunks[23].header == "lib/shelf.py\ndef median_grouped(data, interval=1)"
    assert chunks[1].header == "lib/shelf.py"
    # The header is embedded (and hashed) with the text, but it is not part of the lines.
    assert embedded_text(chunks[23]).startswith(chunks[23].header + "\ndef median_grouped(")
    assert chunks[23].text.startswith("def median_grouped(")


def test_tiny_neighbours_in_one_scope_merge_and_keep_both_signatures():
    chunks = {c.start_line: c for c in chunk_file("lib/shelf.py", SOURCE, MAX)}
    assert (chunks[8].start_line, chunks[8].end_line) == (8, 12)
    assert chunks[8].header.splitlines()[-1] == "def __len__(self); def __iter__(self)"


def test_a_long_definition_is_split_with_overlap_and_each_part_keeps_its_header():
    body = "\n".join(f"        total += weigh(item_{i}, scale={i})" for i in range(80))
    source = f"class Scale:\n    def weigh_all(self, items):\n        total = 0\n{body}\n"
    chunks = [c for c in chunk_file("scale.py", source, 600)
              if c.header.endswith("def weigh_all(self, items)")]
    assert len(chunks) > 2
    assert all(len(embedded_text(c)) <= 600 for c in chunks)
    assert all(a.end_line >= b.start_line for a, b in zip(chunks, chunks[1:]))  # overlap
    assert chunks[0].start_line == 2 and chunks[-1].end_line == 83


def test_comments_above_a_definition_belong_to_it():
    settings = "\n".join(f"SETTING_{i} = 'a value long enough to matter {i}'" for i in range(9))
    source = settings + "\n\n\n# Why: the upstream API pages from 1.\n@cached\ndef page(n):\n" \
        "    return fetch(n + 1)\n"
    chunks = chunk_file("api.py", source, MAX)
    assert spans(chunks) == [(1, 9), (12, 15)]
    assert chunks[1].text.startswith("# Why:") and chunks[1].header == "api.py\ndef page(n)"


def test_python_that_does_not_parse_is_cut_at_top_level_definitions():
    source = "def ok():\n    return 1\n\n" + "x = 1\n" * 80 + "def broken(:\n    pass\n"
    chunks = chunk_file("bad.py", source, MAX)
    assert chunks[0].start_line == 1 and chunks[-1].text.startswith("def broken(:")
    assert all(c.header == "bad.py" for c in chunks)


def test_markdown_sections_carry_their_heading_path():
    text = ("# Garden\nIntro to the garden, long enough to stand on its own as a chunk here.\n"
            "Words words words words words words words words words words words words.\n"
            "## Tomatoes\n```\n# not a heading\n```\n" + "Water them daily. " * 20 + "\n"
            "### Pests\n" + "Aphids and whitefly. " * 20 + "\n# Workshop\n" + "Saws. " * 60)
    chunks = chunk_file("notes/home.md", text, MAX)
    # A section with subsections is a chunk as a whole too, as a class is beside its methods.
    assert [(c.start_line, c.end_line, c.header.splitlines()[-1]) for c in chunks] == [
        (1, 10, "Garden"), (1, 3, "Garden"), (4, 10, "Garden > Tomatoes"),
        (4, 8, "Garden > Tomatoes"), (9, 10, "Garden > Tomatoes > Pests"), (11, 12, "Workshop")]
