"""BaseCommand: what every command mixin relies on."""

__all__ = ["BaseCommand"]


class BaseCommand:
    """Classes using the command mixins provide ``execute`` and ``_cluster``."""

    _cluster = False

    def execute(self, *args, **kwargs):
        raise NotImplementedError("command classes implement execute()")
