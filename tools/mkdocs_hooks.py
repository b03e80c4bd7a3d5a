"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks:``).

* The API pages are rendered from the pure-Python twins: they have the same
  names, behaviour and docstrings as the compiled modules, and inspection
  reads them as ordinary Python functions (a compiled method shows up as a
  "method descriptor" with Cython's signature line in its docstring).  The
  variable is set when this module is loaded, before mkdocstrings imports
  pyredis.
* Docstrings use reST roles (``:class:`~pyredis.pool.base.BasePool```), which
  mkdocstrings renders as Markdown: the role name stays as text before the
  code span.  The role is dropped and, as Sphinx does for ``~``, only the
  last dotted name kept.
"""
import os
import re

os.environ["PYREDIS_NO_EXTENSIONS"] = "1"

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):<code>(~?)([\w.]+)</code>")


def _code(match):
    name = match.group(2)
    if match.group(1):
        name = name.rsplit(".", 1)[-1]
    return "<code>%s</code>" % name


def on_page_content(html, **kwargs):
    return _ROLE.sub(_code, html)
