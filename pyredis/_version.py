"""The package version: the one place it is written (pyproject.toml reads it
from here for the distribution's metadata)."""
__version__ = "1.0.0"
