"""Command mixins: one method per Redis command, each forwarding its
arguments untouched to ``self.execute`` (docs/design/contract.md, "Command mixins").

The methods are built in ``_build.py``, which holds the routing rules.
"""
from pyredis.commands._methods import BUILDER_MODULE
from pyredis.commands.base import BaseCommand
from pyredis.commands.connection import Connection
from pyredis.commands.geo import Geo
from pyredis.commands.hash import Hash
from pyredis.commands.hyperloglog import HyperLogLog
from pyredis.commands.key import Key
from pyredis.commands.list import List
from pyredis.commands.publish import Publish
from pyredis.commands.scripting import Scripting
from pyredis.commands.set import Set
from pyredis.commands.sset import SSet
from pyredis.commands.string import String
from pyredis.commands.subscribe import Subscribe
from pyredis.commands.transaction import Transaction

__all__ = [
    "BaseCommand", "Connection", "Geo", "Hash", "HyperLogLog", "Key", "List",
    "Publish", "Scripting", "Set", "SSet", "String", "Subscribe", "Transaction",
]

# The mixin matrix, each in the base-class order the classes use (not in
# __all__: these are sets of mixins, not mixins).  Every mixin but Subscribe
# derives from BaseCommand, so every client and pool below is a BaseCommand.
CLIENT_MIXINS = (Connection, Geo, Hash, HyperLogLog, Key, List, Publish, Scripting,
                 Set, SSet, String, Transaction)  # Client, HashClient: all but Subscribe
CLUSTER_CLIENT_MIXINS = tuple(m for m in CLIENT_MIXINS if m is not Publish)  # ClusterClient
POOL_MIXINS = (Connection, Geo, Hash, HyperLogLog, Key, List, Publish, Scripting, Set, SSet,
               String)  # Pool, HashPool, the Sentinel pools: no Transaction, no Subscribe
CLUSTER_POOL_MIXINS = tuple(m for m in POOL_MIXINS if m is not Publish)  # ClusterPool


def _adopt_methods(mixin):
    """Name each command method after the mixin holding it (``Key.delete`` in
    ``pyredis.commands.key``), as a method written in the class body would be
    named, not after the builder module that made it: ``help()``, pickle and
    documentation tools (mkdocstrings) look methods up by these names.  An
    alias (``sunoinstore = sunionstore``) keeps its original's name."""
    for name, method in vars(mixin).items():
        if getattr(method, "__module__", None) == BUILDER_MODULE:
            method.__module__ = mixin.__module__
            method.__qualname__ = "%s.%s" % (mixin.__qualname__, name)


for _mixin in (Connection, Geo, Hash, HyperLogLog, Key, List, Publish, Scripting, Set, SSet,
               String, Subscribe, Transaction):
    _adopt_methods(_mixin)
del _mixin
