"""The package's import graph: data flows one way (docs/architecture.md), with no cycles.

Every `codesign` import counts, at module top or inside a function: a function-local import
that points upward is the same dependency, only hidden.
"""

import ast
from pathlib import Path

import codesign

ROOT = Path(codesign.__file__).parent
# Lower layers never import higher ones; a module may import its own layer and any below it.
LAYERS = [
    # foundations: errors, validated config, the output policy, locks, provenance
    {"errors", "config", "escape", "runtime", "locks", "provenance", "arguments", "outdir", "__init__"},
    {"data"},  # events, histograms, jets: generators, readers, the event store
    {"core", "metrics", "residuals", "merit"},  # models, training, scores, figures of merit (pure functions)
    {"plotting", "pages", "drawing", "compression_figures"},  # the one plotting and page layer (style, labels)
    {"firmware"},  # hls4ml conversion, fixed point, the bit-exact emulator, C-simulation
    {"hardware", "evaluation"},  # resource and latency estimates; firmware scored and checked
    {"tasks", "emulation"},  # the task contract and its implementations
    {"search", "dqm"},  # the design-space search; the DQM applications
    {"report", "export"},  # what a search is turned into
    {"cli", "__main__"},  # the command line
]


def _layer(module: str) -> int:
    parts = module.split(".")[1:] or ["__init__"]
    return next(i for i, names in enumerate(LAYERS) if parts[0] in names)


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(("codesign", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("codesign"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("codesign")}
        graph[name] = {t for t in targets if t != name and t in modules}
    return graph


def test_every_module_has_a_layer():
    assert all(_layer(m) >= 0 for m in _graph())


def test_no_module_imports_a_higher_layer():
    upward = sorted(f"{a} -> {b}" for a, targets in _graph().items() for b in targets if _layer(b) > _layer(a))
    assert upward == []


def test_no_import_cycles():
    graph, state, cycles = _graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
