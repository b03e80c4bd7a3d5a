"""Names pyredis 1.0's ``pyredis.protocol`` module had besides its ``__all__``.

Kept so that code importing them still works: the RESP symbols with their
values and ``is_exception`` with its behaviour. (``ReplyParser``, the internal
per-reply parser behind that module's pure-Python ``Reader``, is an alias of
today's ``Reader`` in the package; its file-object interface is not reproduced.)
"""
SYM_CRLF = b"\r\n"
SYM_EMPTY = b""

TYPE_SIMPLE = b"+"
TYPE_ERROR = b"-"
TYPE_INT = b":"
TYPE_BULK = b"$"
TYPE_ARRAY = b"*"


def is_exception(inst, classinfo):
    """True if ``inst`` is a subclass of ``classinfo``, or a callable whose result
    for the message ``"test"`` is an instance of it; else ``TypeError``.

    A call that raises ``TypeError`` counts as "no"; other exceptions propagate.
    """
    try:
        if issubclass(inst, classinfo):
            return True
    except TypeError:  # not a class
        pass
    try:
        if isinstance(inst("test"), classinfo):
            return True
    except TypeError:  # not callable, or not with one argument
        pass
    raise TypeError("{0} is not a subclass of {1}".format(inst, classinfo))
