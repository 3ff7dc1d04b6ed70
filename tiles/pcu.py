"""The Pattern Compute Unit (PCU) generator (docs/architecture.md §3).

A PCU is ``S`` stages × ``L`` SIMD lanes of functional units (:class:`tiles.pcu_fu.LaneFU`), one
opcode per stage, ``R`` pipeline registers per lane carried down the stages, a counter chain that
drives iterations, input FIFOs, output FIFOs, a per-lane accumulator for folds, the baseline
reduction-tree network and the extension networks selected by :class:`hw.params.pcu.PCUParams`
(``systolic``, ``butterfly``, ``scan``, ``tail``). Its configuration (one
``amaranth.lib.data`` layout, :class:`tiles.pcu_isa.Isa`) and argument registers sit in one
:class:`hw.config.ConfigStore` on the configuration ring; ``tiles.pcu_asm`` assembles it.

Execution model
---------------
*Issue-gated, free-running pipeline.* The datapath never stalls: every stage is a fixed-latency
pipeline (the slowest operator class built into it sets its latency, or ``min_stage_latency``)
that advances every cycle and carries a valid bit. An *iteration* is issued ("fires") when

* the unit is running (``start`` pulse through the ring; it stops after the iteration on which
  every counter wraps, or never if the outermost count is 0),
* every vector/scalar input the configuration uses has a word (inputs are popped on the iterations
  their ``when`` field selects and otherwise peeked),
* every output this iteration will write has space: ``level + in-flight < depth`` (each output FIFO
  is deeper than the pipeline, so results are never dropped and a full-rate stream never stalls),
* token credits allow it (``cin``: an up/down counter per control input, consumed by the first
  iteration of each block of counter ``lvl``),
* at least ``ii`` cycles passed since the previous issue (1 unless the program asks for more;
  the scan carry closes its loop in one cycle through a combinational copy of lane L-1's FU).

An issued iteration takes a snapshot of the input heads and counter values (the *bundle*) that
travels down the pipeline with it, so every stage can read the inputs of its own iteration.
Throughput: one iteration per cycle (``ii = 1``); latency: the sum of stage latencies + 1, plus
2 with ``end_regs`` (the issued iteration registered before stage 0, the last stage's results
before the accumulator and the outputs: for FPGA timing).

Outputs, accumulator and tokens are produced one cycle after the last stage. ``done`` rises when the
last iteration's results are written to the output FIFOs and stays high until the next start;
``busy`` is high while running or while iterations are in flight. Both are readable at
``AddressMap.CONTROL``; performance counters (:data:`tiles.pcu_isa.PERF_NAMES`) at
``AddressMap.PERF``.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from hw import arith
from hw.config import UNIT_ID_PORT, ConfigStore, UnitKind
from hw.generate import Generated, shared_unit
from hw.net import unit_members, vector_layout
from hw.params.pcu import PCUParams
from hw.stream import StreamFIFO
from hw.util import CheckedComponent

from . import pcu_simfu
from .pcu_fu import LaneFU, stage_latency
from .pcu_isa import N_PERF, AccOp, Isa, Kind, Mask, Neg, Op, OutSrc, Src

__all__ = ["PCU", "generate"]


def _pick(m, sel, options, width, name):
    """A signal equal to ``options[sel]`` (``options`` is a list of values)."""
    if len(options) == 1:
        return options[0]
    s = Signal(width, name=name)
    with m.Switch(sel):
        for i, v in enumerate(options):
            with m.Case(i):
                m.d.comb += s.eq(v)
    return s


class PCU(CheckedComponent):
    """Pattern Compute Unit. See the module docstring for the execution model and ``docs/pcu.md``.

    Parameters
    ----------
    params : PCUParams
    unit_id : int or UNIT_ID_PORT
        Its id on the configuration ring; :data:`hw.config.UNIT_ID_PORT`: an input port
        ``unit_id`` (12 bits) instead (the module shared by the PCUs of a fabric,
        :func:`hw.generate.shared_unit`).

    Ports: :func:`hw.net.unit_members` (``vec_in``/``vec_out``/``scal_in``/``scal_out``/
    ``ctrl_in``/``ctrl_out`` arrays, ``cfg_i``/``cfg_o``, ``busy``, ``done``), and ``unit_id``
    with :data:`~hw.config.UNIT_ID_PORT`.
    """

    @classmethod
    def check_arguments(cls, params, unit_id):
        if not isinstance(params, PCUParams):
            raise TypeError(f"PCU: params must be a PCUParams, not {type(params).__name__}")

    def __init__(self, params: PCUParams, unit_id: int = 0):
        self.params = params
        if unit_id != UNIT_ID_PORT:
            self.unit_id = unit_id      # else the port of that name
        self.isa = Isa(params)
        self.layout = self.isa.layout
        self.latencies = [max(stage_latency(self.isa.stage_classes(s)), params.min_stage_latency)
                          for s in range(self.isa.n_stages)]
        #: cycles from issue to outputs
        self.depth = sum(self.latencies) + 1 + 2 * int(params.end_regs)
        d = 2
        while d < self.depth + 2:
            d *= 2
        #: depth of each output FIFO (deeper than the pipeline: issue-side space accounting)
        self.out_depth = d
        p = params
        members = unit_members(p.lanes, p.vec_in, p.vec_out, p.scal_in, p.scal_out, p.ctrl_in,
                               p.ctrl_out)
        if unit_id == UNIT_ID_PORT:
            members["unit_id"] = In(12)
        super().__init__(members)

    # ------------------------------------------------------------------------------------------

    def elaborate(self, platform):
        # In a design converted to Verilog: an instance of the one module of these parameters.
        shared = shared_unit(self, platform, self.params,
                             lambda: PCU(self.params, UNIT_ID_PORT), unit_id=self.unit_id)
        if shared is not None:
            return shared
        m = Module()
        p, isa = self.params, self.isa
        L, R, C, S = p.lanes, p.regs, p.counters, p.stages
        NS = isa.n_stages
        VI, VO, SI, SO, CI, CO = p.vec_in, p.vec_out, p.scal_in, p.scal_out, p.ctrl_in, p.ctrl_out
        cb = p.counter_bits

        # ---- configuration ring stop ----------------------------------------------------------
        id_port = not isinstance(self.unit_id, int)
        m.submodules.store = cs = ConfigStore(UNIT_ID_PORT if id_port else self.unit_id,
                                              UnitKind.PCU, self.layout, n_args=p.args,
                                              n_counters=N_PERF if p.perf_counters else 0)
        if id_port:
            m.d.comb += cs.unit_id.eq(self.unit_id)
        wiring.connect(m, wiring.flipped(self.cfg_i), cs.ring_i)
        wiring.connect(m, cs.ring_o, wiring.flipped(self.cfg_o))
        cfg = cs.config
        args = [cs.args[i] for i in range(p.args)]

        # ---- input and output FIFOs -----------------------------------------------------------
        vq, sq, voq, soq = [], [], [], []
        for k in range(VI):
            q = m.submodules[f"vin{k}"] = StreamFIFO(vector_layout(L), p.fifo_depth)
            wiring.connect(m, wiring.flipped(self.vec_in[k]), q.i)
            vq.append(q)
        for k in range(SI):
            q = m.submodules[f"sin{k}"] = StreamFIFO(unsigned(32), p.fifo_depth)
            wiring.connect(m, wiring.flipped(self.scal_in[k]), q.i)
            sq.append(q)
        for k in range(VO):
            q = m.submodules[f"vout{k}"] = StreamFIFO(vector_layout(L), self.out_depth)
            wiring.connect(m, q.o, wiring.flipped(self.vec_out[k]))
            voq.append(q)
        for k in range(SO):
            q = m.submodules[f"sout{k}"] = StreamFIFO(unsigned(32), self.out_depth)
            wiring.connect(m, q.o, wiring.flipped(self.scal_out[k]))
            soq.append(q)

        # ---- counter chain --------------------------------------------------------------------
        idx = [Signal(cb, name=f"ctr{c}_idx") for c in range(C)]
        val = [Signal(cb, name=f"ctr{c}_val") for c in range(C)]
        count = []
        for c in range(C):
            cc = cfg.counters[c]
            n = Signal(cb, name=f"ctr{c}_count")
            m.d.comb += n.eq(cc.count)
            for a in range(p.args):
                with m.If(cc.count_arg == a + 1):
                    m.d.comb += n.eq(args[a][:cb])
            count.append(n)
        # The at-start / at-last flags are registers, computed one cycle ahead from the three
        # values the index can take next (stay, +1, back to 0), so the issue decision starts at
        # flip-flops instead of behind a count mux, a subtractor and a comparator (FPGA timing;
        # CHANGELOG.md, 2026-11-23). When the counter does not advance they are recomputed from
        # the index and the count, so a count argument written between runs is seen a cycle later.
        at0 = [Signal(init=1, name=f"ctr{c}_at_start") for c in range(C)]
        atl = [Signal(name=f"ctr{c}_at_last") for c in range(C)]
        last_stay, last_inc, last_zero = [], [], []
        for c in range(C):
            nz = count[c] != 0
            last_stay.append(nz & (idx[c] == count[c] - 1))
            last_inc.append(nz & ((idx[c] + 1)[:cb] == count[c] - 1))
            last_zero.append(count[c] == 1)
        wrap, first = [], []
        w, f = Const(1), Const(1)
        for c in range(C):
            w = w & atl[c]
            f = f & at0[c]
            ws = Signal(name=f"wrap{c}")
            fs = Signal(name=f"first{c}")
            m.d.comb += [ws.eq(w), fs.eq(f)]
            wrap.append(ws)
            first.append(fs)
        # every `when` value (tiles.pcu_isa.when_code) → its truth for the iteration at issue
        when_table = [Const(0), Const(1)] + wrap + at0 + atl + [~x for x in at0] + \
            [~x for x in atl]
        # the accumulator's restart: wrap<j> means "first iteration of counter j's blocks"
        restart_table = [Const(0), Const(1)] + first + when_table[2 + C:]
        n_pred = [0]

        def when_true(code, table=when_table):
            n_pred[0] += 1
            return _pick(m, code, table, 1, f"pred{n_pred[0]}")

        # ---- run control and issue ------------------------------------------------------------
        running = Signal()
        done = Signal()
        since = Signal(5, init=31)
        # inputs: needed unless never popped or predicated (skip) and the predicate is false
        vpred = [when_true(cfg.vin[k].when) for k in range(VI)]
        spred = [when_true(cfg.sin[k].when) for k in range(SI)]
        vuse = [~cfg.vin[k].skip | vpred[k] for k in range(VI)]
        suse = [~cfg.sin[k].skip | spred[k] for k in range(SI)]
        in_ok = Const(1)
        for k in range(VI):
            in_ok = in_ok & ((cfg.vin[k].when == 0) | ~vuse[k] | vq[k].o.valid)
        for k in range(SI):
            in_ok = in_ok & ((cfg.sin[k].when == 0) | ~suse[k] | sq[k].o.valid)
        in_ok_s = Signal()
        m.d.comb += in_ok_s.eq(in_ok)

        inflight_v = [Signal(range(self.out_depth + 1), name=f"vout{k}_inflight")
                      for k in range(VO)]
        inflight_s = [Signal(range(self.out_depth + 1), name=f"sout{k}_inflight")
                      for k in range(SO)]
        emit_v = [when_true(cfg.vout[k].when) for k in range(VO)]
        emit_s = [when_true(cfg.sout[k].when) for k in range(SO)]
        emit_c = [when_true(cfg.cout[k]) for k in range(CO)]
        out_ok = Const(1)
        for k in range(VO):
            out_ok = out_ok & (~emit_v[k] | ((voq[k].level + inflight_v[k]) < self.out_depth))
        for k in range(SO):
            out_ok = out_ok & (~emit_s[k] | ((soq[k].level + inflight_s[k]) < self.out_depth))
        out_ok_s = Signal()
        m.d.comb += out_ok_s.eq(out_ok)

        credit = [Signal(8, name=f"cin{k}_credit") for k in range(CI)]
        credit_ok = Const(1)
        for k in range(CI):
            cc = cfg.cin[k]
            needs = cc.en & _pick(m, cc.lvl, first, 1, f"cin{k}_first")
            credit_ok = credit_ok & (~needs | (credit[k] != 0))
        credit_ok_s = Signal()
        m.d.comb += credit_ok_s.eq(credit_ok)
        ii_ok = since >= cfg.ii

        # systolic weight loads: S load iterations before the first iteration of each block of
        # counter stat.lvl
        loads_left = Signal(range(S + 1))
        if p.systolic:
            phase_load = cfg.stat.en & (loads_left != 0)
            stat_valid = _pick(m, cfg.stat.vec, [q.o.valid for q in vq], 1, "stat_valid")
        else:
            phase_load = Const(0)
            stat_valid = Const(0)
        fire_c = Signal()
        fire_l = Signal()
        m.d.comb += [
            fire_c.eq(running & ~phase_load & in_ok_s & out_ok_s & credit_ok_s & ii_ok),
            fire_l.eq(running & phase_load & stat_valid),
        ]
        fire = fire_c | fire_l

        # pops
        for k in range(VI):
            pop = fire_c & vpred[k]
            if p.systolic:
                pop = pop | (fire_l & (cfg.stat.vec == k))
            m.d.comb += vq[k].o.ready.eq(pop)
        for k in range(SI):
            m.d.comb += sq[k].o.ready.eq(fire_c & spred[k])

        # counters advance on compute issues
        for c in range(C):
            m.d.sync += [at0[c].eq(idx[c] == 0), atl[c].eq(last_stay[c])]
        with m.If(fire_c):
            for c in range(C):
                inner = wrap[c - 1] if c else Const(1)
                with m.If(inner):
                    with m.If(atl[c]):
                        m.d.sync += [idx[c].eq(0), val[c].eq(cfg.counters[c].start),
                                     at0[c].eq(1), atl[c].eq(last_zero[c])]
                    with m.Else():
                        m.d.sync += [idx[c].eq(idx[c] + 1),
                                     val[c].eq(val[c] + cfg.counters[c].stride),
                                     at0[c].eq(0), atl[c].eq(last_inc[c])]
            with m.If(wrap[C - 1]):
                m.d.sync += running.eq(0)
            if p.systolic:
                with m.If(cfg.stat.en & _pick(m, cfg.stat.lvl, wrap, 1, "stat_wrap")):
                    m.d.sync += loads_left.eq(S)
        if p.systolic:
            with m.If(fire_l):
                m.d.sync += loads_left.eq(loads_left - 1)
        with m.If(fire):
            m.d.sync += since.eq(1)
        with m.Elif(since != 31):
            m.d.sync += since.eq(since + 1)

        # token credits
        for k in range(CI):
            cc = cfg.cin[k]
            tok = self.ctrl_in[k].valid
            use = fire_c & cc.en & _pick(m, cc.lvl, first, 1, f"cin{k}_use")
            m.d.comb += self.ctrl_in[k].ready.eq(1)
            m.d.sync += credit[k].eq(credit[k] + tok - use)

        # ---- the bundle: what an iteration carries down the pipeline --------------------------
        # Everything an iteration's later steps need from its counter state is decided at issue
        # and travels as a few flag bits: outputs written (ev/es/ec), accumulator restart (accf),
        # scan-carry restart (carf), last iteration of the run (end).
        bfields = {"valid": unsigned(1), "kind": unsigned(1), "target": unsigned(isa.stage_bits),
                   "vec": data.ArrayLayout(vector_layout(L), VI),
                   "ctr": data.ArrayLayout(unsigned(cb), C),
                   "ev": unsigned(max(VO, 1)), "es": unsigned(max(SO, 1)),
                   "ec": unsigned(max(CO, 1)), "accf": unsigned(1), "carf": unsigned(1),
                   "end": unsigned(1)}
        if SI:
            bfields["scal"] = data.ArrayLayout(unsigned(32), SI)
        blayout = data.StructLayout(bfields)
        rlayout = data.ArrayLayout(data.ArrayLayout(unsigned(32), R), L)
        b0 = Signal(blayout, name="bundle0")
        m.d.comb += [b0.valid.eq(fire), b0.kind.eq(fire_l), b0.end.eq(wrap[C - 1])]
        for k in range(VO):
            m.d.comb += b0.ev[k].eq(emit_v[k])
        for k in range(SO):
            m.d.comb += b0.es[k].eq(emit_s[k])
        for k in range(CO):
            m.d.comb += b0.ec[k].eq(emit_c[k])
        m.d.comb += b0.accf.eq(when_true(cfg.acc.when, restart_table))
        if p.scan:
            m.d.comb += b0.carf.eq(_pick(m, cfg.carry.lvl, first, 1, "carry_first"))
        m.d.comb += b0.target.eq(S - loads_left)
        # predicated inputs read `init` where their predicate is false (never on load iterations)
        for k in range(VI):
            use = Signal(name=f"vin{k}_use")
            m.d.comb += use.eq(vuse[k] | phase_load)
            for i in range(L):
                m.d.comb += b0.vec[k][i].eq(Mux(use, vq[k].o.payload[i], cfg.vin[k].init))
        for k in range(SI):
            m.d.comb += b0.scal[k].eq(Mux(suse[k], sq[k].o.payload, cfg.sin[k].init))
        for c in range(C):
            m.d.comb += b0.ctr[c].eq(val[c])

        bundle = b0
        if p.end_regs:
            # the issued iteration is registered before stage 0: the issue decision (counter
            # flags, predicates, FIFO and credit status) ends at a flip-flop instead of running
            # on through stage 0's operand muxes and the scan carry unit
            bundle = Signal(blayout, name="bundle_issued")
            m.d.sync += bundle.eq(b0)

        # ---- stages -----------------------------------------------------------------------------
        # stage 0's "previous registers": r<k> = vector input k (this iteration's word), then 0
        regs = Signal(rlayout, name="regs0")
        for i in range(L):
            for r in range(min(R, VI)):
                m.d.comb += regs[i][r].eq(bundle.vec[r][i])
        carry_reg = Signal(32, name="carry")
        carry_srcs = []       # (stage, in valid, lane L-1 operands a, b, c) for the carry unit
        for s in range(NS):
            # each stage is its own module (a readable hierarchy; per-stage area with -noflatten)
            sm = m.submodules[f"stage{s}"] = Module()
            regs, bundle = self._stage(sm, s, cfg, args, regs, bundle, carry_reg, carry_srcs)
        if p.scan:
            # The carry unit: a combinational copy of lane L-1's functional unit of the stage
            # selected by carry.stage. It computes that lane's result (= the next carry) in the
            # cycle the iteration enters the stage, so the loop closes in one cycle (ii = 1)
            # while the stage's own, pipelined FUs produce the same bits D cycles later.
            classes = sorted({c for s in range(S) for c in isa.stage_classes(s)})
            m.submodules.carry_fu = cu = LaneFU(classes, comb=True, mul=p.loop_mul)
            # The unit's opcode and stage select are registered copies of the configuration:
            # it is static while the unit runs and written through the ring cycles before the
            # START that follows it, so the copies are current before the first iteration, and
            # the configuration's fan-out stays out of the one-cycle loop (FPGA timing).
            upd = Signal()
            cop = Signal.like(cu.op, name="carry_op")
            cfrac = Signal.like(cu.frac, name="carry_frac")
            m.d.comb += [cu.op.eq(cop), cu.frac.eq(cfrac)]
            cstage = Signal.like(cfg.carry.stage, name="carry_stage")
            m.d.sync += cstage.eq(cfg.carry.stage)
            with m.Switch(cstage):
                for s, v, a, b, c in carry_srcs:
                    with m.Case(s):
                        m.d.comb += [cu.a.eq(a), cu.b.eq(b), cu.c.eq(c), upd.eq(v)]
            with m.Switch(cfg.carry.stage):
                for s, *_ in carry_srcs:
                    with m.Case(s):
                        m.d.sync += [cop.eq(cfg.stages[s].op), cfrac.eq(cfg.stages[s].frac)]
            with m.If(upd):
                m.d.sync += carry_reg.eq(cu.o)

        if p.end_regs:
            # the last stage's results registered: the accumulator's one-cycle loop and the
            # output words start at flip-flops, not behind the last stage's write-back muxes
            last_regs = Signal(rlayout, name="regs_last")
            last_b = Signal(blayout, name="bundle_last")
            m.d.sync += [last_regs.eq(regs), last_b.eq(bundle)]
            regs, bundle = last_regs, last_b

        # ---- accumulator and the output (post) stage ------------------------------------------
        fin_valid = bundle.valid & (bundle.kind == Kind.COMPUTE)
        am = m.submodules.acc = Module()
        acc_now, acc_prev = self._accumulator(am, cfg, regs, fin_valid, bundle.accf, platform)
        post = Signal(blayout, name="post")
        pregs = Signal(rlayout, name="post_regs")
        m.d.sync += [post.eq(bundle), pregs.eq(regs)]
        p_valid = post.valid & (post.kind == Kind.COMPUTE)

        def out_word(oc, i, name):
            reg_v = _pick(m, oc.reg, [pregs[i][r] for r in range(R)], 32, f"{name}_r{i}")
            v = Signal(32, name=f"{name}_w{i}")
            with m.Switch(oc.src):
                with m.Case(OutSrc.ACC):
                    m.d.comb += v.eq(acc_now[i])
                with m.Case(OutSrc.ACC_PREV):
                    m.d.comb += v.eq(acc_prev[i])
                with m.Default():
                    m.d.comb += v.eq(reg_v)
            return v

        for k in range(VO):
            oc = cfg.vout[k]
            wr = p_valid & post.ev[k]
            for i in range(L):
                m.d.comb += voq[k].i.payload[i].eq(out_word(oc, i, f"vout{k}"))
            m.d.comb += voq[k].i.valid.eq(wr)
            m.d.sync += inflight_v[k].eq(inflight_v[k] + (fire_c & emit_v[k]) - wr)
        for k in range(SO):
            oc = cfg.sout[k]
            wr = p_valid & post.es[k]
            lane_v = _pick(m, oc.lane, [out_word(oc, i, f"sout{k}") for i in range(L)], 32,
                           f"sout{k}_lane")
            m.d.comb += [soq[k].i.payload.eq(lane_v), soq[k].i.valid.eq(wr)]
            m.d.sync += inflight_s[k].eq(inflight_s[k] + (fire_c & emit_s[k]) - wr)
        for k in range(CO):
            pending = Signal(16, name=f"cout{k}_pending")
            ev = p_valid & post.ec[k]
            taken = self.ctrl_out[k].valid & self.ctrl_out[k].ready
            m.d.sync += pending.eq(pending + ev - taken)
            m.d.comb += [self.ctrl_out[k].valid.eq(pending != 0), self.ctrl_out[k].payload.eq(0)]

        # ---- start, done, busy ----------------------------------------------------------------
        in_flight = Signal(range(self.depth + 2))
        m.d.sync += in_flight.eq(in_flight + fire - post.valid)
        with m.If(cs.start):
            m.d.sync += [running.eq(1), done.eq(0), since.eq(31)]
            for c in range(C):
                m.d.sync += [idx[c].eq(0), val[c].eq(cfg.counters[c].start), at0[c].eq(1),
                             atl[c].eq(last_zero[c])]
            for k in range(CI):
                m.d.sync += credit[k].eq(cfg.cin[k].init)
            if p.systolic:
                m.d.sync += loads_left.eq(Mux(cfg.stat.en, S, 0))
        with m.Elif(p_valid & post.end):
            m.d.sync += done.eq(1)
        busy = running | (in_flight != 0)
        m.d.comb += [self.busy.eq(busy), self.done.eq(done), cs.busy.eq(busy), cs.done.eq(done)]

        # ---- performance counters -------------------------------------------------------------
        if p.perf_counters:
            ops = Const(0, 8)
            for s in range(NS):
                ops = ops + (cfg.stages[s].op != Op.NOP)
            ops_per_iter = Signal(16)
            m.d.comb += ops_per_iter.eq(ops * L)
            run_c = running & ~phase_load
            events = [busy, fire_c, run_c & ~in_ok_s, run_c & in_ok_s & ~out_ok_s,
                      run_c & in_ok_s & out_ok_s & ~credit_ok_s,
                      run_c & in_ok_s & out_ok_s & credit_ok_s & ~ii_ok, None, fire_l]
            perf = [Signal(32, name=f"perf{i}") for i in range(N_PERF)]
            for i, ev in enumerate(events):
                inc = Mux(fire_c, ops_per_iter, 0) if ev is None else ev
                with m.If(cs.clear):
                    m.d.sync += perf[i].eq(0)
                with m.Else():
                    m.d.sync += perf[i].eq(perf[i] + inc)
                m.d.comb += cs.counters[i].eq(perf[i])
        return m

    # ------------------------------------------------------------------------------------------

    def _accumulator(self, m, cfg, regs, valid, first, platform):
        """Per-lane ``acc = op(first ? init : acc, regs[lane][acc.reg])``, updated one cycle after
        the last stage (visible to the post stage). Returns the per-lane accumulator values after
        and before (``acc_prev``: the ``first ? init : acc`` operand) the last update.

        The fp32 ops (``fadd fmax fma``) use :class:`hw.arith` blocks (``FPAdd(0)``,
        ``FPCompare``, ``FPMul(0)``); a Verilator build with behavioural arithmetic
        (:mod:`tiles.pcu_simfu`) uses one combinational behavioural unit per lane instead."""
        p, isa = self.params, self.isa
        L = p.lanes
        fp = "fp32" in p.classes_of(p.stages - 1)
        out, prev = [], []
        for i in range(L):
            acc = Signal(32, name=f"acc{i}")
            accp = Signal(32, name=f"acc{i}_prev")
            x = Signal(32, name=f"acc{i}_x")
            y = Signal(32, name=f"acc{i}_y")
            m.d.comb += x.eq(_pick(m, cfg.acc.reg, [regs[i][r] for r in range(p.regs)], 32,
                                   f"acc{i}_xr"))
            with m.Switch(cfg.acc.reg):
                for r in range(p.regs):
                    with m.Case(r):
                        m.d.comb += y.eq(regs[i][(r + 1) % p.regs])
            base = Signal(32, name=f"acc{i}_base")
            now = Signal(32, name=f"acc{i}_now")
            m.d.comb += now.eq(acc)
            m.d.comb += base.eq(Mux(first, cfg.acc.init, now))
            nxt = Signal(32, name=f"acc{i}_next")
            with m.Switch(cfg.acc.op):
                with m.Case(AccOp.ADD):
                    m.d.comb += nxt.eq(base + x)
                with m.Case(AccOp.MAX):
                    m.d.comb += nxt.eq(Mux(base.as_signed() < x.as_signed(), x, base))
                if p.loop_mul:
                    with m.Case(AccOp.MULADD):
                        m.d.comb += nxt.eq((base * x + y)[:32])
                with m.Default():
                    m.d.comb += nxt.eq(base)
            if fp and pcu_simfu.behavioural(platform):
                # simulation: a combinational behavioural unit computes the selected fp32 op
                # (the same functions of hw.numerics as the blocks below: fp32_add(base, x),
                # fp32_max(base, x), fp32_add(fp32_mul(base, x), y))
                fu = m.submodules[f"acc{i}_fpu"] = LaneFU(("fp32",), comb=True, mul=p.loop_mul)
                fop = Signal(6, name=f"acc{i}_fop")
                fsel = Signal(name=f"acc{i}_fsel")
                with m.Switch(cfg.acc.op):
                    for aop, op in ((AccOp.FADD, Op.FADD), (AccOp.FMAX, Op.FMAX)) + \
                            (((AccOp.FMA, Op.FMA),) if p.loop_mul else ()):
                        with m.Case(aop):
                            m.d.comb += [fop.eq(op), fsel.eq(1)]
                m.d.comb += [fu.op.eq(fop), fu.a.eq(base), fu.b.eq(x), fu.c.eq(y)]
                with m.If(fsel):
                    m.d.comb += nxt.eq(fu.o)
            elif fp:
                # one adder for fadd (base + x) and fma (base·x + y)
                fadd = m.submodules[f"acc{i}_fadd"] = arith.FPAdd(0)
                fcmp = m.submodules[f"acc{i}_fcmp"] = arith.FPCompare()
                if p.loop_mul:
                    fmul = m.submodules[f"acc{i}_fmul"] = arith.FPMul(0)
                    is_fma = cfg.acc.op == AccOp.FMA
                    m.d.comb += [fmul.a.eq(base), fmul.b.eq(x), fmul.en.eq(1),
                                 fadd.a.eq(Mux(is_fma, fmul.o, base)),
                                 fadd.b.eq(Mux(is_fma, y, x))]
                else:
                    is_fma = Const(0)
                    m.d.comb += [fadd.a.eq(base), fadd.b.eq(x)]
                m.d.comb += [fadd.en.eq(1), fcmp.a.eq(base), fcmp.b.eq(x)]
                with m.If((cfg.acc.op == AccOp.FADD) | is_fma):
                    m.d.comb += nxt.eq(fadd.o)
                with m.If(cfg.acc.op == AccOp.FMAX):
                    m.d.comb += nxt.eq(fcmp.max)
            with m.If(valid):
                m.d.sync += [acc.eq(nxt), accp.eq(base)]
            out.append(now)
            prev.append(accp)
        return out, prev

    def _stage(self, m, s, cfg, args, prev, bundle, carry_reg, carry_srcs):
        """Stage ``s``: operand muxes, L functional units, register write-back, stationary
        registers. Returns (registers, bundle) after the stage's latency."""
        p, isa = self.params, self.isa
        L, R, C = p.lanes, p.regs, p.counters
        sc = cfg.stages[s]
        D = self.latencies[s]
        srcs = isa.stage_sources(s)
        classes = isa.stage_classes(s)
        ld = isa.log_lanes
        pre = f"s{s}_"

        # per-stage shared values
        dist = sc.dist
        bit_set = []       # lane i has bit `dist` set
        ge = []            # lane i >= 2**dist
        for i in range(L):
            bs = Signal(name=f"{pre}bit{i}")
            g = Signal(name=f"{pre}ge{i}")
            with m.Switch(dist):
                for d in range(max(ld, 1)):
                    with m.Case(d):
                        m.d.comb += [bs.eq((i >> d) & 1), g.eq(i >= (1 << d))]
            bit_set.append(bs)
            ge.append(g)

        stat = None
        if Src.STAT in srcs:
            stat = [Signal(32, name=f"{pre}stat{i}") for i in range(L)]
            load = bundle.valid & (bundle.kind == Kind.LOAD) & (bundle.target == s)
            # the vector select sits inside the load condition (sync domain), so a simulator
            # evaluates it only on load iterations
            with m.If(load):
                with m.Switch(cfg.stat.vec):
                    for k in range(p.vec_in):
                        with m.Case(k):
                            m.d.sync += [stat[i].eq(bundle.vec[k][i]) for i in range(L)]
                    with m.Default():
                        m.d.sync += [stat[i].eq(0) for i in range(L)]

        carry_val = None
        if Src.CARRY in srcs:
            carry_val = Signal(32, name=f"{pre}carry")
        # Late carry: when the stage's units register their operands (spare latency), the carry
        # joins them after those registers, one cycle after issue into the stage, and the scan
        # carry unit computes from lane L-1's registered operands. The loop then is carry
        # register → carry unit → carry register, with no operand muxes in it (FPGA timing).
        # (Not with the butterfly network, whose negation sits in front of the registers.)
        late = carry_val is not None and not p.butterfly and D > stage_latency(classes)

        # Operand routing, decoded once per stage and operand (not per lane):
        # * RNET: lane j reads row[sel_j], the register `idx` of lane sel_j (REG: j; TREE, BFLY,
        #   SHIFT: the neighbour at distance 2**dist; BREG: `lane`) — one L:1 mux per lane;
        # * VEC: lane j of the selected vector input;
        # * AFF: a lane-uniform value U plus lane·S in the counter bits (SCAL, ARG, BVEC, ZERO:
        #   S = 0; CTR: U = counter, S = its lane stride; LANE: U = 0, S = 1; a SHIFT lane
        #   without a neighbour reads U = 0) — L-1 shared adders;
        # * CONST, STAT: this lane's constant / stationary register; CARRY: the scan carry.
        cb = p.counter_bits
        net_kinds = [k for k in (Src.TREE, Src.BFLY, Src.SHIFT, Src.BREG) if k in srcs]
        # CARRY is its own class (not AFF with stride 0) so the scan carry loop does not run
        # through the affine adders
        RNET, VEC, AFF, CONST, STAT, CAR = range(6)
        operands = {}
        for name in ("a", "b", "c"):
            oc = getattr(sc, name)
            kind, ix = oc.kind, oc.idx
            opre = f"{pre}{name}_"
            row = [_pick(m, ix, [prev[j][r] for r in range(R)], 32, f"{opre}row{j}")
                   for j in range(L)]
            rnet = row
            if net_kinds:
                rnet = []
                for j in range(L):
                    sel = Signal(range(L), name=f"{opre}nsel{j}")
                    m.d.comb += sel.eq(j)
                    with m.Switch(kind):
                        for nk, f in ((Src.TREE, lambda j, d: (j + d) % L),
                                      (Src.BFLY, lambda j, d: j ^ d),
                                      (Src.SHIFT, lambda j, d: max(j - d, 0))):
                            if nk in net_kinds:
                                with m.Case(nk):
                                    with m.Switch(dist):
                                        for d in range(ld):
                                            with m.Case(d):
                                                m.d.comb += sel.eq(f(j, 1 << d))
                        if Src.BREG in net_kinds:
                            with m.Case(Src.BREG):
                                m.d.comb += sel.eq(sc.lane)
                    rnet.append(_pick(m, sel, row, 32, f"{opre}rnet{j}"))
            vk = [_pick(m, ix, [bundle.vec[k][j] for k in range(p.vec_in)], 32, f"{opre}vec{j}")
                  for j in range(L)]
            u = Signal(32, name=f"{opre}u")
            st = Signal(cb, name=f"{opre}s")
            cls = Signal(range(6), name=f"{opre}cls")
            m.d.comb += cls.eq(AFF)
            with m.Switch(kind):
                with m.Case(Src.REG, *net_kinds):
                    m.d.comb += cls.eq(RNET)
                with m.Case(Src.VEC):
                    m.d.comb += cls.eq(VEC)
                with m.Case(Src.CONST):
                    m.d.comb += cls.eq(CONST)
                if Src.STAT in srcs:
                    with m.Case(Src.STAT):
                        m.d.comb += cls.eq(STAT)
                with m.Case(Src.CTR):
                    m.d.comb += [u.eq(_pick(m, ix, [bundle.ctr[c] for c in range(C)], cb,
                                            f"{opre}ctr")),
                                 st.eq(_pick(m, ix, [cfg.counters[c].lane_stride
                                                     for c in range(C)], cb, f"{opre}ls"))]
                with m.Case(Src.LANE):
                    m.d.comb += st.eq(1)
                if Src.SCAL in srcs:
                    with m.Case(Src.SCAL):
                        m.d.comb += u.eq(_pick(m, ix, [bundle.scal[k] for k in range(p.scal_in)],
                                               32, f"{opre}scal"))
                if Src.ARG in srcs:
                    with m.Case(Src.ARG):
                        m.d.comb += u.eq(_pick(m, ix, args, 32, f"{opre}arg"))
                if Src.BVEC in srcs:
                    with m.Case(Src.BVEC):
                        m.d.comb += u.eq(_pick(m, sc.lane, vk, 32, f"{opre}bvec"))
                if Src.CARRY in srcs:
                    with m.Case(Src.CARRY):
                        m.d.comb += cls.eq(CAR)
            # U + lane·S for every lane: lanes 2**k.. add (S << k) to lanes 0..2**k-1
            lo = [u[:cb]]
            for k in range(ld):
                step = (st << k)[:cb]
                lo += [(v + step)[:cb] for v in lo]
            vals = []
            for j in range(L):
                aff = Cat(lo[j], u[cb:]) if cb < 32 else lo[j]
                cj = cls
                if Src.SHIFT in net_kinds:
                    cj = Mux((kind == Src.SHIFT) & ~ge[j], AFF, cls)
                v = Signal(32, name=f"{opre}{j}")
                with m.Switch(cj):
                    with m.Case(RNET):
                        m.d.comb += v.eq(rnet[j])
                    with m.Case(VEC):
                        m.d.comb += v.eq(vk[j])
                    with m.Case(AFF):
                        m.d.comb += v.eq(aff)
                    with m.Case(CONST):
                        m.d.comb += v.eq(sc.const[j])
                    if Src.STAT in srcs:
                        with m.Case(STAT):
                            m.d.comb += v.eq(stat[j])
                    if Src.CARRY in srcs and not late:
                        with m.Case(CAR):
                            m.d.comb += v.eq(carry_val)
                vals.append(v)
            operands[name] = vals

        # operand a modifier (butterfly): negate on lanes whose bit `dist` is set
        if p.butterfly:
            for i in range(L):
                a = operands["a"][i]
                a2 = Signal(32, name=f"{pre}an{i}")
                m.d.comb += a2.eq(Mux(bit_set[i] & (sc.neg == Neg.FP), a ^ (1 << 31),
                                      Mux(bit_set[i] & (sc.neg == Neg.INT), (-a)[:32], a)))
                operands["a"][i] = a2

        out_b = bundle
        for k in range(D):
            nb = Signal.like(bundle, name=f"{pre}bundle_d{k}")
            m.d.sync += nb.eq(out_b)
            out_b = nb
        prev_d = prev
        for k in range(D):
            nr = Signal.like(prev, name=f"{pre}regs_d{k}")
            m.d.sync += nr.eq(prev_d)
            prev_d = nr

        out = Signal.like(prev, name=f"regs{s + 1}")
        write = out_b.valid & (out_b.kind == Kind.COMPUTE) & (sc.op != Op.NOP)
        fus = []
        if late:
            # which operands read the carry (a registered copy of the static configuration),
            # and the carry of the iteration one cycle into the stage
            late_k = Signal(3, name=f"{pre}late")
            carf_d = Signal(name=f"{pre}carf_d")
            m.d.sync += [late_k.eq(Cat(*[getattr(sc, n).kind == Src.CARRY for n in "abc"])),
                         carf_d.eq(bundle.carf)]
            m.d.comb += carry_val.eq(Mux(carf_d, cfg.carry.init, carry_reg))
        for i in range(L):
            fu = m.submodules[f"{pre}fu{i}"] = LaneFU(classes, D, late=late)
            m.d.comb += [fu.a.eq(operands["a"][i]), fu.b.eq(operands["b"][i]),
                         fu.c.eq(operands["c"][i]), fu.op.eq(sc.op), fu.frac.eq(sc.frac)]
            if late:
                m.d.comb += [fu.late.eq(late_k), fu.carry.eq(carry_val)]
            fus.append(fu)
            lane_on = Mux(sc.mask == Mask.GE, ge[i], Mux(sc.mask == Mask.BIT, bit_set[i], 1))
            for r in range(R):
                m.d.comb += out[i][r].eq(Mux(write & lane_on & (sc.dst == r), fu.o,
                                             prev_d[i][r]))

        if late:
            in_valid = Signal(name=f"{pre}carry_upd")
            m.d.sync += in_valid.eq(bundle.valid & (bundle.kind == Kind.COMPUTE))
            fu = fus[L - 1]
            carry_srcs.append((s, in_valid, fu.ra, fu.rb, fu.rc))
        elif carry_val is not None:
            m.d.comb += carry_val.eq(Mux(bundle.carf, cfg.carry.init, carry_reg))
            in_valid = bundle.valid & (bundle.kind == Kind.COMPUTE)
            carry_srcs.append((s, in_valid, operands["a"][L - 1], operands["b"][L - 1],
                               operands["c"][L - 1]))
        return out, out_b


def generate(fabric):
    """``rdu gen CONFIG --unit pcu``: the PCU of a fabric configuration."""
    return Generated(PCU(fabric.pcu), f"rdu_pcu_{fabric.name}")
