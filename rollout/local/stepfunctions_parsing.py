"""The embedded moto server parses each state machine definition and JSONPath once.

moto's Step Functions interpreter parses a definition with ANTLR when the state machine
is created (to validate it) and again when each execution starts, about a quarter of a
second each time for a rollout's definition; and it reads every ``InputPath``,
``ResultPath`` or ``.$`` parameter by building a new JSONPath parser (PLY grammar tables
included) for each one it evaluates, thousands in a rollout. The answers never change
for the same text, so :func:`install` keeps them: a definition's parse tree (each
execution still gets evaluation components of its own, made from it), and each parsed
JSONPath expression, which evaluation only reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

INSTALLED = "_rollout_parses_once"
KEPT_DEFINITIONS = 64
"""Parse trees kept (the most recently used): a rehearsal deploys a few dozen machines."""
KEPT_PATHS = 4096


def _parse_each_path_once(module: ModuleType) -> None:
    """``module.parse`` (a JSONPath parser) remembering what it parsed."""
    parse: Callable[[str], Any] = module.parse

    @functools.lru_cache(maxsize=KEPT_PATHS)
    def parsed(path: str) -> Any:
        return parse(path)

    vars(module)["parse"] = parsed


def install() -> None:
    """Keep moto's definition parse trees and parsed JSONPaths; idempotent."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.asl.utils import json_path

    if getattr(AmazonStateLanguageParser, INSTALLED, False):
        return
    parse = AmazonStateLanguageParser.parse

    @functools.lru_cache(maxsize=KEPT_DEFINITIONS)
    def tree_of(definition: str) -> Any:
        return parse(definition)[1]  # a definition that does not parse raises, kept never

    def parse_once(definition: str) -> tuple[Any, Any]:
        tree = tree_of(definition)
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse_once)  # type: ignore[method-assign]
    _parse_each_path_once(json_path)
    _parse_each_path_once(result_path)
    setattr(AmazonStateLanguageParser, INSTALLED, True)
