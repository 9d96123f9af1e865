"""Every page of the explorer at 1280 and 390 px in real headless Chromium (issue 13, "any screen").

The pages come from the app's ``url_map``: every GET route that answers with a whole HTML page
(not the JSON API, not a CSV, SVG or JSON download, not a redirect, not a fragment the page
fetches). A route's ``<world>`` is filled with every stored world; its other arguments (a node
label, a scenario ...) from links on pages already listed: once per world for a world's page,
every linked value (up to PER_ROUTE) otherwise. A page added later is picked up without editing
this file, and a GET route no page links to fails :func:`test_every_get_page_is_found` by name.

For each page and width: the status, a screenshot under the test's tmp_path (listed in
``screens-<width>-<shard>.txt``, printed at the end), no console or page error, no horizontal page
overflow (a wide table or grid scrolls inside its own box), a visible focus ring on the first
three Tab stops and on every tab stop focused in turn, and WCAG AA contrast (4.5:1, 3:1 for large
text) for every visible text element, measured in the page from ``getComputedStyle`` against the
nearest opaque background (a shape under an SVG label, or its halo).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from test_browser import Watched, browser, live_server  # noqa: F401

from cfgraph.store import open_store
from cfgraph.web import create_app

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)
#: Downloads and data, not pages.
NOT_PAGES = (".csv", ".json", ".svg", ".png", ".ico", ".txt")
#: Pages of one route without a world (scenarios, say) checked at most.
PER_ROUTE = 12
#: Tab stops whose focus ring is checked on each page.
TAB_STOPS = 3

#: In-page helpers: a short CSS path for an element, and the colour arithmetic of WCAG 2.2 (relative
#: luminance, contrast ratio, alpha compositing).
HELPERS = r"""
const describe = (el) => {
  const parts = [];
  for (let n = el; n && n.nodeType === 1 && parts.length < 4 && n !== document.body; n = n.parentElement) {
    let part = n.tagName.toLowerCase();
    if (n.id) { parts.unshift(part + '#' + n.id); break; }
    const cls = (n.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 2);
    if (cls.length) part += '.' + cls.join('.');
    parts.unshift(part);
  }
  return parts.join(' > ');
};
const parse = (text) => {
  const m = /rgba?\(([^)]+)\)/.exec(text || '');
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const lum = (c) => {
  const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
const hex = (c) => '#' + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
"""

#: Every visible text element's contrast: offenders (below 4.5:1, or 3:1 for large text), grouped by
#: selector and colours. A background image (a gradient) cannot be measured: those are counted apart.
CONTRAST_JS = "() => {" + HELPERS + r"""
  const SVG = 'http://www.w3.org/2000/svg';
  const backdrop = (el) => {           // the layers under el, composited from the nearest opaque one
    const layers = [];
    let n = el;
    if (el.namespaceURI === SVG) {     // svg text: a shape under it in the same group, or its halo
      const s = getComputedStyle(el);
      const stroke = parse(s.stroke);
      if (s.paintOrder.startsWith('stroke') && stroke && stroke[3] > 0 && parseFloat(s.strokeWidth) >= 2) {
        return stroke;
      }
      const box = el.getBBox();
      const point = new DOMPoint(box.x + box.width / 2, box.y + box.height / 2);
      // shapes painted before the text: its earlier siblings, then (a chart may keep its shapes
      // and its labels in sibling groups) the shapes inside its ancestors' earlier siblings
      const under = [];
      for (let a = el; a && a.namespaceURI === SVG && a.tagName.toLowerCase() !== 'svg'; a = a.parentElement) {
        for (let sib = a.previousElementSibling; sib; sib = sib.previousElementSibling) {
          if (sib instanceof SVGGeometryElement) under.push(sib);
          else under.push(...Array.from(sib.querySelectorAll('*')).filter((x) => x instanceof SVGGeometryElement).reverse());
        }
      }
      for (const sib of under) {
        if (sib.isPointInFill(point)) {
          const fill = parse(getComputedStyle(sib).fill);
          if (fill && fill[3] > 0) {
            fill[3] *= parseFloat(getComputedStyle(sib).fillOpacity);
            layers.push(fill);
            if (fill[3] >= 1) break;
          }
        }
      }
      while (n && n.namespaceURI === SVG && n.tagName.toLowerCase() !== 'svg') n = n.parentElement;
    }
    if (!layers.length || layers[layers.length - 1][3] < 1) {
      for (; n && n.nodeType === 1; n = n.parentElement) {
        const s = getComputedStyle(n);
        if (s.backgroundImage && s.backgroundImage !== 'none' && !s.backgroundImage.startsWith('url(')) return null;
        const c = parse(s.backgroundColor);
        if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
      }
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const offenders = new Map();
  let checked = 0, unmeasured = 0;
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TITLE', 'OPTION', 'TEMPLATE']);
  for (const el of document.body.querySelectorAll('*')) {
    if (skip.has(el.tagName) || el.closest('[aria-hidden="true"]')) continue;
    if (!Array.from(el.childNodes).some(t => t.nodeType === 3 && t.textContent.trim())) continue;
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    if (el.disabled || el.closest('[disabled]')) continue;  // WCAG exempts inactive controls
    const s = getComputedStyle(el);
    const size = parseFloat(s.fontSize);
    const r = el.getBoundingClientRect();
    if (!size || r.width < 2 || r.height < 2) continue;
    if (r.bottom + window.scrollY < 0 || r.right + window.scrollX < 0) continue;  // parked off the page
    let fg = parse(el.namespaceURI === SVG ? s.fill : s.color);
    if (!fg) continue;
    let opacity = 1;
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) opacity *= parseFloat(getComputedStyle(n).opacity);
    fg = [fg[0], fg[1], fg[2], fg[3] * opacity];
    const bg = backdrop(el);
    if (!bg) { unmeasured++; continue; }
    checked++;
    const large = size >= 24 || (size >= 18.66 && parseInt(s.fontWeight, 10) >= 700);
    const need = large ? 3 : 4.5;
    const value = ratio(over(fg, bg), bg);
    if (value < need - 0.005) {
      const key = describe(el) + ' ' + hex(over(fg, bg)) + ' on ' + hex(bg);
      const seen = offenders.get(key);
      if (seen) seen.count++;
      else offenders.set(key, {where: describe(el), text: el.textContent.trim().slice(0, 40),
                               fg: hex(over(fg, bg)), bg: hex(bg), ratio: Math.round(value * 100) / 100,
                               need, count: 1});
    }
  }
  return {checked, unmeasured, offenders: Array.from(offenders.values()).slice(0, 20)};
}"""

#: The focused element and whether a ring shows: an outline of 2 px or more in a visible colour, or a box shadow.
FOCUS_JS = "() => {" + HELPERS + r"""
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {ok: false, where: 'nothing focused'};
  const s = getComputedStyle(el);
  const colour = parse(s.outlineColor);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && colour && colour[3] > 0;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  const r = el.getBoundingClientRect();
  return {ok: Boolean(outline || shadow) && r.width > 0 && r.height > 0, where: describe(el),
          outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor, shadow: s.boxShadow};
}"""

#: Every tab stop of the page (up to 400), focused in turn after a Tab press (so :focus-visible applies):
#: those that show no ring, grouped by selector.
ALL_FOCUS_JS = "() => {" + HELPERS + r"""
  const ring = (el) => {
    const s = getComputedStyle(el);
    const colour = parse(s.outlineColor);
    return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && colour && colour[3] > 0)
      || (s.boxShadow && s.boxShadow !== 'none');
  };
  const stops = Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]'))
    .filter(el => el.tabIndex >= 0 && !el.disabled && el.checkVisibility({checkVisibilityCSS: true})
            && el.getBoundingClientRect().width > 0).slice(0, 400);
  const missing = new Map();
  for (const el of stops) {
    el.focus({preventScroll: true});
    if (document.activeElement !== el) continue;  // not focusable after all
    if (!ring(el)) missing.set(describe(el), (missing.get(describe(el)) || 0) + 1);
  }
  return {stops: stops.length, missing: Array.from(missing.entries()).slice(0, 10)};
}"""

#: Elements that stick out past the window's right edge with no scroll box around them.
OVERFLOW_JS = "() => {" + HELPERS + r"""
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1) continue;
    let boxed = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(p).overflowX)) { boxed = true; break; }
    }
    if (!boxed) out.push(describe(el) + ' (right edge ' + Math.round(r.right) + ' px)');
  }
  return out.slice(0, 8);
}"""


def page_paths(app, worlds: list[str]) -> tuple[list[str], list[str]]:
    """The whole-HTML GET pages of ``app``: (paths, routes no path could be found for).

    ``<world>`` takes every name in ``worlds``; any other argument the first value that a link on
    an already found page gives (followed three levels deep). A route that redirects or answers
    with a fragment or data counts as covered, not as a page.
    """
    rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint != "static"
             and not r.rule.startswith("/api/") and not r.rule.endswith(NOT_PAGES)]
    arguments = {r.endpoint: set(r.arguments) for r in rules}
    adapter = app.url_map.bind("localhost")
    client = app.test_client()
    pages: dict[tuple, str] = {}  # (endpoint, world) -> path
    rejected: set[tuple] = set()

    def consider(endpoint, values, path):
        # A world's page once per world (its first linked node, say); a page of no world (a scenario)
        # once per linked value, up to PER_ROUTE.
        key = (endpoint, values["world"]) if "world" in values else (endpoint, path)
        if key in pages or key in rejected or sum(k[0] == endpoint for k in pages) >= PER_ROUTE:
            return
        with client.get(path) as response:
            body = response.get_data(as_text=True)
            if response.status_code == 200 and response.mimetype == "text/html" and "<html" in body[:400].lower():
                pages[key] = path
                return body
        rejected.add(key)

    queue = []
    for rule in rules:
        args = set(rule.arguments)
        if args <= {"world"}:
            for world in (worlds if args else [None]):
                values = {"world": world} if world else {}
                path = adapter.build(rule.endpoint, values)
                body = consider(rule.endpoint, values, path)
                if body:
                    queue.append(body)
    for _ in range(3):  # fill the other arguments from links on the pages found so far
        found = []
        for body in queue:
            for href in _links(body):
                try:
                    endpoint, values = adapter.match(href, method="GET")
                except Exception:  # noqa: BLE001 - another host, a static file, a 404 or a redirect
                    continue
                if not arguments.get(endpoint, set()) - {"world"} or values.get("world", worlds[0]) not in worlds:
                    continue  # not a page, already requested for every world, or another world's
                body = consider(endpoint, values, href)
                if body:
                    found.append(body)
        queue = found
    covered = {endpoint for endpoint, _ in pages} | {endpoint for endpoint, _ in rejected}
    unfilled = sorted(r.rule for r in rules if r.endpoint not in covered)
    return sorted(set(pages.values())), unfilled


def _links(html: str) -> list[str]:
    """Same-site paths (no query) linked from a page."""
    import re
    from html import unescape

    out = []
    for href in re.findall(r'href="([^"#]+)', html):
        url = urlparse(unescape(href))
        if not url.netloc and url.path.startswith("/"):
            out.append(url.path)
    return list(dict.fromkeys(out))


def shot_name(path: str, width: int) -> str:
    """A file name for a page's screenshot.

    Examples
    --------
    >>> shot_name("/world/digits-poison/node/AB", 390)
    'world_digits-poison_node_AB-390'
    >>> shot_name("/", 1280)
    'home-1280'
    """
    import re

    stem = re.sub(r"[^A-Za-z0-9.~-]+", "_", path.strip("/")) or "home"
    return f"{stem[:80]}-{width}"


def check_page(browser, base: str, path: str, width: int, shots: Path, status: int = 200) -> tuple[Path, list[str]]:
    """Open one page at one width: its screenshot and every problem found on it."""
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    page = context.new_page()
    page.set_default_timeout(20000)
    watched = Watched(page, base, shots)
    problems = []
    try:
        response = page.goto(base + path)
        if response is None or response.status != status:
            return None, [f"status {response.status if response else None}, not {status}"]
        if status != 200:  # Chromium logs the page's own status as a console error
            watched.problems = [p for p in watched.problems if f"status of {status}" not in p]
        page.wait_for_load_state("networkidle")
        # A page taller than a few screens (the 256-row grid before its window) is shot as one screen.
        whole = page.evaluate("document.documentElement.scrollHeight") <= 12000
        shot = shots / f"{shot_name(path, width)}.png"
        page.screenshot(path=str(shot), full_page=whole)
        width_now = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width_now[0] > width_now[1]:
            problems.append(f"page scrolls sideways ({width_now[0]} > {width_now[1]} px): "
                            + "; ".join(page.evaluate(OVERFLOW_JS)))
        contrast = page.evaluate(CONTRAST_JS)
        for o in contrast["offenders"]:
            problems.append(f"contrast {o['ratio']}:1 < {o['need']}:1 at {o['where']} ({o['fg']} on {o['bg']}, "
                            f"{o['count']}x, e.g. {o['text']!r})")
        if contrast["checked"] == 0:
            problems.append("no text measured")
        for stop in range(TAB_STOPS):
            page.keyboard.press("Tab")
            focus = page.evaluate(FOCUS_JS)
            if not focus["ok"]:
                problems.append(f"no focus ring at Tab {stop + 1}: {focus}")
        every = page.evaluate(ALL_FOCUS_JS)
        problems += [f"no focus ring on {where} ({n}x)" for where, n in every["missing"]]
        problems += watched.problems
        return shot, problems
    finally:
        context.close()


def run_pages(browser, base: str, paths: list, shots: Path, capsys, name: str, widths=WIDTHS) -> None:
    """Check every path (or (path, status)) at every width; write and print the screenshot manifest;
    fail with every problem."""
    report, manifest = [], []
    for item in paths:
        path, status = item if isinstance(item, tuple) else (item, 200)
        for width in widths:
            shot, problems = check_page(browser, base, path, width, shots, status)
            if shot is not None:
                manifest.append(shot.name)
            report += [f"{path} @ {width}px: {p}" for p in problems]
    listing = shots / f"{name}.txt"
    listing.write_text("\n".join(manifest) + "\n")
    with capsys.disabled():
        print(f"\n{len(manifest)} screenshots of {len(paths)} pages in {shots} (listed in {listing}):")
        print("\n".join(manifest))
        if report:
            print("problems:\n" + "\n".join(report))
    assert not report, "\n".join(report)


def _worlds(db_path) -> list[str]:
    from cfgraph.world import list_worlds

    store = open_store(db_path, create=False)
    try:
        return [w["name"] for w in list_worlds(store)]
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo_copy(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("screens") / "cfgraph.db"
    shutil.copy(demo_db, path)
    return path


@pytest.fixture(scope="module")
def demo_url(demo_copy):
    yield from live_server(demo_copy)


@pytest.fixture(scope="module")
def demo_pages(demo_copy):
    """(every page of the demo, the GET routes no page was found for)."""
    app = create_app({"DATABASE_URL": str(demo_copy), "TESTING": True})
    try:
        return page_paths(app, _worlds(demo_copy))
    finally:
        app.extensions["cfgraph.store"].close()


#: Pages beyond the routes' own: the grid's numbers on every palette, and the error pages.
EXTRA_PAGES = [f"/world/digits/grid?raw=1&palette={p}" for p in ("viridis", "heat", "greys")] + [
    ("/world/no-such-world/grid", 404), ("/no-such-page", 404), ("/sql?q=DELETE+FROM+cell", 400)]
#: The demo's pages are checked in this many slices per width (each a test of its own, well inside the timeout).
SHARDS = 3


def test_every_get_page_is_found(demo_pages):
    paths, unfilled = demo_pages
    assert not unfilled, f"GET routes with no page found (link to them, or teach page_paths): {unfilled}"
    assert "/" in paths and any(p.endswith("/grid") for p in paths), paths


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_on_the_demo(browser, demo_pages, demo_url, tmp_path, capsys, width, shard):
    pages = (demo_pages[0] + EXTRA_PAGES)[shard::SHARDS]
    run_pages(browser, demo_url, pages, tmp_path, capsys, f"screens-{width}-{shard}", widths=(width,))


@pytest.fixture(scope="module")
def n8_url(n8_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("screens-n8") / "cfgraph.db"
    shutil.copy(n8_db, path)
    yield from live_server(path)


def test_big_grid_pages_at_both_widths(browser, n8_url, tmp_path, capsys):
    """The n = 8 world's own pages (the 256 x 255 grid among them); on a phone the grid keeps
    cells a finger can tell apart, inside its own scroll box."""
    paths = ["/world/n8/grid", "/world/n8/graph", "/world/n8/values", "/world/n8/training-sets"]
    run_pages(browser, n8_url, paths, tmp_path, capsys, "screens-n8")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(n8_url + "/world/n8/grid")
        page.wait_for_load_state("networkidle")
        cell = page.locator("#grid td").first
        if cell.count():
            box = cell.bounding_box()
            assert box and box["width"] >= 10 and box["height"] >= 10, box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


#: Eight variants of iris, so the home page has a family to fold.
RECIPES = [{"kind": "corrupt", "units": ["B"], "labels": 0.3}, {"kind": "corrupt", "units": ["A", "C"], "labels": 0.5},
           {"kind": "weight", "unit": "B", "weight": 0.5}, {"kind": "weight", "unit": "C", "weight": 0.25},
           {"kind": "unlearn", "unit": "B"}, {"kind": "poison", "unit": "A"}, {"kind": "synthetic", "units": ["D"]},
           {"kind": "corrupt", "units": ["D"], "labels": 0.0, "features": 1.0}]


@pytest.fixture(scope="module")
def variants_url(iris_db, tmp_path_factory):
    from cfgraph.variants.build import build_variant

    path = tmp_path_factory.mktemp("screens-variants") / "cfgraph.db"
    shutil.copy(iris_db, path)
    store = open_store(path)
    try:
        for recipe in RECIPES:
            build_variant(store, "iris", recipe, progress=False)
    finally:
        store.close()
    yield from live_server(path)


@pytest.mark.parametrize("width", WIDTHS)
def test_home_groups_variants_under_their_parent(browser, variants_url, tmp_path, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    watched = Watched(page, variants_url, tmp_path)
    try:
        watched.goto("/")
        family = page.locator('#worlds tbody.family[data-world="iris"]')
        summary = family.locator("details.variants > summary")
        assert summary.inner_text().strip() == "8 variants of iris"
        rows = family.locator("tr.variant")
        assert rows.count() == len(RECIPES)
        assert not rows.first.is_visible()  # more than OPEN_VARIANTS: folded
        assert page.locator('#worlds tbody.family[data-world="toy"] tr.variants').count() == 0
        assert "10 worlds" in page.locator("#world-counts").inner_text()
        summary.focus()
        page.keyboard.press("Enter")  # a keyboard user opens the family too
        assert rows.first.is_visible() and rows.nth(7).is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        if width > 600:  # the whole table fits at 1280: nothing scrolls, not even inside the table's box
            assert page.evaluate("(() => { const w = document.querySelector('#worlds').parentElement;"
                                 " return w.scrollWidth <= w.clientWidth; })()")
        watched.shot(f"home-variants-{width}")
        watched.check()
    finally:
        context.close()
