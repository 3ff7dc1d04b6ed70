"""Router: property tests (hypothesis) on random fabrics and requests, and its error messages."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw.net import NETWORKS, PORT_GROUPS
from hw.params import FabricParams
from interconnect.fabric_config import unpack
from interconnect.floorplan import OPPOSITE, FabricMap
from interconnect.router import (
    CapacityError,
    Endpoint,
    NoPathError,
    PortError,
    RouteError,
    Router,
    trace,
)


def _fabric(rows, cols, vec, scal, ctrl, agcu, uturn=False, name="prop", **extra):
    return FabricMap(FabricParams.from_dict({
        "name": name, "rows": rows, "cols": cols, "lanes": 2, "agcu": {"count": agcu},
        "switch": {"vec_links": vec, "scal_links": scal, "ctrl_links": ctrl, "uturn": uturn},
        **extra}))


def _ports(fm, is_input):
    out = []
    for site in fm.all_units:
        for net in NETWORKS:
            g = PORT_GROUPS[net][0 if is_input else 1]
            out += [Endpoint(site.id, g, k, site.port_name(g, k)) for k in range(site.count(g))]
    return out


@st.composite
def requests(draw):
    rows = draw(st.integers(1, 4))
    cols = draw(st.integers(1, 4))
    fm = _fabric(rows, cols, draw(st.integers(1, 3)), draw(st.integers(0, 2)),
                 draw(st.integers(0, 2)), draw(st.integers(1, min(4, 2 * (rows + cols)))),
                 draw(st.booleans()))
    outs = _ports(fm, False)
    ins = _ports(fm, True)
    n = draw(st.integers(1, min(24, len(ins))))
    dsts = draw(st.lists(st.sampled_from(ins), min_size=1, max_size=n, unique=True))
    conns = []
    for d in dsts:
        same = [o for o in outs if o.network == d.network]
        conns.append((draw(st.sampled_from(same)), d))
    return fm, conns


def check_routing(fm, conns, routing):
    """Every route is connected, legal and within capacity; the switch configs deliver exactly the
    requested connections; the emitted config words decode back to the same selects."""
    assert len(routing.routes) == len(conns)
    users = {}
    for (src, dst), r in zip(conns, routing.routes):
        net = src.network
        assert r.connection.src == src and r.connection.dst == dst
        a = fm.attach[(src.unit, src.group, src.index)]
        b = fm.attach[(dst.unit, dst.group, dst.index)]
        hops = r.hops
        assert hops[0].switch_id == a.switch and hops[0].inp == a.port, f"{r}: wrong start"
        assert hops[-1].switch_id == b.switch and hops[-1].out == b.port, f"{r}: wrong end"
        for h, nxt in zip(hops, hops[1:]):
            assert h.out[0] != "U", f"{r}: leaves through a unit port mid-route"
            nb = fm.neighbour(h.switch_id, h.out[0])
            assert nb is not None and nb.id == nxt.switch_id, f"{r}: {h.out} is not toward {nxt}"
            assert nxt.inp == OPPOSITE[h.out[0]] + h.out[1:], f"{r}: enters on the wrong link"
        for h in hops:
            spec = fm.switch(h.switch_id).spec
            assert h.inp in spec.inputs(net) and h.out in spec.outputs(net), f"{r}: no such port"
            assert h.inp in spec.allowed(net, h.out), f"{r}: illegal select {h.inp}>{h.out}"
            key = (h.switch_id, net, h.out)
            prev = users.setdefault(key, (src, h.inp))
            assert prev == (src, h.inp), f"{r}: {key} also carries {prev} (capacity 1 signal)"
        assert r.links == len(hops) - 1
    want = {}
    for s, d in conns:
        want.setdefault(s, set()).add(d)
    assert trace(fm, routing.selects) == want
    for sid, desc in routing.switch_configs().items():
        spec = fm.switch(sid).spec
        bits = spec.layout.const(desc).as_value().value
        assert spec.decode(unpack(spec.layout, bits)) == \
            {net: routing.selects.get(sid, {}).get(net, {}) for net in desc}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_routes_are_connected_legal_within_capacity(req):
    fm, conns = req
    try:
        routing = Router(fm).route(conns)
    except NoPathError as e:
        # only legitimate when a network has no switch-to-switch links
        assert "has no links between switches" in str(e)
        return
    except CapacityError as e:
        assert "capacity exceeded" in str(e) or "no free path" in str(e)
        assert "connection " in str(e)
        return
    check_routing(fm, conns, routing)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_single_connection_takes_a_shortest_path(rows, cols, data):
    fm = _fabric(rows, cols, 1, 1, 1, 2)
    src = data.draw(st.sampled_from(_ports(fm, False)))
    dst = data.draw(st.sampled_from([p for p in _ports(fm, True) if p.network == src.network]))
    r = Router(fm).route([(src, dst)]).routes[0]
    a = fm.switch(fm.attach[(src.unit, src.group, src.index)].switch)
    b = fm.switch(fm.attach[(dst.unit, dst.group, dst.index)].switch)
    assert r.links == abs(a.row - b.row) + abs(a.col - b.col)


def test_congestion_moves_routes_off_the_shortest_path():
    """Three connections over a one-link-wide cut: the router must spread them over parallel
    paths (some longer than shortest), all within capacity."""
    fm = _fabric(2, 4, 1, 1, 1, 2, name="cong")
    conns = [("pcu_0_0.vec_out[0]", "pmu_0_3.vec_in[0]"), ("pmu_1_0.vec_out[0]", "pcu_1_3.vec_in[0]"),
             ("pmu_0_1.vec_out[0]", "pcu_1_3.vec_in[1]")]
    routing = Router(fm).route(conns)
    from interconnect.router import parse_endpoint
    check_routing(fm, [(parse_endpoint(fm, s), parse_endpoint(fm, d)) for s, d in conns], routing)


def test_route_and_packets_api():
    fm = _fabric(2, 2, 1, 1, 1, 2, name="api")
    routing = Router(fm).route([("pcu_0_0.vec_out[0]", "pmu_0_1.vec_in[0]"),
                                (("agcu_0", "scal_out", 0), ("pcu_1_1", "scal_in", 1))])
    r = routing.route_of("pcu_0_0.vec_out[0]", "pmu_0_1.vec_in[0]")
    assert [(h.switch, h.inp, h.out) for h in r.hops] == [("sw_1_1", "U0", "N0"),
                                                          ("sw_0_1", "S0", "U1")]
    bits = routing.packets()
    assert {p.unit for p in bits.packets} == {s.id for s in fm.switches}


# ---- error messages ---------------------------------------------------------------------

FM = _fabric(2, 2, 1, 0, 1, 2, name="err")


@pytest.mark.parametrize("req, exc, msg", [
    (("pcu_0_0.vec_out[3]", "pmu_0_1.vec_in[0]"), PortError,
     r"connection 0 \(pcu_0_0.vec_out\[3\] -> pmu_0_1.vec_in\[0\]\): source pcu_0_0.vec_out\[3\] "
     r"does not exist \(pcu_0_0 has vec_out\[0..0\]\)"),
    (("pcu_9_9.vec_out[0]", "pmu_0_1.vec_in[0]"), PortError,
     r"connection 0 .*: source pcu_9_9.vec_out\[0\]: no unit or switch 'pcu_9_9' in the 2x2 fabric"),
    (("pcu_0_0.vec_in[0]", "pmu_0_1.vec_in[0]"), PortError,
     r"the source pcu_0_0.vec_in\[0\] is an input; a connection starts at an output port"),
    (("pcu_0_0.vec_out[0]", "pmu_0_1.vec_out[0]"), PortError,
     r"the destination pmu_0_1.vec_out\[0\] is an output"),
    (("pcu_0_0.vec_out[0]", "pmu_0_1.scal_in[0]"), PortError,
     r"the source is on the vector network, the destination on the scalar network"),
    (("pcu_0_0.vec_out[0]", "pmu_0_1.foo_in[0]"), PortError, r"no port group 'foo_in'"),
    (("pcu_0_0 vec_out 0", "pmu_0_1.vec_in[0]"), PortError, r"write ports as 'unit.group\[k\]'"),
    (("pcu_0_0.scal_out[0]", "pmu_1_0.scal_in[0]"), NoPathError,
     r"connection 0 \(pcu_0_0.scal_out\[0\] -> pmu_1_0.scal_in\[0\]\): no path: the scalar network "
     r"has no links between switches \(switch.scal_links = 0\) and pcu_0_0.scal_out\[0\] is on "
     r"sw_1_1 while pmu_1_0.scal_in\[0\] is on sw_1_0"),
])
def test_error_names_the_connection(req, exc, msg):
    with pytest.raises(exc, match=msg):
        Router(FM).route([req])


def test_input_driven_twice():
    with pytest.raises(PortError, match=r"connection 1 \(pcu_1_1.vec_out\[0\] -> pmu_0_1.vec_in\[0\]\): "
                                        r"pmu_0_1.vec_in\[0\] is already driven by "
                                        r"pcu_0_0.vec_out\[0\] \(connection 0\)"):
        Router(FM).route([("pcu_0_0.vec_out[0]", "pmu_0_1.vec_in[0]"),
                          ("pcu_1_1.vec_out[0]", "pmu_0_1.vec_in[0]")])


def test_capacity_exceeded_names_link_and_connections():
    """Three vector connections across the middle of a 1x4 fabric with one link per direction:
    the cut between switch columns 2 and 3 has only two eastward links (rows 0 and 1)."""
    fm = _fabric(1, 4, 1, 1, 1, 1, name="cap", pmu={"vec_in": 2})
    srcs = ["pcu_0_0.vec_out[0]", "pmu_0_1.vec_out[0]", "agcu_0.vec_out[0]"]      # columns <= 2
    dsts = ["pcu_0_2.vec_in[1]", "pmu_0_3.vec_in[0]", "pmu_0_3.vec_in[1]"]        # columns >= 3
    for s_, d_ in zip(srcs, dsts):
        assert fm.switch(fm.attachment(*_split(s_)).switch).col <= 2
        assert fm.switch(fm.attachment(*_split(d_)).switch).col >= 3
    with pytest.raises(CapacityError, match=r"capacity exceeded: .* link\(s\) still overused after "
                                            r"40 iterations; e.g. sw_\d_\d -> sw_\d_\d \(vector, 1 "
                                            r"link\(s\) per direction\) is needed by connection \d "
                                            r"\(.* -> .*\), connection \d"):
        Router(fm).route(list(zip(srcs, dsts)))


def _split(port):
    unit, rest = port.split(".")
    group, k = rest.rstrip("]").split("[")
    return unit, group, int(k)


def test_route_error_is_a_value_error():
    assert issubclass(RouteError, ValueError)
