// rdu_backdoor_mem: simulation memory with bulk load/dump from the testbench.
//
// One synchronous read port and one write port (read-before-write on the same address), like a
// block RAM. The testbench moves whole contents without per-word traffic:
//   * `load` (one cycle high): $readmemh("<dir>/<NAME>.hex") into the array;
//   * `dump` (one cycle high): $writememh("<dir>/<NAME>.out.hex") of the array;
// where <dir> comes from the plusarg +rdu_mem_dir=<dir> (default ".").
// Used by tb/harness (free-running testbenches) and the HBM/DDR model backing store under
// this simulator; the Amaranth simulator uses amaranth.lib.memory.Memory instead (hw/backdoor.py).
module rdu_backdoor_mem #(
    parameter WIDTH = 32,
    parameter DEPTH = 1024,
    parameter ABITS = 10,
    parameter NAME = "mem"
) (
    input  wire             clk,
    input  wire [ABITS-1:0] raddr,
    output reg  [WIDTH-1:0] rdata,
    input  wire             we,
    input  wire [ABITS-1:0] waddr,
    input  wire [WIDTH-1:0] wdata,
    input  wire             load,
    input  wire             dump
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    string dir;
    initial begin
        if (!$value$plusargs("rdu_mem_dir=%s", dir)) dir = ".";
    end
    always @(posedge clk) begin
        rdata <= mem[raddr];
        if (we) mem[waddr] <= wdata;
        if (load) $readmemh($sformatf("%s/%s.hex", dir, NAME), mem);
        if (dump) $writememh($sformatf("%s/%s.out.hex", dir, NAME), mem);
    end
endmodule
