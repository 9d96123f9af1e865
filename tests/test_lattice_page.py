"""The lattice page beyond the whole-diagram limit (issue 13): whole lens paths, one colour scale,
bad parameters inline, honest size. Flask's test client on the n = 8 world (256 training sets)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, parse_qsl, urlparse

import numpy as np
import pytest

from cfgraph import lattice
from cfgraph.store import open_store
from cfgraph.web import create_app
from cfgraph.web.charts import Scale
from cfgraph.web.lattice_layout import LAYER_WINDOW, layered_layout
from cfgraph.web.lenses import LENSES
from cfgraph.world import World

N = 8
LETTERS = "ABCDEFGH"


@pytest.fixture(scope="module")
def app(n8_db):
    app = create_app({"DATABASE_URL": str(n8_db), "TESTING": True})
    yield app
    app.extensions["cfgraph.store"].close()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def n8(n8_db):
    """The stored n8 lattice table (every cell, every slice) for known values."""
    store = open_store(n8_db, create=False)
    with World.open(store, "n8") as w:
        table = w.table()
    store.close()
    return table


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def drawn(body) -> list[tuple[str, float, str]]:
    """The drawn nodes: (label, value, step) from each node link."""
    found = re.findall(r'<a class="node-link" href="[^"]+" data-label="([^"]+)" data-value="([^"]+)"'
                       r'(?: data-step="(\d+)")?', body)
    return [(label, float(value), step) for label, value, step in found]


def stepped(body) -> list[tuple[str, float]]:
    """The lens path's nodes in step order."""
    return [(label, value) for label, value, step in sorted((n for n in drawn(body) if n[2]), key=lambda n: int(n[2]))]


def scale_bounds(body) -> tuple[float, float]:
    m = re.search(r'id="scale" data-lo="([^"]+)" data-hi="([^"]+)"', body)
    return float(m.group(1)), float(m.group(2))


def col(n8, slice_name=None):
    return n8.column(slice_name or n8.slices[0])


# ------------------------------------------------------------------ whole lens paths


def test_the_strike_path_is_drawn_whole_from_the_full_set_down(client, n8):
    body = page(client, "/world/n8/graph?lens=strike")  # at ∅ the coalition is every unit
    expected = lattice.removal_path(list(range(N)), (1 << N) - 1)
    path = stepped(body)
    assert [label for label, _ in path] == [lattice.mask_label(m, LETTERS) for m in expected]
    assert len(path) == N + 1 and path[0][0] == LETTERS and path[-1][0] == "∅"
    np.testing.assert_allclose([v for _, v in path], col(n8)[expected])
    # each step's drop is labelled on its edge, and the lens table lists the same training sets
    assert body.count('<line class="edge hi"') == N
    table = re.search(r'<section id="lens">.*?</section>', body, re.S).group(0)
    assert re.findall(r"<tr><td>\d+</td><td>[A-H]</td><td>([^<]+)</td>", table) == [path[t][0] for t in range(1, N + 1)]


def test_a_coalitions_strike_from_the_full_set_has_its_nodes_in_order(client, n8):
    body = page(client, "/world/n8/graph?node=ABCDEFGH&lens=strike&coalition=ACE&slice=AB")
    expected = lattice.removal_path([0, 2, 4], (1 << N) - 1)
    assert [label for label, _ in stepped(body)] == ["ABCDEFGH", "BCDEFGH", "BDEFGH", "BDFGH"]
    np.testing.assert_allclose([v for _, v in stepped(body)], col(n8, "AB")[expected])
    summary = re.search(r'id="lens-summary">([^<]+)<', body).group(1)
    assert "withdraws from ABCDEFGH" in html.unescape(summary)


def test_the_permutation_path_has_n_plus_one_nodes_with_their_stored_values(client, n8):
    body = page(client, "/world/n8/graph?lens=permutation&order=HGFEDCBA&slice=C")
    path = stepped(body)
    expected = lattice.permutation_path([7, 6, 5, 4, 3, 2, 1, 0])
    assert len(path) == N + 1
    assert [label for label, _ in path] == [lattice.mask_label(m, LETTERS) for m in expected]
    np.testing.assert_allclose([v for _, v in path], col(n8, "C")[expected])
    # every drawn node, path or not, shows its stored value under it
    for label, value, _ in drawn(body):
        assert value == pytest.approx(col(n8, "C")[lattice.parse_label(label, LETTERS)], nan_ok=True)
    assert body.count('<text class="value"') == len(drawn(body))


