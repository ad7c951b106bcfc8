"""YAML read as Quarto reads it (js-yaml, YAML 1.2 core schema), not as YAML 1.1.

PyYAML's safe loader follows YAML 1.1: `yes`/`no`/`on`/`off` become booleans, `017` is octal,
`1:20` is 80 and `1.0e7` stays a string. Quarto sees the strings "yes", "1:20", the number 17
and the number 10000000, so a value would print differently in the two renderers.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class Yaml12Loader(yaml.SafeLoader):
    """`yaml.SafeLoader` with the YAML 1.2 core schema's booleans, integers and floats."""

    def construct_yaml_int(self, node: yaml.Node) -> int:  # type: ignore[override]
        value = str(self.construct_scalar(node))  # type: ignore[arg-type]
        sign = -1 if value.startswith("-") else 1
        digits = value.lstrip("+-")
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Yaml12Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))
Yaml12Loader.add_constructor(_INT, Yaml12Loader.construct_yaml_int)


def load(text: str) -> Any:
    """Parse one YAML document with the YAML 1.2 core schema."""
    return yaml.load(text, Loader=Yaml12Loader)
