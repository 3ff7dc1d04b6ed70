"""Declarative, validated parameter objects loaded from YAML.

Every unit has one frozen dataclass of parameters (a subclass of :class:`Params`). Each field
declares its type and what is allowed (:func:`param`); :meth:`Params.from_dict` turns a YAML mapping
into the object and rejects, with **one line naming the key, the value and what is allowed**:

* unknown keys (with a "did you mean" suggestion),
* values of the wrong type (``bool`` is never accepted as an integer),
* values outside what the field allows,
* cross-field contradictions (a class's ``check`` method).

Objects are validated once, at construction, and are immutable afterwards.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import re
import types
import typing
from pathlib import Path

import yaml

from hw.util import did_you_mean

__all__ = ["ConfigError", "Params", "param", "Check", "pow2", "int_range", "one_of", "subset_of",
           "positive", "real_range", "identifier", "load_yaml", "configs_dir", "preset_file",
           "preset_files"]


class ConfigError(ValueError):
    """A configuration or parameter error. The message is one line: where, which key, what value,
    what is allowed."""


def _where(source, key):
    prefix = f"{source}: " if source else ""
    return f"{prefix}{key}" if key else (source or "config")


class Check:
    """A predicate plus the phrase that says what it allows ("a power of two in 2..32")."""

    def __init__(self, pred, allowed):
        self.pred = pred
        self.allowed = allowed

    def __call__(self, value):
        return self.pred(value)


def pow2(lo, hi):
    return Check(lambda v: lo <= v <= hi and v & (v - 1) == 0, f"must be a power of two in {lo}..{hi}")


def int_range(lo, hi):
    return Check(lambda v: lo <= v <= hi, f"must be an integer in {lo}..{hi}")


def real_range(lo, hi):
    return Check(lambda v: lo <= v <= hi, f"must be a number in {lo}..{hi}")


def positive():
    return Check(lambda v: v > 0, "must be > 0")


def identifier():
    """Letters, digits and ``_``: a name that becomes part of Verilog module names."""
    return Check(lambda v: re.fullmatch(r"[A-Za-z0-9_]+", v) is not None,
                 "must be letters, digits and _ only (it names the Verilog modules, "
                 "e.g. rdu_system_<name>)")


def one_of(*values):
    return Check(lambda v: v in values, "must be one of " + ", ".join(repr(v) for v in values))


def subset_of(*values):
    return Check(lambda v: all(x in values for x in v) and len(set(v)) == len(v),
                 "must be a list of distinct items from " + ", ".join(repr(v) for v in values))


def param(default=dataclasses.MISSING, *, check=None, doc="", factory=dataclasses.MISSING):
    """A dataclass field with a validity check and a one-line description."""
    meta = {"check": check, "doc": doc}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _plural(tp):
    """"integers", "lists of strings", ...: the element type of a list, in the plural."""
    if typing.get_origin(tp) in (tuple, list):
        return "lists of " + _type_name(tp).removeprefix("a list of ")
    if tp is bool:
        return "true/false values"
    return _type_name(tp).removeprefix("a ").removeprefix("an ") + "s"


def _type_name(tp):
    origin = typing.get_origin(tp)
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(tp) or (typing.Any,)
        return f"a list of {_plural(inner)}"
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or null"
    if isinstance(tp, type) and issubclass(tp, Params):
        return "a mapping"
    return str(tp)


class Params:
    """Base of every parameter dataclass (subclasses are ``@dataclasses.dataclass(frozen=True)``).

    Subclasses may define ``check(self, fail)`` for cross-field rules; call
    ``fail(key, value, allowed)`` to report a violation.
    """

    #: Where presets for this section live (``configs/<PRESET_DIR>/<name>.yaml``); a string value
    #: in YAML names such a preset.
    PRESET_DIR: typing.ClassVar[str | None] = None

    def __post_init__(self):
        self._validate(source=getattr(self, "_source", None), prefix="")

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data, *, source=None, prefix="", **overrides):
        """Build from a mapping (parsed YAML). ``overrides`` supply values the parent decides
        (e.g. the fabric-wide lane count)."""
        if data is None:
            data = {}
        if isinstance(data, str) and cls.PRESET_DIR:
            path = preset_file(data, cls.PRESET_DIR)
            if path is None:
                names = preset_files(cls.PRESET_DIR)
                raise ConfigError(f"{_where(source, prefix)} = {data!r}: no such preset; "
                                  f"allowed: {', '.join(names)}")
            data = load_yaml(path)
            source = str(path)
            prefix = ""
        if not isinstance(data, dict):
            raise ConfigError(f"{_where(source, prefix)} = {data!r}: must be a mapping")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        for key in data:
            if key not in fields:
                raise ConfigError(f"{_where(source, _join(prefix, key))}: unknown key"
                                  f"{did_you_mean(key, fields)}; "
                                  f"allowed keys: {', '.join(fields)}")
        hints = typing.get_type_hints(cls)
        # This section's own scalar keys first, so an error names the key the user wrote rather
        # than a nested section that inherits it.
        for name, value in data.items():
            tp = hints[name]
            if not (isinstance(tp, type) and issubclass(tp, Params)) and name not in overrides:
                value = _convert(tp, value, source, _join(prefix, name), {})
                _check_type(tp, value, source, _join(prefix, name))
                chk = fields[name].metadata.get("check")
                if chk is not None and value is not None and not chk(value):
                    raise ConfigError(f"{_where(source, _join(prefix, name))} = {_show(value)}: "
                                      f"{chk.allowed}")
        child_over = cls.child_overrides(data)
        kwargs = {}
        for name, f in fields.items():
            key = _join(prefix, name)
            if name in overrides and overrides[name] is not None:
                if name in data and data[name] != overrides[name]:
                    raise ConfigError(f"{_where(source, key)} = {data[name]!r}: conflicts with "
                                      f"{overrides[name]!r} set by the enclosing section; "
                                      f"omit it or make them equal")
                kwargs[name] = overrides[name]
                continue
            if name not in data:
                if child_over.get(name):
                    kwargs[name] = _convert(hints[name], {}, source, key, child_over[name])
                continue
            kwargs[name] = _convert(hints[name], data[name], source, key, child_over.get(name, {}))
        try:
            obj = cls.__new__(cls)
            object.__setattr__(obj, "_source", source)
            object.__setattr__(obj, "_prefix", prefix)
            obj.__init__(**kwargs)
        except TypeError as e:  # missing required field
            raise ConfigError(f"{_where(source, prefix)}: {e}") from None
        return obj

    @classmethod
    def child_overrides(cls, data):
        """Values this section imposes on nested sections: ``{field: {key: value}}``."""
        return {}

    @classmethod
    def from_yaml(cls, path, **overrides):
        path = _as_path(path)
        return cls.from_dict(load_yaml(path), source=str(path), **overrides)

    def replace(self, **changes):
        """A validated copy with some fields changed."""
        obj = dataclasses.replace(self, **changes)
        return obj

    def to_dict(self):
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Params):
                v = v.to_dict()
            elif isinstance(v, tuple):
                v = [x.to_dict() if isinstance(x, Params) else (list(x) if isinstance(x, tuple) else x)
                     for x in v]
            out[f.name] = v
        return out

    # ---- validation --------------------------------------------------------------------

    def _validate(self, source, prefix):
        prefix = getattr(self, "_prefix", prefix)
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            key = _join(prefix, f.name)
            _check_type(hints[f.name], value, source, key)
            chk = f.metadata.get("check")
            if chk is not None and value is not None and not chk(value):
                raise ConfigError(f"{_where(source, key)} = {_show(value)}: {chk.allowed}")

        def fail(key, value, allowed):
            raise ConfigError(f"{_where(source, _join(prefix, key))} = {_show(value)}: {allowed}")

        check = getattr(self, "check", None)
        if check is not None:
            check(fail)

    @classmethod
    def describe(cls):
        """(name, type, default, allowed, doc) for every field — used by ``rdu params``."""
        hints = typing.get_type_hints(cls)
        rows = []
        for f in dataclasses.fields(cls):
            chk = f.metadata.get("check")
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            rows.append((f.name, _type_name(hints[f.name]), default, chk.allowed if chk else "",
                         f.metadata.get("doc", "")))
        return rows


    def explain(self, data, *, prefix="", origin="yaml", imposed=()):
        """``(key, value, allowed, set_by)`` of every leaf field, keys as dotted YAML paths
        (``pcu.stages``) — used by ``rdu params --describe``.

        ``data`` is the YAML mapping this object was built from (a preset name for a section
        with :attr:`PRESET_DIR`). ``value`` is shown as in error messages, ``allowed`` is the text
        an error gives for the field (its :class:`Check`, else its type: "must be an integer in
        1..16", "must be true or false"), ``set_by`` is ``origin`` (``"yaml"``; ``"preset NAME"``
        inside a preset section) for a key the mapping has, ``"enclosing section"`` for a value
        the enclosing section imposes (:meth:`child_overrides` of the parent: ``imposed`` names
        those fields), else ``"default"``. Cross-field rules (``check``) are not listed."""
        if isinstance(data, str) and self.PRESET_DIR:
            path = preset_file(data, self.PRESET_DIR)
            origin = f"preset {self.PRESET_DIR}/{data}"
            data = load_yaml(path) if path is not None else {}
        data = data if isinstance(data, dict) else {}
        hints = typing.get_type_hints(type(self))
        over = type(self).child_overrides(data)
        rows = []
        for f in dataclasses.fields(self):
            key = _join(prefix, f.name)
            value = getattr(self, f.name)
            if isinstance(value, Params):
                rows += value.explain(data.get(f.name), prefix=key, origin=origin,
                                      imposed=tuple(over.get(f.name, {})))
                continue
            chk = f.metadata.get("check")
            allowed = chk.allowed if chk else f"must be {_type_name(hints[f.name])}"
            set_by = (origin if f.name in data else
                      "enclosing section" if f.name in imposed else "default")
            rows.append((key, _show(value), allowed, set_by))
        return rows


def _join(prefix, key):
    return f"{prefix}.{key}" if prefix else str(key)


def _show(value):
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v
    return repr(plain(value))


def _convert(tp, value, source, key, sub_over):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        tp = args[0]
        origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, Params):
        return tp.from_dict(value, source=source, prefix=key, **sub_over)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{_where(source, key)} = {_show(value)}: must be {_type_name(tp)}")
        (inner, *_) = typing.get_args(tp)
        return tuple(_convert(inner, v, source, f"{key}[{i}]", sub_over)
                     for i, v in enumerate(value))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _check_type(tp, value, source, key):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return
        tp = [a for a in typing.get_args(tp) if a is not type(None)][0]
        origin = typing.get_origin(tp)
    ok = True
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif tp is bool:
        ok = isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
    elif origin in (tuple, list):
        ok = isinstance(value, tuple)
        if ok:
            (inner, *_) = typing.get_args(tp)
            for i, v in enumerate(value):
                _check_type(inner, v, source, f"{key}[{i}]")
    elif isinstance(tp, type) and issubclass(tp, Params):
        ok = isinstance(value, tp)
    if not ok:
        raise ConfigError(f"{_where(source, key)} = {_show(value)}: must be {_type_name(tp)}")


def configs_dir():
    """The presets: the folder of the ``configs`` package, whose YAML files are package data.

    Found with :func:`importlib.resources.files`, so the same in a source checkout and in an
    installed wheel, whatever the working directory. The result is a
    :class:`importlib.resources.abc.Traversable` (a :class:`pathlib.Path` when the package is
    installed as files, as pip does); :func:`preset_file` and :func:`preset_files` use only that
    interface."""
    return importlib.resources.files("configs")


def preset_files(folder=None):
    """``{name: file}`` of the presets in ``configs/`` or its sub-folder ``folder``."""
    root = configs_dir()
    if folder:
        root = root.joinpath(folder)
    if not root.is_dir():
        return {}
    return {f.name[:-len(".yaml")]: f for f in sorted(root.iterdir(), key=lambda f: f.name)
            if f.name.endswith(".yaml") and f.is_file()}


def preset_file(name, folder=None):
    """The file of preset ``name`` in ``configs/`` or its sub-folder ``folder``; ``None`` if there
    is none."""
    return preset_files(folder).get(name)


def _as_path(path):
    """A string or path-like as a :class:`pathlib.Path`; a preset file (a ``Traversable``) as is."""
    return Path(path) if isinstance(path, (str, os.PathLike)) else path


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key repeated in one mapping (YAML requires unique keys;
    PyYAML would silently keep the last value)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    seen = first.get(key)
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if seen is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {seen.line + 1})",
                        key_node.start_mark)
                first[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_yaml(path):
    """The parsed YAML of the file ``path``. A missing file, a folder, an unreadable file, a file
    that is not UTF-8 text, malformed YAML and an empty file (nothing but comments or whitespace)
    raise :class:`ConfigError` naming the file."""
    path = _as_path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file (give a .yaml file or a "
                          f"preset name)")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        with path.open(encoding="utf-8") as f:
            data = yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    if data is None:
        raise ConfigError(f"{path}: empty configuration")
    return data