def test_the_square_and_ablation_lenses_draw_their_nodes_beside_the_neighbourhood(client):
    square = {label for label, _, _ in drawn(page(client, "/world/n8/graph?node=CD&lens=square&unit=A&pair=B"))}
    assert {"CD", "ACD", "BCD", "ABCD"} <= square  # ABCD is two steps up: beyond the neighbourhood
    ablation = {label for label, _, _ in drawn(page(client, "/world/n8/graph?node=ABC&lens=ablation&unit=B"))}
    assert {"ABC", "AC"} <= ablation


def test_a_wide_layer_and_the_sweep_are_windowed_and_say_so(client, n8):
    body = page(client, "/world/n8/graph?lens=layer&k=4")
    note = html.unescape(re.search(r'id="window-note">([^<]+)<', body).group(1))
    layer = [n for n in drawn(body) if len(n[0]) == 4]
    assert len(layer) == LAYER_WINDOW and "holds 70 training sets" in note and f"the {LAYER_WINDOW} best scored" in note
    best = np.sort(col(n8)[lattice.layer(N, 4)])[::-1][:LAYER_WINDOW]
    np.testing.assert_allclose(sorted((v for _, v, _ in layer), reverse=True), best)
    sweep = page(client, "/world/n8/graph?lens=sweep&unit=C&node=AB")
    note = html.unescape(re.search(r'id="window-note">([^<]+)<', sweep).group(1))
    shown = int(re.search(r"shows (\d+) of them", note).group(1))
    assert "has 128 edges" in note and 0 < shown < 128
    assert sweep.count('<a class="edge-link"') == shown  # each drawn sweep edge is a link
    # the edges at the current node come first: AB -> ABC is drawn
    assert 'aria-label="edge AB to ABC:' in sweep


def test_the_layered_window_never_passes_its_width_except_for_kept_nodes():
    labels = lattice.all_labels(LETTERS)
    optional = [(int(m),) for m in lattice.layer(N, 4)]
    win = layered_layout([0, 1, 3], optional, labels, window=5)
    by_size = np.bincount([p.mask.bit_count() for p in win.placed])
    assert by_size[4] == 5 and win.groups_drawn == 5 and win.groups_left == 65
    kept = [int(m) for m in lattice.layer(N, 1)]  # 8 kept in one layer: all drawn beyond the window
    assert len(layered_layout(kept, [], labels, window=5).placed) == 8


# ------------------------------------------------------------------ one colour scale


def test_the_colour_scale_is_the_worlds_and_stays_while_walking(client, n8):
    urls = ["/world/n8/graph", "/world/n8/graph?node=ABC&path=∅,A,AB,ABC",
            "/world/n8/graph?node=ABCDEFGH&lens=strike",
            "/world/n8/graph?node=H&lens=permutation&order=BADCFEHG", "/world/n8/graph?node=DE&slice=ABC"]
    bounds = {scale_bounds(page(client, url)) for url in urls}
    assert len(bounds) == 1
    lo, hi = bounds.pop()
    assert (lo, hi) == (pytest.approx(np.nanmin(n8.values)), pytest.approx(np.nanmax(n8.values)))
    # a training set drawn on two pages has the same colour on both
    scale = Scale(lo, hi)
    value = col(n8)[0b111]
    for url in ("/world/n8/graph?node=ABC", "/world/n8/graph?node=AB"):
        circle = re.search(r'data-label="ABC".*?<circle class="(c\d|m)"', page(client, url), re.S).group(1)
        assert circle == scale.css(float(value))
    legend = page(client, "/world/n8/graph?node=ABC")
    assert 'id="scale-note">One colour scale for n8' in legend and legend.count('class="swatch c') == 10


# ------------------------------------------------------------------ bad parameters, inline


