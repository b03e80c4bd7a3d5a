"""Type stub for the compiled RESP parser (the pure twin ``_reader_py`` has the same API)."""
from typing import Any, Callable, Optional, Type, Union

from typing_extensions import Buffer

_ErrorFactory = Union[Type[BaseException], Callable[[str], BaseException]]

__all__ = ["Reader"]

class Reader:
    """Incremental RESP2/RESP3 parser with ``hiredis.Reader``'s interface."""

    def __init__(
        self,
        protocolError: _ErrorFactory = ...,
        replyError: _ErrorFactory = ...,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
        notEnoughData: Any = False,
        *,
        max_depth: int = 1024,
        max_line_length: int = 64 * 1024 * 1024,
        raw_fallback: bool = False,
    ) -> None: ...
    def feed(self, data: Buffer, offset: Optional[int] = None, length: Optional[int] = None) -> None: ...
    def gets(self, shouldDecode: bool = True) -> Any: ...
    def set_encoding(self, encoding: Optional[str] = None, errors: Optional[str] = None) -> None: ...
    def setmaxbuf(self, maxbuf: Optional[int]) -> None: ...
    def getmaxbuf(self) -> int: ...
    def len(self) -> int: ...
    def has_data(self) -> bool: ...
