"""MkDocs hooks of the site (``mkdocs.yml``, ``hooks:``); each one is small and offline.

* :func:`on_page_markdown`: pages that are made, not written - the Results page is
  ``benchmarks/RESULTS.md`` (its links, relative to ``benchmarks/``, made relative to the page),
  and the Environments page's table is read from Gymnasium's registry.
* :func:`on_page_content`: math. ``pymdownx.arithmatex`` (generic mode) marks ``$...$`` and
  ``$$...$$``; they are converted to MathML here with ``latex2mathml``, which browsers render
  natively: no script, no CDN, the site works offline.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r"^<!-- include (?P<path>\S+) -->$", re.M)
"""``<!-- include benchmarks/RESULTS.md -->``: a repository file as the page's text."""
REGISTRY = "<!-- registry table -->"
INLINE = re.compile(r'<span class="arithmatex">\\\((?P<tex>.*?)\\\)</span>', re.S)
BLOCK = re.compile(r'<div class="arithmatex">\\\[(?P<tex>.*?)\\\]</div>', re.S)


def include(path: str, page_dir: str) -> str:
    """The repository file ``path`` with its relative links into ``docs/`` made relative to a
    page in folder ``page_dir`` of the site (e.g. ``../docs/figures/x.png`` from
    ``benchmarks/`` becomes ``../figures/x.png`` from ``results/``)."""
    text = (ROOT / path).read_text()
    source_depth = len(Path(path).parent.parts)
    page_depth = len(Path(page_dir).parts)
    into_docs = "../" * source_depth + "docs/"
    return text.replace(f"]({into_docs}", "](" + "../" * page_depth)


def registry_table() -> str:
    """Every registered ``slicesim/`` id, as Markdown: scenario, cells, slices, spaces,
    horizon, slice-set changes and the vector entry point (built from the envs themselves)."""
    import gymnasium as gym

    import slicesim  # noqa: F401  (registers the ids)

    rows = [
        "| id | scenario | cells | slice types | action | observation | horizon "
        "| slice sets | `make_vec` |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for id_, spec in sorted(gym.registry.items()):
        if not id_.startswith("slicesim/"):
            continue
        env = gym.make(id_)
        base: Any = env.unwrapped
        config = base.config
        phases = ", ".join(
            f"{p.name} {list(p.slices)} from {p.start}" for p in config.timeline.phases
        )
        vector = spec.vector_entry_point
        vector_name = vector.split(":")[-1] if isinstance(vector, str) else "-"
        rows.append(
            f"| `{id_}` | `{config.name}` | {base.n_cells} | {list(config.slice_ids)} | "
            f"{tuple(env.action_space.shape)} | {tuple(env.observation_space.shape)} | "
            f"{config.timeline.n_periods} x {config.sim.period_s / 60:g} min | {phases} | "
            f"`{vector_name}` |"
        )
        env.close()
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    page_dir = str(Path(page.file.src_uri).parent)
    markdown = INCLUDE.sub(lambda m: include(m["path"], page_dir), markdown)
    if REGISTRY in markdown:
        markdown = markdown.replace(REGISTRY, registry_table())
    return markdown


def mathml(tex: str, display: bool) -> str:
    """LaTeX (as arithmatex escaped it in the page) as MathML."""
    from latex2mathml.converter import convert

    return convert(html.unescape(tex).strip(), display="block" if display else "inline")


def on_page_content(content: str, **kwargs: Any) -> str:
    content = BLOCK.sub(lambda m: mathml(m["tex"], display=True), content)
    return INLINE.sub(lambda m: mathml(m["tex"], display=False), content)