@pytest.mark.parametrize("query, param, message", [
    ("unit=Q&lens=sweep", "unit", "unknown unit 'Q'"),
    ("lens=strike&coalition=QZ", "coalition", "unknown unit 'Q'"),
    ("lens=strike&coalition=∅", "lens", "a data strike needs a non-empty coalition"),
    ("lens=layer&k=9", "k", "k=9 is out of range 0..8"),
    ("lens=permutation&order=AABCDEFG", "order", "order must name every unit once"),
    ("lens=zigzag", "lens", "unknown lens 'zigzag'"),
    ("node=ABX", "node", "unknown unit 'X'"),
    ("path=A,Q", "path", "unknown unit 'Q'"),
    ("slice=nope", "slice", "no evaluation slice 'nope'"),
    ("alpha=x", "alpha", "alpha must be a number"),
])
def test_a_bad_parameter_is_named_inline_and_the_page_stays_usable(client, query, param, message):
    body = page(client, f"/world/n8/graph?{query}", status=400)
    errors = re.search(r'<div id="param-errors".*?</div>', body, re.S).group(0)
    found = dict(re.findall(r'<p class="error" role="alert" data-param="([^"]+)">([^<]+)</p>', errors))
    assert message in html.unescape(found[param])
    # the controls and the drawing are all there, after the message
    assert body.index('id="param-errors"') < body.index('id="slice-form"') < body.index('id="lens-form"')
    assert 'id="lattice"' in body and 'id="move-A"' in body and len(drawn(body)) >= 1
    # and no link on the page carries the refused value on (a lens button names its own lens)
    bad = dict(parse_qsl(query))[param] if param in dict(parse_qsl(query)) else None
    if bad is not None and not (param == "lens" and bad in LENSES):
        for href in re.findall(r'href="([^"]+)"', body):
            assert parse_qs(urlparse(html.unescape(href)).query).get(param) != [bad], href
    response = client.get(f"/api/worlds/n8/graph?{query}")
    assert response.status_code in (400, 404) and message in response.json["error"]


def test_several_bad_parameters_are_each_named_and_links_drop_them(client):
    body = page(client, "/world/n8/graph?unit=Q&k=99&lens=nope&node=XYZ&order=AAB&coalition=Q&slice=zz", status=400)
    params = re.findall(r'<p class="error" role="alert" data-param="([^"]+)">', body)
    assert params == ["slice", "node", "lens", "unit", "coalition", "k", "order"]
    assert 'id="node-label">∅<' in body  # the default node
    moves = re.search(r'id="move-A" class="button add" href="([^"]+)"', body).group(1)
    assert "unit=" not in moves and "k=" not in moves and "slice=" not in moves and "node=A&" in html.unescape(moves)


def test_an_unknown_world_is_still_the_error_page(client):
    assert client.get("/world/nope/graph").status_code == 404


# ------------------------------------------------------------------ honest size, keyboard


def test_the_page_says_how_many_training_sets_exist_are_stored_and_are_shown(client):
    for url in ("/world/n8/graph", "/world/n8/graph?lens=strike", "/world/n8/graph?lens=layer&k=4"):
        body = page(client, url)
        size = " ".join(re.search(r'id="lattice-size">(.*?)</p>', body, re.S).group(1).split())
        assert f"256 training sets exist, 256 stored, showing {len(drawn(body))}:" in size
        assert "too large to draw whole" in size


def test_every_node_and_lens_edge_is_a_named_link(client):
    body = page(client, "/world/n8/graph?node=ABCDEFGH&lens=strike&coalition=ACE")
    nodes = re.findall(r'<a class="node-link" href="([^"]+)"[^>]* aria-label="([^"]+)"', body)
    assert len(nodes) == len(drawn(body)) and all(href and name for href, name in nodes)
    edges = re.findall(r'<a class="edge-link" href="([^"]+)" aria-label="([^"]+)"', body)
    assert len(edges) == 3 and all("lens=ablation" in html.unescape(h) for h, _ in edges)
    assert 'role="group"' in body  # not role="img", which would hide the links from assistive technology
    assert re.search(r'<form class="toolbar" id="lens-form".*?<select name="lens"', body, re.S)


def test_small_worlds_still_draw_the_whole_diagram(iris_db):
    app = create_app({"DATABASE_URL": str(iris_db), "TESTING": True})
    try:
        body = app.test_client().get("/world/iris/graph?slice=all&lens=strike").get_data(as_text=True)
        assert len(drawn(body)) == 16 and "All 16 training sets drawn" in body
    finally:
        app.extensions["cfgraph.store"].close()


