import pytest

from activekd.registry import Registry, UnknownNameError


def test_unknown_name_lists_valid_names():
    r = Registry("widget")
    r.register("b")(1)
    r.register("a")(2)
    with pytest.raises(UnknownNameError, match=r"unknown widget 'c'; valid: a, b"):
        r.get("c")


def test_double_registration_is_an_error():
    r = Registry("widget")
    r.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        r.register("a")(2)
