// Behavioural PCU functional unit for Verilator simulation only (tiles/pcu_simfu.py builds the
// Amaranth Instance; docs/architecture.md §6 "Behavioural arithmetic").
//
// o = op(a, b, c, frac) LATENCY cycles after the operands, computed by one DPI-C call per cycle
// (rdu_sim_fu_eval in rdu_sim_fu.cpp: the hw/numerics.py semantics of every tiles/pcu_isa.py
// opcode). It replaces the gate-level tiles/pcu_fu.py LaneFU, which computes every op of every
// built class every cycle and selects one: same ports, same latency, same bits.
//
//   LATENCY  0: combinational (the scan carry unit, the accumulator's fp32 unit);
//            >= 1: the result enters a LATENCY-deep delay line at the clock edge after the
//            operands (the C function is pure, so the delay line lives here, not in C state).
//   BUILT    operator classes built (bit per class, rdu_sim_fu_gen.h RDU_BUILT_*): an opcode
//            whose class is not built returns 0, as in the gate model.
//   LATE     late operands (LaneFU late=True): the operands are registered first; one cycle
//            later operand k is replaced by `carry` where late[k] is set, `ra rb rc` show the
//            operands after that replacement, and the result follows LATENCY - 1 cycles later.
//
// Throughput one operation per cycle; no enable and no reset (like the gate unit's datapath,
// whose results only count when the PCU's valid bits say so).
module rdu_sim_fu #(
    parameter int LATENCY = 1,
    parameter int BUILT = 1,
    parameter int LATE = 0
) (
    input  wire        clk,
    input  wire [5:0]  op,
    input  wire [31:0] a,
    input  wire [31:0] b,
    input  wire [31:0] c,
    input  wire [4:0]  frac,
    input  wire [2:0]  late,
    input  wire [31:0] carry,
    output wire [31:0] o,
    output wire [31:0] ra,
    output wire [31:0] rb,
    output wire [31:0] rc
);
    import "DPI-C" pure function int unsigned rdu_sim_fu_eval(
        input int unsigned built, input int unsigned op, input int unsigned a,
        input int unsigned b, input int unsigned c, input int unsigned frac);

    generate
        if (LATENCY == 0) begin : g_comb
            assign o = rdu_sim_fu_eval(BUILT, {26'd0, op}, a, b, c, {27'd0, frac});
            assign ra = a;
            assign rb = b;
            assign rc = c;
        end else if (LATE != 0) begin : g_late
            logic [5:0]  op_r;
            logic [31:0] a_r, b_r, c_r;
            logic [4:0]  frac_r;
            always_ff @(posedge clk) begin
                op_r <= op;
                a_r <= a;
                b_r <= b;
                c_r <= c;
                frac_r <= frac;
            end
            assign ra = late[0] ? carry : a_r;
            assign rb = late[1] ? carry : b_r;
            assign rc = late[2] ? carry : c_r;
            logic [31:0] pipe [LATENCY - 1];
            always_ff @(posedge clk) begin
                pipe[0] <= rdu_sim_fu_eval(BUILT, {26'd0, op_r}, ra, rb, rc, {27'd0, frac_r});
                for (int k = 1; k < LATENCY - 1; k++) pipe[k] <= pipe[k - 1];
            end
            assign o = pipe[LATENCY - 2];
        end else begin : g_pipe
            logic [31:0] pipe [LATENCY];
            always_ff @(posedge clk) begin
                pipe[0] <= rdu_sim_fu_eval(BUILT, {26'd0, op}, a, b, c, {27'd0, frac});
                for (int k = 1; k < LATENCY; k++) pipe[k] <= pipe[k - 1];
            end
            assign o = pipe[LATENCY - 1];
            assign ra = a;
            assign rb = b;
            assign rc = c;
        end
    endgenerate
endmodule
