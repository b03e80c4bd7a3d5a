"""Mutation testing: how many small deliberate faults do a module's tests catch?

Each mutant is the module with one change (a comparison flipped, a constant
nudged, ``and``/``or`` swapped, a ``not`` dropped, a statement removed, a
return value replaced by None, ...).  The module's tests run against each
mutant in a scratch copy of the tree, with the pure twins forced
(``PYREDIS_NO_EXTENSIONS=1``, ``--no-c-extensions``): a mutant is *killed* when a test fails (or
the run times out), and *survives* when every test still passes.  The score is
killed / (mutants - equivalent ones set aside).

    python tools/mutate.py pyredis/protocol/_writer_py.py tests/test_writer.py
    python tools/mutate.py pyredis/url.py tests/test_url.py --max 200 --jobs 2
    python tools/mutate.py pyredis/url.py tests/test_url.py --list        # mutants only

Mutants are numbered in source order and sampled with a fixed seed (``--seed``),
so two runs over the same file pick the same mutants and their ids can be
named with ``--equivalent 12,40`` (mutants that cannot change behaviour, set
aside after reading them).  ``--show ID`` prints one mutant as a diff.
Survivors are listed with their line and change: each is a test to write (or
an equivalent mutant to set aside).  Exit status 0 whatever the score.
"""
import argparse
import ast
import concurrent.futures
import copy
import difflib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CMP_SWAP = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
    ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}
_CMP_EDGE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_BIN_SWAP = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
    ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}


class _Site:
    """One mutation: the path to a node (field names and indexes from the
    module root), what to do there, and a label for humans."""

    __slots__ = ("path", "action", "label", "line")

    def __init__(self, path, action, label, line):
        self.path, self.action, self.label, self.line = path, action, label, line


def _walk(node, path=()):
    yield node, path
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, path + ((field, i),))
        elif isinstance(value, ast.AST):
            yield from _walk(value, path + ((field, None),))


def _docstring(node):
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def sites(tree):
    """Every mutation the operators offer in ``tree``, in source order."""
    out = []
    for node, path in _walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMP_SWAP:
                    out.append(_Site(path, ("cmp", i, _CMP_SWAP[type(op)]),
                                     "%s -> %s" % (type(op).__name__, _CMP_SWAP[type(op)].__name__), line))
                if type(op) in _CMP_EDGE:
                    out.append(_Site(path, ("cmp", i, _CMP_EDGE[type(op)]),
                                     "%s -> %s" % (type(op).__name__, _CMP_EDGE[type(op)].__name__), line))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAP:
            out.append(_Site(path, ("binop", _BIN_SWAP[type(node.op)]),
                             "%s -> %s" % (type(node.op).__name__, _BIN_SWAP[type(node.op)].__name__), line))
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            out.append(_Site(path, ("boolop", other),
                             "%s -> %s" % (type(node.op).__name__, other.__name__), line))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append(_Site(path, ("unwrap",), "drop 'not'", line))
        elif isinstance(node, ast.Constant) and not isinstance(node.value, str) \
                and path and path[-1][0] not in ("kind",):
            value = node.value
            if isinstance(value, bool):
                out.append(_Site(path, ("const", not value), "%r -> %r" % (value, not value), line))
            elif isinstance(value, int):
                out.append(_Site(path, ("const", value + 1), "%r -> %r" % (value, value + 1), line))
                if value != 0:
                    out.append(_Site(path, ("const", 0), "%r -> 0" % (value,), line))
            elif isinstance(value, bytes) and value:
                out.append(_Site(path, ("const", value[:-1]), "%r -> %r" % (value, value[:-1]), line))
            elif value is None:
                pass
        elif isinstance(node, ast.Return) and node.value is not None \
                and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            out.append(_Site(path, ("return_none",), "return ... -> return None", line))
        elif isinstance(node, (ast.Expr, ast.Assign, ast.AugAssign, ast.Raise, ast.AnnAssign)) \
                and not _docstring(node):
            out.append(_Site(path, ("delete",), "delete %s" % type(node).__name__, line))
        elif isinstance(node, ast.If):
            out.append(_Site(path, ("if_true",), "if condition -> True", line))
            out.append(_Site(path, ("if_false",), "if condition -> False", line))
    return out


def _resolve(tree, path):
    parent, node = None, tree
    for field, index in path:
        parent = (node, field, index)
        node = getattr(node, field) if index is None else getattr(node, field)[index]
    return parent, node


def apply(tree, site):
    """A mutated copy of ``tree`` (the original is left alone)."""
    tree = copy.deepcopy(tree)
    (owner, field, index), node = _resolve(tree, site.path)
    kind = site.action[0]
    if kind == "cmp":
        node.ops[site.action[1]] = site.action[2]()
    elif kind == "binop":
        node.op = site.action[1]()
    elif kind == "boolop":
        node.op = site.action[1]()
    elif kind == "unwrap":
        _replace(owner, field, index, node.operand)
    elif kind == "const":
        node.value = site.action[1]
    elif kind == "return_none":
        node.value = ast.Constant(None)
    elif kind == "delete":
        _replace(owner, field, index, ast.Pass())
    elif kind == "if_true":
        node.test = ast.Constant(True)
    elif kind == "if_false":
        node.test = ast.Constant(False)
    return ast.fix_missing_locations(tree)


