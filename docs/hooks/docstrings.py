"""Docstrings as the site shows them: a griffe extension (``mkdocs.yml``, mkdocstrings' python
handler, ``extensions``) that rewrites each docstring before it is rendered.

* Sphinx cross-reference roles (``:class:`~slicesim.envs.SlicingEnv```, ``:meth:`step```, ...)
  become mkdocs-autorefs references: a link where the target has an API entry on the site, plain
  code where it has none (``optional``: never a broken link, never a failed strict build).
  Relative names resolve like Sphinx's: a method's own class, then the enclosing scopes, then the
  module.
* The project's plain-text formulas (:data:`FORMULAS`: the QoS r, the utility U) become LaTeX
  that ``pymdownx.arithmatex`` and ``hooks/site.py`` render as MathML.
* The needs ``thr*`` and ``d*`` keep their star (Markdown would read two of them as emphasis).

The source keeps plain text, which reads well in ``help()`` and an editor; only the site changes.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?P<role>meth|class|func|mod|data|attr|exc|obj|const|type):`(?P<target>[^`]+)`"
)
"""A Sphinx role, e.g. ``:meth:`~slicesim.Network.replay```."""
CODE = re.compile(r"(^```.*?^```|``.+?``|`[^`\n]+`)", re.S | re.M)
"""Fenced blocks and code spans: left as they are."""
NEED = re.compile(r"(?<![\w*\\])(thr|d)\*(?!\*)")
"""The needs thr* and d*: a literal star, not emphasis."""


def _formula(plain: str) -> re.Pattern[str]:
    """``plain`` as a pattern that also matches it broken over lines."""
    return re.compile(r"\s+".join(re.escape(word) for word in plain.split()))


FORMULAS: dict[re.Pattern[str], str] = {
    _formula("r = min(thr / thr*, d* / delay, 1)"): (
        r"$r = \min\left(\frac{\mathrm{thr}}{\mathrm{thr}^*}, \frac{d^*}{\mathrm{delay}}, 1\right)$"
    ),
    _formula("U = sum over active (cell, slice) of log(1 + r)"): (
        r"$U = \sum_{(c,\,s)\ \mathrm{active}} \log(1 + r_{c,s})$"
    ),
    _formula("U = sum log(1 + r)"): r"$U = \sum \log(1 + r)$",
}
"""Plain-text formulas of the docstrings and the LaTeX the site shows for them."""


def _scope_path(obj: griffe.Object, name: str, role: str) -> str:
    """The full path of a relative ``name`` seen from ``obj``'s docstring."""
    first = name.split(".")[0]
    scope: griffe.Object | None = obj
    if role in ("meth", "attr") and "." not in name and not obj.is_class:
        scope = obj.parent if obj.parent is not None and obj.parent.is_class else obj
    while scope is not None:
        member = scope.members.get(first) if not scope.is_function else None
        if member is not None:
            base = member.target_path if member.is_alias else member.path
            return ".".join([base, *name.split(".")[1:]])
        scope = scope.parent
    return name  # absolute (or unknown: left to autorefs, optional)


def role_to_ref(match: re.Match[str], obj: griffe.Object) -> str:
    """One role as an optional autorefs reference."""
    role, target = match["role"], match["target"].strip()
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>", target)  # title <target>
    if explicit:
        title, identifier = explicit["title"], explicit["target"].lstrip("~.").removesuffix("()")
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )
    short = target.startswith("~")
    target = target.lstrip("~.").removesuffix("()")
    identifier = _scope_path(obj, target, role)
    title = target.split(".")[-1] if short else target
    if role in ("meth", "func"):
        title += "()"
    return (
        f'<autoref identifier="{html.escape(identifier)}" optional>'
        f"<code>{html.escape(title)}</code></autoref>"
    )


def _prose(text: str) -> str:
    for pattern, latex in FORMULAS.items():
        text = pattern.sub(lambda _, latex=latex: latex, text)
    return NEED.sub(r"\1\\*", text)


TOKEN = re.compile(rf"(?P<any_role>{ROLE.pattern})|(?P<code>{CODE.pattern})", re.S | re.M)
"""Roles and code, in the order they start: a role inside a code span stays code."""


def rewrite(text: str, obj: griffe.Object) -> str:
    """A docstring as the site renders it (roles, formulas, needs; code left alone)."""
    out, done = [], 0
    for match in TOKEN.finditer(text):
        out.append(_prose(text[done : match.start()]))
        out.append(role_to_ref(match, obj) if match["any_role"] else match[0])
        done = match.end()
    out.append(_prose(text[done:]))
    return "".join(out)


class SiteDocstrings(griffe.Extension):
    """Rewrite every docstring of a loaded package (:func:`rewrite`)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value, obj)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member)  # type: ignore[arg-type]
