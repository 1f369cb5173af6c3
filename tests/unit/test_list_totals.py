"""The list totals a process remembers: kept per generation, never trusted without one."""

from integration_hub.integrations.totals import Totals, key_of

KEY = key_of("default", ["mia", "team:readers"], {})


class Generation:
    """The database's change generation as a test moves it."""

    def __init__(self) -> None:
        self.now: int | None = 1

    def __call__(self) -> int | None:
        return self.now


def test_a_total_holds_until_the_generation_moves():
    generation = Generation()
    totals = Totals(generation)

    assert totals.lookup(KEY) == (1, None)
    totals.remember(KEY, 1, 42)
    assert totals.lookup(KEY) == (1, 42)

    generation.now = 2
    assert totals.lookup(KEY) == (2, None)


def test_a_total_counted_before_a_change_is_not_used_after_it():
    generation = Generation()
    totals = Totals(generation)
    read_before_counting, _ = totals.lookup(KEY)
    generation.now = 2  # a change commits while the count runs

    totals.remember(KEY, read_before_counting, 42)

    assert totals.lookup(KEY) == (2, None)


def test_without_a_generation_nothing_is_kept():
    generation = Generation()
    generation.now = None
    totals = Totals(generation)

    totals.remember(KEY, *totals.lookup(KEY)[:1], 42)

    assert totals.lookup(KEY) == (None, None)


def test_the_least_recently_used_entries_go_first():
    totals = Totals(Generation(), size=2)
    first, second, third = (key_of("default", [name], {}) for name in ("a", "b", "c"))
    totals.remember(first, 1, 1)
    totals.remember(second, 1, 2)
    totals.lookup(first)

    totals.remember(third, 1, 3)

    assert [totals.lookup(k)[1] for k in (first, second, third)] == [1, None, 3]


def test_the_key_is_the_tenant_the_principals_and_the_filters():
    assert key_of("default", ["team:b", "mia"], {}) == key_of("default", ["mia", "team:b"], {})
    assert key_of("default", ["mia"], {}) != key_of("other", ["mia"], {})
    assert key_of("default", ["mia"], {}) != key_of("default", None, {})  # a superuser
    assert key_of("default", ["mia"], {"q": "a"}) != key_of("default", ["mia"], {"q": "b"})
    assert key_of("default", ["mia"], {"type": "github"}) != key_of("default", ["mia"], {})


def test_a_list_filtered_by_tag_is_always_counted():
    # Tags are not among the tables whose changes move the generation.
    assert key_of("default", ["mia"], {"tag": "finance"}) is None
