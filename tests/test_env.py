"""Settings read from the environment fail loudly on a bad value."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from api import env


def test_unset_and_empty_values_take_the_default(monkeypatch):
    monkeypatch.delenv("FLEXI_X", raising=False)
    assert env.integer("FLEXI_X", 7) == 7
    monkeypatch.setenv("FLEXI_X", "")
    assert env.boolean("FLEXI_X", True) is True


@pytest.mark.parametrize(
    ("text", "value"), [("on", True), ("OFF", False), ("1", True), ("no", False)]
)
def test_booleans(monkeypatch, text, value):
    monkeypatch.setenv("FLEXI_X", text)
    assert env.boolean("FLEXI_X", not value) is value


def test_lists_of_whole_numbers_are_sorted_without_repeats(monkeypatch):
    monkeypatch.setenv("FLEXI_X", "120, 1440,120")
    assert env.integers("FLEXI_X", [], minimum=1) == [120, 1440]


@pytest.mark.parametrize(
    ("reader", "text"),
    [
        (lambda: env.boolean("FLEXI_X", True), "maybe"),
        (lambda: env.integer("FLEXI_X", 1), "ten"),
        (lambda: env.integer("FLEXI_X", 1, minimum=1), "0"),
        (lambda: env.integers("FLEXI_X", [1], minimum=1), "30,x"),
        (lambda: env.integers("FLEXI_X", [1], minimum=1), "30,0"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, reader, text):
    monkeypatch.setenv("FLEXI_X", text)
    with pytest.raises(ImproperlyConfigured, match="FLEXI_X"):
        reader()