# ------------------------------------------------------------------ a sampled world


@pytest.fixture(scope="module")
def sampled_client(iris_db, tmp_path_factory):
    from test_web_sampled import build_sampled_db

    path = build_sampled_db(iris_db, tmp_path_factory.mktemp("lattice-sampled") / "cfgraph.db")
    app = create_app({"DATABASE_URL": str(path), "TESTING": True})
    yield app.test_client()
    app.extensions["cfgraph.store"].close()


def test_a_sampled_worlds_page_is_honest_keeps_its_scale_and_names_bad_parameters(sampled_client):
    client = sampled_client
    first = page(client, "/world/points/graph")
    data = client.get("/api/worlds/points/graph").get_json()
    size = " ".join(re.search(r'id="lattice-size">(.*?)</span>', first, re.S).group(1).split())
    links = re.findall(r'<a class="node-link" href="([^"]+)" data-label="([^"]+)"', first)
    assert size == f"2^45 training sets exist, {data['stored']} stored, showing {len(links)}"
    walked = page(client, html.unescape(links[-1][0]))
    assert scale_bounds(walked) == scale_bounds(first) == (data["scale"]["lo"], data["scale"]["hi"])
    bad = page(client, "/world/points/graph?node=nope&seed=77", status=400)
    params = re.findall(r'<p class="error" role="alert" data-param="([^"]+)">', bad)
    assert params == ["node", "seed"] and 'id="slice-form"' in bad and 'id="lattice"' in bad
    shown = "∅" if data["node"]["size"] == 0 else data["node"]["label"]  # the empty set is shown as ∅
    assert f'id="node-label">{shown}<' in bad  # the default training set
    assert client.get("/api/worlds/points/graph?node=nope").status_code == 404


# ------------------------------------------------------------------ probe findings (issue 13, FIX-2)


@pytest.mark.parametrize("query, named", [
    ("lens=square&unit=A&pair=A", "pair=A is the focus unit A: the interaction square needs two distinct units"),
    ("lens=square&node=C&pair=C", "pair=C is the focus unit C (with no unit= the focus unit is the node's first unit"),
])
def test_a_pair_that_is_not_two_distinct_units_is_named_inline(client, query, named):
    body = page(client, f"/world/n8/graph?{query}", status=400)
    found = dict(re.findall(r'<p class="error" role="alert" data-param="([^"]+)">([^<]+)</p>', body))
    assert named in html.unescape(found["pair"])
    # the square is still drawn, on the focus unit and the next one (the default second unit)
    assert re.search(r'id="lens-summary">units ([A-H]) and ([A-H]) over', body).group(1) != \
        re.search(r'id="lens-summary">units ([A-H]) and ([A-H]) over', body).group(2)
    assert "must differ from i" in body  # the form explains the focus unit and the second unit
    assert client.get(f"/api/worlds/n8/graph?{query}").status_code == 400
    # the pair matters to the square only: another lens with pair = unit is not refused
    assert client.get("/world/n8/graph?lens=sweep&unit=B&pair=B").status_code == 200


def delta_labels(body) -> list[tuple[float, float, str]]:
    return [(float(x), float(y), t) for x, y, t in
            re.findall(r'<text class="delta" x="([^"]+)" y="([^"]+)">([^<]+)</text>', body)]


