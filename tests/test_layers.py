"""The package's import rules, checked on the source with ``ast`` (nothing is imported).

Every ``import`` of every module under ``lab_utils/`` is read, at module level and inside functions,
and resolved to the package module it names. The rules:

- no import cycle (function-local imports count: they only hide a cycle);
- imports only go down the layers of :data:`LAYERS` (within one layer any direction is fine; a
  package may import its own children);
- nothing outside ``lab_utils/labs/`` imports ``lab_utils.labs`` (the notebooks and the tests do),
  including the benchmarks in ``bench/``;
- at most :data:`MAX_LOCAL_IMPORTS` function-local imports, each of a heavy optional dependency
  (:data:`HEAVY_OPTIONAL`) or a spawn entry point (its comment says ``spawn``), with a comment on its
  line saying why.

A hand-written checker instead of a tool (import-linter, pydeps): the rules are a few lines each, the
messages name the file, the line and the rule, and it needs no extra dependency.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ROOT

# bottom to top; a module belongs to the first entry that is it or one of its parents
LAYERS = (
    ("lab_utils.errors", "lab_utils.atomic", "lab_utils.progress", "lab_utils.locking", "lab_utils.cache"),
    ("lab_utils.data",),
    ("lab_utils.models",),
    ("lab_utils.passes",),
    ("lab_utils.training",),
    ("lab_utils.analysis",),
    ("lab_utils.search",),
    ("lab_utils.report",),
    ("lab_utils.labs",),
    ("lab_utils.cli", "lab_utils.__main__"),
)
LABS = "lab_utils.labs"
MAX_LOCAL_IMPORTS = 20
HEAVY_OPTIONAL = ("h5py", "PIL", "papermill", "nbconvert", "IPython", "sklearn.datasets", "sklearn.model_selection",
                  "sklearn.preprocessing", "scipy.io",
                  "urllib.request")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, e.g. lab_utils.search.run
    target: str  # imported module or package inside the package, or the external name
    path: Path
    line: int
    local: bool  # inside a function
    comment: str  # the comments on the statement's lines, "" if none

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted name -> file for every module of the package (``pkg/__init__.py`` is ``pkg``)."""
    mods = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _comments(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string
    return out


def _names(node, module: str, is_package: bool, mods) -> list[str]:
    """Modules an import statement names: ``from a.b import c`` is ``a.b.c`` when that is a module."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    if base == "__future__":
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]


def read_imports(path: Path, module: str, mods: dict[str, Path]) -> list[Import]:
    """Every import in one file, resolved to the deepest package module it names."""
    text = path.read_text()
    tree = ast.parse(text, filename=str(path))
    comments = _comments(text)
    local_ids = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                 for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        comment = " ".join(comments[i] for i in range(node.lineno, node.end_lineno + 1) if i in comments)
        for name in _names(node, module, path.name == "__init__.py", mods):
            target = name
            while target not in mods and "." in target:
                target = target.rpartition(".")[0]
            out.append(Import(module, target if target in mods else name, path, node.lineno, id(node) in local_ids,
                              comment))
    return sorted(out, key=lambda i: (str(i.path), i.line))


def layer_of(module: str) -> int | None:
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    return None


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def check_package(package_dir: Path, extra_files: tuple[Path, ...] = ()) -> list[str]:
    """Every rule broken in ``package_dir`` (and the labs rule in ``extra_files``), one message each."""
    root = package_dir.parent
    mods = module_names(package_dir)
    imports = [imp for m, p in mods.items() for imp in read_imports(p, m, mods)]
    internal = [i for i in imports if i.target in mods and i.target != i.source]
    errors = [f"{p.relative_to(root)}:1: layers: module {m} is in no layer of the layer order"
              for m, p in mods.items() if m != package_dir.name and layer_of(m) is None]
    for imp in internal:
        child = imp.target.startswith(imp.source + ".") and imp.path.name == "__init__.py"
        src, dst = layer_of(imp.source), layer_of(imp.target)
        if src is not None and dst is not None and dst > src and not child:
            errors.append(f"{imp.where(root)}: upward import: {imp.source} (layer {src}) imports {imp.target} "
                          f"(layer {dst})")
        if (imp.target == LABS or imp.target.startswith(LABS + ".")) and layer_of(imp.source) != layer_of(LABS):
            errors.append(f"{imp.where(root)}: nothing imports labs: {imp.source} imports {imp.target}")
    for path in extra_files:
        for imp in read_imports(path, path.stem, mods):
            if imp.target == LABS or imp.target.startswith(LABS + "."):
                errors.append(f"{imp.where(root)}: nothing imports labs: {path.name} imports {imp.target}")
    edges: dict[str, set[str]] = {m: set() for m in mods}
    lines: dict[tuple[str, str], str] = {}
    for imp in internal:
        if not imp.target.startswith(imp.source + "."):  # a package importing its children is no cycle
            edges[imp.source].add(imp.target)
            lines.setdefault((imp.source, imp.target), imp.where(root))
    for comp in _cycles(edges):
        links = [f"{lines[a, b]} ({a} -> {b})" for a in comp for b in sorted(edges[a]) if b in comp]
        errors.append(f"{links[0].split(' ')[0]}: import cycle among {', '.join(comp)}: {'; '.join(links)}")
    local = [i for i in imports if i.local]
    for imp in local:
        heavy = any(imp.target == h or imp.target.startswith(h + ".") for h in HEAVY_OPTIONAL)
        if not imp.comment:
            errors.append(f"{imp.where(root)}: function-local import of {imp.target} without a comment saying why")
        elif not heavy and "spawn" not in imp.comment:
            errors.append(f"{imp.where(root)}: function-local import of {imp.target}: only heavy optional "
                          f"dependencies ({', '.join(HEAVY_OPTIONAL)}) or a spawn entry point may be imported "
                          f"inside a function")
    n_local = len({(i.path, i.line) for i in local})
    if n_local > MAX_LOCAL_IMPORTS:
        errors.append(f"{package_dir.relative_to(root)}: {n_local} function-local imports, at most "
                      f"{MAX_LOCAL_IMPORTS}: " + ", ".join(i.where(root) for i in local))
    return errors


# ---------------------------------------------------------------------------- the real package
def test_lab_utils_follows_the_import_rules():
    errors = check_package(ROOT / "lab_utils", extra_files=tuple(sorted((ROOT / "bench").glob("*.py"))))
    assert not errors, "\n".join(errors)


def test_the_checker_sees_the_whole_tree():
    mods = module_names(ROOT / "lab_utils")
    assert {"lab_utils", "lab_utils.cli", "lab_utils.data", "lab_utils.search.run"} <= set(mods)
    imports = read_imports(mods["lab_utils.cli"], "lab_utils.cli", mods)
    assert any(i.target == "lab_utils.errors" and not i.local for i in imports)


# ---------------------------------------------------------------------------- the checker itself
def _fake(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "lab_utils"
    for name, text in {"__init__.py": "", **files}.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    return pkg


def test_checker_passes_a_clean_package(tmp_path):
    pkg = _fake(tmp_path, {
        "errors.py": "",
        "data/__init__.py": "from lab_utils.data import splits\n",  # a package importing its child
        "data/splits.py": "from lab_utils import errors\n",
        "search/__init__.py": "",
        "search/a.py": "from lab_utils.search import b\n",  # within one layer, one direction
        "search/b.py": "import lab_utils.data.splits\n",
        "cli.py": "def main():\n    import h5py  # heavy optional reader\n",
    })
    assert check_package(pkg) == []


def test_checker_reports_an_upward_import_and_a_cycle(tmp_path):
    pkg = _fake(tmp_path, {
        "data/__init__.py": "",
        "data/jsc.py": "x = 1\n\n\ndef f():\n    from lab_utils.training import train  # why\n",
        "training/__init__.py": "",
        "training/train.py": "from lab_utils.training.loop import step\n",
        "training/loop.py": "from lab_utils.training import train\nstep = 1\n",
    })
    errors = check_package(pkg)
    assert any(e.startswith("lab_utils/data/jsc.py:5: upward import: lab_utils.data.jsc (layer 1) imports "
                            "lab_utils.training.train (layer 4)") for e in errors), errors
    cycle = [e for e in errors if "import cycle" in e]
    assert len(cycle) == 1 and "lab_utils.training.loop, lab_utils.training.train" in cycle[0], errors
    assert "lab_utils/training/loop.py:1" in cycle[0] and "lab_utils/training/train.py:1" in cycle[0]
    # a function-local import of package code is neither heavy nor a spawn entry point
    assert any(e.startswith("lab_utils/data/jsc.py:5: function-local import of lab_utils.training.train: only")
               for e in errors), errors


def test_checker_reports_labs_local_imports_and_unknown_modules(tmp_path):
    body = "".join(f"def f{i}():\n    import PIL  # heavy optional\n" for i in range(21))
    pkg = _fake(tmp_path, {
        "labs/__init__.py": "",
        "labs/lab3.py": "",
        "cli.py": "from lab_utils.labs import lab3\n\n\ndef g():\n    import scipy.io\n",
        "report/__init__.py": body,
        "misc.py": "",
    })
    bench = tmp_path / "bench_x.py"
    bench.write_text("from lab_utils.labs.lab3 import x\n")
    errors = check_package(pkg, extra_files=(bench,))
    assert "lab_utils/cli.py:1: nothing imports labs: lab_utils.cli imports lab_utils.labs.lab3" in errors
    assert "bench_x.py:1: nothing imports labs: bench_x.py imports lab_utils.labs.lab3" in errors
    assert "lab_utils/cli.py:5: function-local import of scipy.io without a comment saying why" in errors
    assert any(e.startswith("lab_utils: 22 function-local imports, at most 20") for e in errors), errors
    assert "lab_utils/misc.py:1: layers: module lab_utils.misc is in no layer of the layer order" in errors
