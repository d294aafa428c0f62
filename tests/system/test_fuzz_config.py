"""Property test: a randomly damaged search TOML never gives a traceback.

Hypothesis takes one of the shipped JSC configs (``configs/*.toml``, made small: 2,000 jsc-sim
samples and a tiny checkpoint) and applies one mutation: a value of the wrong type or out of range,
a deleted key, an extra key, a key moved to another table (wrong nesting), a damaged choice list,
or broken TOML syntax. ``python -m lab_utils search --config F --check`` is called in-process
(``lab_utils.cli.main``) and must return 0, or return 2 with exactly one line on stderr, starting
with ``error:``, that names the mutated key when the mutation was a key or value mutation.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lab_utils.data as data
from lab_utils.cli import main
from tests.helpers import ROOT, tiny_checkpoint

CONFIGS = ["jsc_tiny_by_type", "jsc_tiny_by_name_bruteforce", "jsc_tiny_by_name_tpe", "jsc_network_search"]
# Values a user could type by mistake: wrong types, out-of-range numbers, empty or odd lists, "NA".
BAD_INTS = [-(2**63), -1, 0, 1, 3, 33, 2**32, 2**63 - 1]
BAD_VALUES = st.one_of(
    st.sampled_from(BAD_INTS),
    st.sampled_from([-1.5, 0.0, 0.5, 1e308, float("inf"), float("-inf"), float("nan")]),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["NA", "", "../../etc", "integer", "maximize", "tpe", "val_dataloader", "train"]),
    st.lists(st.sampled_from(BAD_INTS + ["NA", "x", True, 2.5]), max_size=3),
    st.just({}),
    st.dictionaries(st.sampled_from(["a", "config", "scale"]), st.sampled_from([1, "x"]), max_size=2),
)
KEY_NAMES = st.one_of(st.sampled_from(["foo", "data_loader", "n_trial", "setup", "config", "direction"]),
                      st.from_regex(r"[a-z_]{1,10}", fullmatch=True))
KEY_FIRST = re.compile(r"[a-z_]+(\.[A-Za-z0-9_]+)*: ")  # "search.strategy.setup.sampler: ..."
PROTECTED = {("n_samples",)}  # deleting it (or "NA") means the full 830k-jet set: slow, not wrong


@pytest.fixture(scope="module")
def env(tmp_path_factory, one_thread):  # one thread: tiny models run faster on a loaded 2-core machine
    """Small data in a temporary LAB_DATA_DIR, a tiny checkpoint, the base configs (dicts)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    mp = pytest.MonkeyPatch()
    mp.setattr(data, "DEFAULT_DATA_DIR", tmp / "data")
    ckpt = tiny_checkpoint(tmp)
    bases = {}
    for name in CONFIGS:
        raw = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text())
        raw["n_samples"] = 2000
        if raw["search"]["search_space"]["name"].startswith("graph/quantize"):
            raw["load"] = str(ckpt)
        bases[name] = raw
    yield tmp, bases
    mp.undo()


def paths(d: dict, prefix=()) -> list[tuple]:
    out = []
    for k, v in d.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out.extend(paths(v, prefix + (k,)))
    return out


def tables(d: dict, prefix=()) -> list[tuple]:
    return [prefix] + [t for k, v in d.items() if isinstance(v, dict) for t in tables(v, prefix + (k,))]


def get(d, path):
    for p in path:
        d = d[p]
    return d


@st.composite
def mutated(draw):
    """(base config name, mutation kind, a seeded Random for positions, a bad value, a new key name)."""
    name = draw(st.sampled_from(CONFIGS))
    kind = draw(st.sampled_from(["value", "value", "delete", "extra", "move", "list", "syntax"]))
    return name, kind, draw(st.randoms(use_true_random=False)), draw(BAD_VALUES), draw(KEY_NAMES)


