"""The import contract: imports only go down the layers written in the README.

Read from the source with `ast` (imports inside functions and under TYPE_CHECKING count
too), so a new upward import, a cycle, a provider SDK outside channels/ or a private name
taken from another module fails the test command, naming the file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "channels", "scheduler", "translations")

#: bottom first; a module may import its own layer or any lower one, never a higher one
LAYERS: tuple[tuple[str, ...], ...] = (
    ("channels", "translations"),
    ("bot.store", "bot.config", "bot.clock", "bot.errors", "bot"),
    ("scheduler", "bot.language"),
    ("bot.outbound",),
    ("bot.inbound",),
    ("bot.journeys",),
    ("bot.follow_up", "bot.records", "bot.roster"),
    ("bot.runtime",),
    ("bot.cli", "bot.web", "bot.__main__"),
)
#: the only package allowed to import these
PROVIDER_SDKS = ("twilio", "telegram", "aiosmtplib", "aioimaplib")
OURS = PACKAGES


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written in one of our modules."""

    source: str  # dotted module that imports
    target: str  # dotted module imported
    names: tuple[str, ...]
    path: Path
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def imports_of(path: Path) -> Iterator[Import]:
    source = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, (), path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(a.name for a in node.names)
            yield Import(source, target, names, path, node.lineno)
            # "from bot import inbox" imports the module bot.inbox
            for name in names:
                if _is_module(f"{target}.{name}"):
                    yield Import(source, f"{target}.{name}", (), path, node.lineno)


def _is_module(dotted: str) -> bool:
    base = ROOT / Path(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching prefix, layer)
    for index, names in enumerate(LAYERS):
        for prefix in names:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


ALL = [imp for path in our_modules() for imp in imports_of(path)]


def _ours(module: str) -> bool:
    return module.split(".")[0] in OURS


def test_every_module_of_ours_has_a_layer() -> None:
    homeless = sorted({module_name(p) for p in our_modules() if layer_of(module_name(p)) is None})
    assert homeless == []


def test_imports_only_go_down() -> None:
    upward = []
    for imp in ALL:
        if not _ours(imp.target) or "migrations" in imp.source:
            continue
        mine, theirs = layer_of(imp.source), layer_of(imp.target)
        assert mine is not None and theirs is not None
        if theirs > mine:
            upward.append(f"{imp.path.relative_to(ROOT)}:{imp.line} {imp.source} -> {imp.target}"
                          f" (layer {mine} imports layer {theirs})")
    assert upward == []


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for imp in ALL:
        if _ours(imp.target) and _is_module(imp.target) and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    cycles = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif state.get(nxt) is None:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_channels_and_translations_import_nothing_of_ours_above_them() -> None:
    wrong = [f"{i.path.relative_to(ROOT)}:{i.line} {i.target}" for i in ALL
             if i.source.split(".")[0] in ("channels", "translations") and _ours(i.target)
             and i.target.split(".")[0] not in ("channels", "translations")]
    assert wrong == []


def test_provider_sdks_only_in_channels() -> None:
    wrong = [f"{i.path.relative_to(ROOT)}:{i.line} {i.target}" for i in ALL
             if i.target.split(".")[0] in PROVIDER_SDKS and not i.source.startswith("channels")]
    assert wrong == []


def test_migrations_import_nothing_of_the_application() -> None:
    """A migration is frozen history: it must not change when the application does. (Only
    env.py reads the models' metadata, for `alembic revision --autogenerate`.)"""
    wrong = [f"{i.path.relative_to(ROOT)}:{i.line} {i.target}" for i in ALL
             if ".migrations.versions" in i.source and _ours(i.target)]
    assert wrong == []


def test_no_private_name_crosses_a_module_boundary() -> None:
    wrong = [f"{i.path.relative_to(ROOT)}:{i.line} {i.target}.{name}" for i in ALL
             if _ours(i.target) for name in i.names
             if name.startswith("_") and not name.startswith("__")]
    assert wrong == []


@pytest.mark.parametrize(("source", "target", "upward"), [
    ("bot.outbound.worker", "bot.inbound.routing", True),
    ("bot.inbound.inbox", "bot.outbound.dispatch", False),
    ("scheduler.service", "bot.runtime.jobs", True),
    ("bot.cli.app", "bot.runtime.context", False),
])
def test_the_layer_order_reads_as_written(source: str, target: str, upward: bool) -> None:
    """The contract itself: known shapes are judged as the README says."""
    mine, theirs = layer_of(source), layer_of(target)
    assert mine is not None and theirs is not None
    assert (theirs > mine) == upward