def _replace(owner, field, index, new):
    if index is None:
        setattr(owner, field, new)
    else:
        getattr(owner, field)[index] = new


def _copy_tree(dest):
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist",
                                    ".pytest_cache", ".hypothesis", "site")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def _run_tests(workdir, tests, timeout, extra):
    env = dict(os.environ, PYREDIS_NO_EXTENSIONS="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-p", "no:randomly", "--timeout=%d" % timeout, "--no-c-extensions"] + list(tests) + list(extra)
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout * 2)
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    if proc.returncode == 0:
        return "survived"
    if proc.returncode in (1, 3):  # failures / internal error from the mutant
        return "killed"
    return "error %d: %s" % (proc.returncode, proc.stdout.decode(errors="replace")[-300:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("module", help="the pure-Python file to mutate, relative to the repository")
    p.add_argument("tests", nargs="+", help="test files (or node ids) to run against each mutant")
    p.add_argument("--max", type=int, default=200, help="mutants to sample (default 200)")
    p.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    p.add_argument("--jobs", type=int, default=1, help="mutants tested at once (scratch copies)")
    p.add_argument("--timeout", type=int, default=120, help="seconds one test run may take")
    p.add_argument("--equivalent", default="", help="comma-separated mutant ids to set aside")
    p.add_argument("--list", action="store_true", help="list the sampled mutants and exit")
    p.add_argument("--show", type=int, help="print mutant ID as a diff and exit")
    p.add_argument("-k", help="pytest -k expression for the test runs")
    args = p.parse_args(argv)

    rel = os.path.relpath(os.path.join(ROOT, args.module), ROOT)
    with open(os.path.join(ROOT, rel)) as f:
        source = f.read()
    tree = ast.parse(source)
    every = sites(tree)
    rng = random.Random(args.seed)
    chosen = sorted(rng.sample(range(len(every)), min(args.max, len(every))))
    numbered = [(i + 1, every[k]) for i, k in enumerate(chosen)]
    equivalent = {int(x) for x in args.equivalent.split(",") if x.strip()}

    if args.show:
        site = dict(numbered)[args.show]
        mutated = ast.unparse(apply(tree, site))
        original = ast.unparse(tree)
        sys.stdout.writelines(difflib.unified_diff(
            original.splitlines(True), mutated.splitlines(True), rel, "mutant %d" % args.show))
        return 0
    if args.list:
        for ident, site in numbered:
            print("%4d  line %-5d %s" % (ident, site.line, site.label))
        print("%d of %d possible mutants" % (len(numbered), len(every)))
        return 0

    extra = ["-k", args.k] if args.k else []
    scratch = tempfile.mkdtemp(prefix="pyredis-mutate-")
    copies = []
    for j in range(max(1, args.jobs)):
        dest = os.path.join(scratch, "tree%d" % j)
        _copy_tree(dest)
        copies.append(dest)
    baseline = _run_tests(copies[0], args.tests, args.timeout, extra)
    if baseline != "survived":
        print("the tests fail on the unmutated module (%s): fix that first" % baseline)
        shutil.rmtree(scratch, ignore_errors=True)
        return 2

    free = list(copies)
    results = {}
    started = time.monotonic()

    def run_one(ident, site, workdir):
        target = os.path.join(workdir, rel)
        with open(target, "w") as f:
            f.write(ast.unparse(apply(tree, site)))
        try:
            return _run_tests(workdir, args.tests, args.timeout, extra)
        finally:
            with open(target, "w") as f:
                f.write(source)

    todo = [(i, s) for i, s in numbered if i not in equivalent]
    with concurrent.futures.ThreadPoolExecutor(len(copies)) as pool:
        pending = {}
        while todo or pending:
            while todo and free:
                ident, site = todo.pop(0)
                workdir = free.pop()
                pending[pool.submit(run_one, ident, site, workdir)] = (ident, site, workdir)
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in done:
                ident, site, workdir = pending.pop(fut)
                free.append(workdir)
                results[ident] = fut.result()
                print("%4d  %-18s line %-5d %s" % (ident, results[ident], site.line, site.label),
                      flush=True)
    shutil.rmtree(scratch, ignore_errors=True)

    killed = sum(1 for r in results.values() if r.startswith("killed"))
    errors = {i: r for i, r in results.items() if r.startswith("error")}
    survivors = [(i, s) for i, s in numbered if results.get(i) == "survived"]
    scored = len(results) - len(errors)
    print()
    print("%s: %d mutants, %d set aside as equivalent, %d errors" % (
        rel, len(numbered), len(equivalent & {i for i, _ in numbered}), len(errors)))
    print("score: %d/%d killed = %.1f%%  (%.0f s)" % (
        killed, scored, 100.0 * killed / scored if scored else 0.0, time.monotonic() - started))
    for ident, site in survivors:
        print("  survived %4d  line %-5d %s" % (ident, site.line, site.label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