def boxes_meet(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_box(x, y, text, char=6.2, height=12.0):
    """A 10 px label's box: digits and signs are at most 6.2 px wide (DejaVu Sans: 6.36 at 10 px; rounding)."""
    return (x - char * len(text) / 2, y - height / 2, x + char * len(text) / 2, y + height / 2)


@pytest.mark.parametrize("url", ["/world/n8/graph?lens=square&unit=A&pair=B",
                                 "/world/n8/graph?node=CD&lens=square&unit=A&pair=B",
                                 "/world/n8/graph?node=ABCDEFGH&lens=strike&coalition=ACE&path=ABCDEFGH,BCDEFGH,BDEFGH",
                                 "/world/n8/graph?lens=permutation&order=HGFEDCBA"])
def test_edge_changes_sit_beside_their_edges_clear_of_node_labels_and_each_other(client, url):
    body = page(client, url)
    deltas = delta_labels(body)
    assert deltas and len({(x, y) for x, y, _ in deltas}) == len(deltas)
    boxes = [label_box(x, y, t) for x, y, t in deltas]
    assert not any(boxes_meet(a, b) for k, a in enumerate(boxes) for b in boxes[k + 1:])
    nodes = re.findall(r'<circle class="[^"]+" cx="([^"]+)" cy="([^"]+)" r="([^"]+)"></circle>\s*'
                       r'<text class="outside" x="[^"]+" y="([^"]+)">([^<]+)</text>\s*'
                       r'<text class="value" x="[^"]+" y="([^"]+)">([^<]+)</text>', body)
    assert nodes
    for cx, cy, r, ty, label, vy, value in nodes:
        cx, cy, r = float(cx), float(cy), float(r)
        written = [(cx - r, cy - r, cx + r, cy + r), label_box(cx, float(ty), label, char=6.6, height=13),
                   label_box(cx, float(vy), value)]
        assert not any(boxes_meet(b, w) for b in boxes for w in written), (label, deltas)
    # each change is off its own edge's line, beside the edge's middle
    edges = re.findall(r'<line class="edge hi" x1="([^"]+)" y1="([^"]+)" x2="([^"]+)" y2="([^"]+)">', body)
    assert len(edges) == len(deltas)
    for x, y, _ in deltas:
        near = min(np.hypot(x - (float(a) + float(c)) / 2, y - (float(b) + float(d)) / 2) for a, b, c, d in edges)
        assert near < 60


def test_a_sampled_worlds_page_names_every_bad_parameter_inline(sampled_client):
    body = page(sampled_client, "/world/points/graph?lens=evil&path=∅,ZZ", status=400)
    found = dict(re.findall(r'<p class="error" role="alert" data-param="([^"]+)">([^<]+)</p>', body))
    assert set(found) == {"lens", "path"}
    assert "unknown lens 'evil'" in html.unescape(found["lens"]) and "'ZZ'" in html.unescape(found["path"])
    body = page(sampled_client, "/world/points/graph?lens=strike&slice=zz&metric=nope&seed=77&node=nope",
                status=400)
    params = re.findall(r'<p class="error" role="alert" data-param="([^"]+)">', body)
    assert sorted(params) == ["lens", "metric", "node", "seed", "slice"]
    assert "drawn on exhaustive worlds only" in html.unescape(body)
    assert 'id="lattice"' in body and 'id="slice-form"' in body
    for href in re.findall(r'<a class="node-link" href="([^"]+)"', body):  # links leave the refused values
        query = parse_qs(urlparse(html.unescape(href)).query)
        assert "lens" not in query and "slice" not in query and query.get("seed") != ["77"]
    assert sampled_client.get("/api/worlds/points/graph?lens=strike").status_code == 400


def test_a_sampled_worlds_empty_training_set_is_shown_as_the_empty_set_sign(sampled_client):
    stored = sampled_client.get("/api/worlds/points/graph?node=∅").get_json()["node"]
    assert stored["size"] == 0 and stored["label"].startswith("t")  # stored by its digest label
    for url in ("/world/points/graph?node=∅", f"/world/points/graph?node={stored['label']}"):
        body = page(sampled_client, url)
        assert 'id="node-label">∅<' in body and stored["label"] not in re.search(
            r'<svg class="lattice.*?</svg>', body, re.S).group(0).split('href="')[0]
        assert re.search(r'<text class="outside" x="[^"]+" y="[^"]+">∅</text>', body)
    # walking up from ∅ and back down: the path lists ∅, and a path naming ∅ resolves
    body = page(sampled_client, "/world/points/graph?node=∅")
    up = html.unescape(re.findall(r'<a class="node-link" href="([^"]+)"', body)[1])
    walked = page(sampled_client, up)
    path = re.search(r'<section id="path">.*?</section>', walked, re.S).group(0)
    assert re.findall(r"<tr><td>\d+</td><td>([^<]+)</td>", path)[0] == "∅"
    assert parse_qs(urlparse(up).query)["path"][0].split(",")[0] == stored["label"]
    label = parse_qs(urlparse(up).query)["node"][0]
    again = page(sampled_client, f"/world/points/graph?node={label}&path=∅,{label}")
    assert re.findall(r"<tr><td>\d+</td><td>([^<]+)</td>", again.split('<section id="path">')[1])[:2] == ["∅", label]
