"""Smoke check of an INSTALLED pyredis (a wheel, an sdist build): no server needed.

    python tools/check_wheel.py --compiled   # fail unless every compiled twin is active
    python tools/check_wheel.py --pure       # fail unless the pure twins are active

Run it from outside the source tree (or as a path, as above: then sys.path[0]
is tools/, not the tree), so that ``import pyredis`` finds the installed copy.
Used by the wheel workflows on every platform, including those where the test
suite cannot run for want of a redis-server, and by tools/wheel-check.sh.

Besides the twins, it checks what the distribution ships: the version in its
metadata is ``pyredis.__version__``, the licence file and the ``py.typed``
marker are installed.
"""
import argparse
import os
import sys
from importlib import metadata

DISTRIBUTION = "pyredis-cy"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--compiled", action="store_true")
    mode.add_argument("--pure", action="store_true")
    args = parser.parse_args()

    import pyredis
    from pyredis import protocol

    where = os.path.dirname(os.path.abspath(pyredis.__file__))
    print("pyredis %s from %s: COMPILED=%s" % (
        getattr(pyredis, "__version__", "?"), where, pyredis.COMPILED))
    problems = []
    if os.path.abspath(os.getcwd()) == os.path.dirname(where):
        problems.append("imported from the current directory, not an installed copy")
    if args.compiled and not pyredis.COMPILED:
        problems.append("compiled twins expected, pure ones active")
    if args.pure and pyredis.COMPILED:
        problems.append("pure twins expected, compiled ones active")

    # One round trip through the writer and the parser, whichever twin is active.
    packed = protocol.writer("SET", "k", 1)
    if packed != b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n":
        problems.append("writer produced %r" % (packed,))
    reader = protocol.Reader()
    reader.feed(b"*2\r\n$3\r\nfoo\r\n:4")
    if reader.gets() is not False:
        problems.append("Reader returned a reply before it was complete")
    reader.feed(b"2\r\n")
    reply = reader.gets()
    if reply != [b"foo", 42]:
        problems.append("Reader parsed %r" % (reply,))
    for name in ("Pool", "Client"):
        if not hasattr(pyredis, name):
            problems.append("pyredis.%s missing" % name)
    problems += _check_distribution(pyredis, where)

    for problem in problems:
        print("FAIL: " + problem)
    if not problems:
        print("OK")
    return 1 if problems else 0


def _check_distribution(pyredis, where):
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return ["no installed distribution %s" % DISTRIBUTION]
    problems = []
    if dist.version != pyredis.__version__:
        problems.append("metadata version %s, pyredis.__version__ %s"
                        % (dist.version, pyredis.__version__))
    files = [str(f).replace("\\", "/") for f in dist.files or ()]
    if not any(f.endswith(".dist-info/licenses/LICENSE") for f in files):
        problems.append("no LICENSE in the installed .dist-info/licenses/")
    if not os.path.isfile(os.path.join(where, "py.typed")):
        problems.append("no py.typed marker next to pyredis/__init__.py")
    return problems


if __name__ == "__main__":
    sys.exit(main())