def apply(base: dict, name: str, kind: str, rnd, value, newkey) -> tuple[str, str | None]:
    raw = copy.deepcopy(base)
    all_paths = [p for p in paths(raw) if p not in PROTECTED]
    if kind == "value":
        path = rnd.choice(all_paths)
        if path in PROTECTED or (path[-1] == "n_samples" and value == "NA"):
            value = 5
        get(raw, path[:-1])[path[-1]] = value
        return tomli_w.dumps(raw), path[-1]
    if kind == "delete":
        path = rnd.choice(all_paths)
        del get(raw, path[:-1])[path[-1]]
        return tomli_w.dumps(raw), path[-1]
    if kind == "extra":
        table = rnd.choice(tables(raw))
        if newkey in get(raw, table):
            return tomli_w.dumps(raw), None
        get(raw, table)[newkey] = value
        return tomli_w.dumps(raw), newkey
    if kind == "move":  # wrong nesting: a key put in another table
        path = rnd.choice(all_paths)
        targets = [t for t in tables(raw) if t != path[:-1] and t[:len(path)] != path]
        if not targets:  # [search] holds every other table
            return tomli_w.dumps(raw), None
        table = rnd.choice(targets)
        moved = get(raw, path[:-1]).pop(path[-1])
        get(raw, table)[path[-1]] = moved
        return tomli_w.dumps(raw), path[-1]
    if kind == "list":
        lists = [p for p in paths(raw) if isinstance(get(raw, p), list)]
        path = rnd.choice(lists)
        items = get(raw, path)
        op = rnd.choice(["empty", "replace", "append"])
        if op == "empty":
            items.clear()
        elif op == "replace":
            items[rnd.randrange(len(items))] = value if not isinstance(value, (dict, list)) else [value]
        else:
            items.append(value)
        try:
            return tomli_w.dumps(raw), path[-1]
        except (TypeError, ValueError):  # not representable in TOML: nothing to test
            return tomli_w.dumps(base), None
    # broken syntax: cut, duplicate or inject characters somewhere in the file
    text = tomli_w.dumps(raw)
    i = rnd.randrange(len(text))
    op = rnd.choice(["cut", "inject", "dup_line"])
    if op == "cut":
        text = text[:i] + text[i + rnd.randint(1, 20):]
    elif op == "inject":
        text = text[:i] + rnd.choice(["[", "]", "=", '"', "[[", "\n[search]\n", "{", "\x00", "é"]) + text[i:]
    else:
        lines = text.splitlines(keepends=True)
        j = rnd.randrange(len(lines))
        lines.insert(j, lines[j])
        text = "".join(lines)
    return text, None


def run_check(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["search", "--config", str(path), "--check", "--quiet"])
    return rc, out.getvalue(), err.getvalue()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_config_never_tracebacks(env, case):
    tmp, bases = env
    name, kind, rnd, value, newkey = case
    try:
        text, key = apply(bases[name], name, kind, rnd, value, newkey)
    except (TypeError, ValueError):  # a value TOML cannot hold (e.g. NaN in a key position)
        return
    path = tmp / "mutated.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    rc, out, err = run_check(path)  # must not raise
    event(f"{kind}: exit {rc}")
    assert "Traceback" not in out + err
    if rc == 0:
        assert "config ok" in out
        return
    assert rc == 2, (rc, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    if key is not None and kind != "syntax":
        message = lines[0].removeprefix("error: ").removeprefix(f"config {path}: ")
        if kind == "delete":  # a missing table changes what other keys mean: a key must be named
            assert KEY_FIRST.match(message) or re.search(rf"\b{re.escape(key)}\b", message), (kind, key, message)
        else:
            assert re.search(rf"\b{re.escape(key)}\b", message), (kind, key, message)


def test_every_shipped_config_passes_check(env):
    """The unmutated bases are valid (so a failure above is the mutation's)."""
    tmp, bases = env
    for name, raw in bases.items():
        path = tmp / f"{name}.toml"
        path.write_text(tomli_w.dumps(raw))
        rc, out, err = run_check(path)
        assert rc == 0, (name, err)
        assert "unique configurations" in out
