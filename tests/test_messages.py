"""The one message schema: every registered type round-trips through msgpack, is frozen,
slotted and keyword-only. Samples are built from each type's annotations, so a newly
added message is covered without editing this file.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any

import msgpack
import pytest

from actors import messages as m

SAMPLE_MAP = {"k": 1}


def sample_value(tp: Any) -> Any:
    """A non-default, non-None, msgpack-native value for annotation `tp`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        assert options, f"annotation {tp!r} allows only None"
        return sample_value(options[0])
    if tp is bool:  # before int: bool is an int subclass
        return True
    if tp is str:
        return "x"
    if tp is int:
        return 7
    if tp is float:
        return 1.5
    if tp is dict or origin is dict:
        return dict(SAMPLE_MAP)
    if origin is tuple:
        assert args, f"bare tuple annotation {tp!r}: say what it holds"
        return (sample_value(args[0]),)
    raise AssertionError(f"no sample for annotation {tp!r}: is it msgpack-native? extend sample_value")


def sample_kwargs(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: sample_value(hints[f.name]) for f in dataclasses.fields(cls)}


def sample(cls: type) -> Any:
    return cls(**sample_kwargs(cls))


ALL = sorted(m.MESSAGE_TYPES.items())
IDS = [name for name, _ in ALL]
WITH_FIELDS = [(n, c) for n, c in ALL if dataclasses.fields(c)]


def test_registry_is_not_empty_and_keyed_by_class_name():
    assert len(m.MESSAGE_TYPES) > 40
    for name, cls in m.MESSAGE_TYPES.items():
        assert cls.__name__ == name


def test_every_message_class_in_the_module_is_registered():
    # A class defined with @dataclass instead of @message would be silently un-decodable.
    defined = {name: obj for name, obj in vars(m).items()
               if inspect.isclass(obj) and obj.__module__ == m.__name__ and dataclasses.is_dataclass(obj)}
    for name, cls in defined.items():
        assert m.MESSAGE_TYPES.get(name) is cls, f"{name} is a dataclass in messages.py but not registered"


def test_event_types_are_registered():
    for cls in m.EVENT_TYPES:
        assert m.MESSAGE_TYPES[cls.__name__] is cls


@pytest.mark.parametrize(("name", "cls"), ALL, ids=IDS)
def test_round_trip(name, cls):
    msg = sample(cls)
    frame = m.encode(msg)
    assert isinstance(frame, bytes)
    back = m.decode(frame)
    assert type(back) is cls
    assert back == msg
    # Field by field too, with types: a tuple must not come back as a list, a float as an int.
    for f in dataclasses.fields(cls):
        original, decoded = getattr(msg, f.name), getattr(back, f.name)
        assert decoded == original, f.name
        assert type(decoded) is type(original), f"{name}.{f.name}: {type(original)} -> {type(decoded)}"


def _as_lists(value):
    """msgpack (with the default use_list) reads every array back as a list, nested ones too."""
    if isinstance(value, (tuple, list)):
        return [_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("name", "cls"), ALL, ids=IDS)
def test_wire_form_is_a_flat_map_with_the_type_tag(name, cls):
    msg = sample(cls)
    body = msgpack.unpackb(m.encode(msg), raw=False)
    assert body.pop("_t") == name
    assert body == {k: _as_lists(v) for k, v in m.to_map(msg).items()}
    assert set(body) == {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize(("name", "cls"), ALL, ids=IDS)
def test_round_trip_with_defaults(name, cls):
    # Only the required fields given: defaults (None, "", 0, ()) must survive the wire too.
    required = {f.name: v for f, v in zip(dataclasses.fields(cls), sample_kwargs(cls).values())
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    msg = cls(**required)
    assert m.decode(m.encode(msg)) == msg


@pytest.mark.parametrize(("name", "cls"), WITH_FIELDS, ids=[n for n, _ in WITH_FIELDS])
def test_frozen(name, cls):
    msg = sample(cls)
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(msg, first, getattr(msg, first))
    assert getattr(msg, first) == sample_kwargs(cls)[first]


@pytest.mark.parametrize(("name", "cls"), ALL, ids=IDS)
def test_slotted_no_new_attributes(name, cls):
    msg = sample(cls)
    assert not hasattr(msg, "__dict__")
    with pytest.raises((AttributeError, TypeError)):
        msg.not_a_field = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "cls"), ALL, ids=IDS)
def test_keyword_only(name, cls):
    kwargs = sample_kwargs(cls)
    positional = list(kwargs.values()) or ["extra"]
    with pytest.raises(TypeError):
        cls(*positional)
    for f in dataclasses.fields(cls):
        assert f.kw_only, f"{name}.{f.name} is not keyword-only"


@pytest.mark.parametrize(("name", "cls"), ALL, ids=IDS)
def test_hashable_and_equal_by_value(name, cls):
    a, b = sample(cls), sample(cls)
    assert a == b
    if not any(_holds_a_map(v) for v in sample_kwargs(cls).values()):
        assert hash(a) == hash(b)


def _holds_a_map(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, tuple) and any(_holds_a_map(v) for v in value))


def test_distinct_values_compare_unequal():
    a = m.OrderFilled(account=1, client_order_id="t-1", strategy_id="s", ticket=9, symbol="EURUSD",
                      side="buy", volume=0.1, price=1.1, closing=False)
    b = dataclasses.replace(a, ticket=10)
    assert a != b
    assert m.decode(m.encode(b)) != a


def test_decode_of_an_unknown_type_fails():
    frame = msgpack.packb({"_t": "NoSuchMessage", "x": 1})
    with pytest.raises(KeyError):
        m.decode(frame)


def test_decode_with_an_unknown_field_fails():
    frame = msgpack.packb({"_t": "EmergencyStop", "reason": "r", "bogus": 1})
    with pytest.raises(TypeError):
        m.decode(frame)


def test_sampler_covers_every_annotation_kind():
    # Guards the generator itself: optionals get a real value, tuples one item, maps one key.
    assert sample_value(int | None) == 7
    assert sample_value(typing.Optional[str]) == "x"
    assert sample_value(tuple[float, ...]) == (1.5,)
    assert sample_value(tuple[m.Map, ...]) == ({"k": 1},)
    assert sample_value(m.Map | None) == {"k": 1}
    assert sample_value(bool) is True
    with pytest.raises(AssertionError):
        sample_value(list[int])
