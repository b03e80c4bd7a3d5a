"""The command-method builders, compiled (``_build``) or pure (``_build_py``).

Both twins are the same source: compiled, each command method is a C
function instead of a Python frame.
"""
from pyredis._twins import import_twin

_build = import_twin("pyredis.commands", "_build")
BUILDER_MODULE = _build.__name__  # the methods' __module__ until their mixin adopts them

keyed = _build.keyed
keyed_or_explicit = _build.keyed_or_explicit
explicit = _build.explicit
standalone_only = _build.standalone_only
subscriber = _build.subscriber

__all__ = ["keyed", "keyed_or_explicit", "explicit", "standalone_only", "subscriber"]
