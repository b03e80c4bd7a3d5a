"""BaseCommand: what every command mixin relies on."""
from pyredis._describe import connection_client_repr

__all__ = ["BaseCommand"]


class BaseCommand:
    """Classes using the command mixins provide ``execute`` and ``_cluster``."""

    _cluster = False

    def execute(self, *args, **kwargs):
        raise NotImplementedError("command classes implement execute()")

    # Client and AsyncClient; hash and cluster clients have their own.
    __repr__ = connection_client_repr
