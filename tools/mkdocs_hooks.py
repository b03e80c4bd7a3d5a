"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks:``).

Docstrings use reST roles (``:class:`~pyredis.pool.base.BasePool```), which
mkdocstrings renders as Markdown: the role name stays as text before the
code span.  Drop the role and, as Sphinx does for ``~``, keep only the last
dotted name.
"""
import re

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):<code>(~?)([\w.]+)</code>")


def _code(match):
    name = match.group(2)
    if match.group(1):
        name = name.rsplit(".", 1)[-1]
    return "<code>%s</code>" % name


def on_page_content(html, **kwargs):
    return _ROLE.sub(_code, html)
