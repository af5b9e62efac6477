"""`make test`'s order: the longest files (tests/conftest.py's SLOWEST_FILES) are collected first,
so that pytest-xdist (one file at a time, --no-loadscope-reorder) starts them first."""
from pathlib import Path
from types import SimpleNamespace

from conftest import SLOWEST_FILES, pytest_collection_modifyitems

TESTS = Path(__file__).parent


def test_every_listed_slow_file_exists_once():
    assert len(set(SLOWEST_FILES)) == len(SLOWEST_FILES)
    assert [name for name in SLOWEST_FILES if not (TESTS / name).is_file()] == []


def test_listed_files_come_first_in_the_lists_order_each_files_tests_in_their_own():
    def item(name, test):
        return SimpleNamespace(path=TESTS / name, name=test)

    first, second = SLOWEST_FILES[0], SLOWEST_FILES[1]
    items = [item("test_a.py", "a1"), item(second, "s1"), item("test_b.py", "b1"),
             item(first, "f1"), item("test_a.py", "a2"), item(second, "s2"), item(first, "f2")]
    pytest_collection_modifyitems(items)
    assert [(i.path.name, i.name) for i in items] == [
        (first, "f1"), (first, "f2"), (second, "s1"), (second, "s2"),
        ("test_a.py", "a1"), ("test_b.py", "b1"), ("test_a.py", "a2")]
