"""The documentation site as a reader sees it: built once (``mkdocs build --strict`` into a
scratch folder), then every HTML page is read for what renders wrong - a raw reST role, a list
item run into a paragraph as a literal ``* ``, ``$...$`` math left unrendered, two H1s on a page -
and for what must be there: math on the env card and the KPI page, links in the API reference.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
pytest.importorskip("latex2mathml", reason="the docs extra: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?:py:)?(?:meth|class|func|mod|data|attr|exc|obj|const):")
STAR_ITEM = re.compile(r"(?:^|\n)[ \t]*\* \S")
DOLLARS = re.compile(r"\$[^$\s][^$]*\$|\$\$")
SKIPPED = {"code", "pre", "script", "style", "math", "textarea", "svg"}


class Page(HTMLParser):
    """One page's H1 count, its text outside code and math, and its paragraphs' text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.h1, self.skip, self.text = 0, 0, []
        self.paragraphs: list[str] = []
        self.in_p = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.h1 += tag == "h1"
        self.skip += tag in SKIPPED
        if tag == "p":
            self.in_p = True
            self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in SKIPPED
        self.in_p = self.in_p and tag != "p"

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.text.append(data)
        if self.in_p:
            self.paragraphs[-1] += data


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return {p.relative_to(out).as_posix(): p.read_text() for p in sorted(out.rglob("*.html"))}


def test_no_page_shows_raw_markup_and_each_has_one_title(site: dict[str, str]) -> None:
    problems = []
    for name, html in site.items():
        page = Page(html)
        text = "".join(page.text)
        if page.h1 != 1:
            problems.append(f"{name}: {page.h1} H1s")
        problems += [f"{name}: raw role {m!r}" for m in ROLE.findall(text)]
        problems += [f"{name}: unrendered math {m!r}" for m in DOLLARS.findall(text)]
        if 'class="arithmatex"' in html:
            problems.append(f"{name}: math left to a script (arithmatex span)")
        for para in page.paragraphs:
            if STAR_ITEM.search(para):
                problems.append(f"{name}: a list run into a paragraph: {para[:80]!r}")
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_they_look_for() -> None:
    bad = Page("<h1>a</h1><h1>b</h1><p>Lists:\n* one\n* two :meth:<code>x</code> $r$</p>")
    assert bad.h1 == 2 and STAR_ITEM.search(bad.paragraphs[0])
    assert ROLE.search("".join(bad.text)) and DOLLARS.search("".join(bad.text))
    good = Page("<h1>a</h1><p>2 * 3</p><pre><code>* x $y$ :class:</code></pre>")
    assert not STAR_ITEM.search(good.paragraphs[0]) and not DOLLARS.search("".join(good.text))
    assert not ROLE.search("".join(good.text))


def test_formulas_render_as_math_and_the_api_links(site: dict[str, str]) -> None:
    card = site["api/envs/index.html"]
    reward = card[card.index('id="slicesim.envs.slicing_env.SlicingEnv--rewards"') :][:6000]
    assert reward.count("<math") >= 2 and "thr / thr, " not in reward  # U and r, as math
    assert site["concepts/kpis/index.html"].count("<math") >= 4
    assert site["environments/index.html"].count("<math") >= 2
    # a role of the docstrings, now a link to the object's entry
    assert (
        'href="#slicesim.envs.slicing_env.SlicingEnv.render"><code>SlicingEnv.render()</code></a>'
        in card
    )
    results = site["results/index.html"]
    assert results.count('class="glightbox"') >= 4  # the figures, zoomable
    # history lives apart: slicesim 0.1's and the K = 6 runs' commits only in the log
    for commit in ("f0e4521", "a532188 (slicesim 0.2: the 3GPP radio"):
        assert commit not in results and commit in site["results/log/index.html"]
    assert 'href="log/"' in results  # the Results page links its log


def _hooks(name: str):  # the site's hook modules live in docs/hooks (not a package)
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstring_roles_become_optional_references_and_formulas_math() -> None:
    griffe = pytest.importorskip("griffe")
    docstrings = _hooks("docstrings")
    code = '''
from slicesim.envs import SlicingEnv as Env

class Thing:
    def step(self):
        """Calls :meth:`reset`, :class:`Env`, :func:`~slicesim.rollout.run` and
        :meth:`the replay <slicesim.Network.replay>`; r = min(thr / thr*, d* / delay, 1),
        ``thr* :meth:`x` `` stays code; thr* / max thr*."""

    def reset(self):
        """Nothing."""
'''
    with griffe.temporary_visited_module(code) as module:
        step = module["Thing.step"]
        text = docstrings.rewrite(step.docstring.value, step)
    path = module.path
    assert f'<autoref identifier="{path}.Thing.reset" optional><code>reset()</code>' in text
    assert '<autoref identifier="slicesim.envs.SlicingEnv" optional><code>Env</code>' in text
    assert '<autoref identifier="slicesim.rollout.run" optional><code>run()</code>' in text
    assert 'identifier="slicesim.Network.replay" optional><code>the replay</code>' in text
    assert r"$r = \min\left(\frac{\mathrm{thr}}{\mathrm{thr}^*}" in text
    assert "``thr* :meth:`x` ``" in text  # code spans are left as they are
    assert r"thr\* / max thr\*" in text and ":meth:" not in text.replace("``thr* :meth:", "")


def test_the_results_page_links_resolve_from_the_site() -> None:
    site_hooks = _hooks("site")
    text = site_hooks.include("benchmarks/RESULTS.md", "results")
    assert "](../figures/fig5_qos_cdf.png)" in text and "](../docs/" not in text
