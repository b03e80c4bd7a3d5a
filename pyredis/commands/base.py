"""BaseCommand: what every command mixin (Subscribe aside) derives from."""
from pyredis._describe import connection_client_repr

__all__ = ["BaseCommand"]


class BaseCommand:
    """The base of the command mixins: a class built from them provides
    ``execute`` (each command method returns what it returns) and, for
    cluster-mode routing, ``_cluster = True``.

    ``_cluster`` is a class attribute here (upstream set it in ``__init__``),
    so a subclass needs no ``super().__init__()`` call.
    """

    _cluster = False

    def __init__(self):
        pass

    def execute(self, *args, **kwargs):
        """Run one command; the class using the mixins implements it."""
        raise NotImplementedError("command classes implement execute()")

    # Client and AsyncClient; hash and cluster clients have their own.
    __repr__ = connection_client_repr
