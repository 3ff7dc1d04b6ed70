"""tb.coverage and scripts.coverage: merging Verilator coverage files and the per-unit report.

The RTL side (a counting build writing ``coverage.dat``) runs in ``make coverage``; here the files
are written in Verilator's format by hand, so the arithmetic of the report is checked exactly."""

import json

from scripts import coverage as coverage_cli
from tb import coverage

VERILOG = """module top(clk);
  always @* begin
    if (\\$auto$verilog_backend.cc:2355:dump_module$1 ) begin end
    a = b;
  end
  assign c = d;
  assign e = f;
endmodule
"""


def _point(path, page, line, count, extra=()):
    fields = [("f", str(path)), ("l", str(line)), ("page", page), *extra]
    return "C '" + "".join(f"\x01{k}\x02{v}" for k, v in fields) + f"' {count}\n"


def _write(tmp_path, name, counts, toggles):
    src = tmp_path / "design.v"
    src.write_text(VERILOG)
    lines = ["# SystemC::Coverage-3\n"]
    for line, c in counts.items():
        lines.append(_point(src, "v_line/top", line, c))
    for sig, c in toggles.items():
        lines.append(_point(src, "v_toggle/top.sub", 1, c, (("o", sig),)))
    lines.append(_point(src, "v_branch/top", 6, counts.get(6, 0), (("o", "cond"),)))
    (tmp_path / name).write_text("".join(lines))
    return tmp_path / name


def test_merge_and_summary(tmp_path):
    a = _write(tmp_path, "a.dat", {3: 0, 4: 5, 6: 0, 7: 0}, {"x:0->1": 1, "x:1->0": 0})
    b = _write(tmp_path, "b.dat", {3: 0, 4: 1, 6: 2, 7: 0}, {"x:0->1": 0, "x:1->0": 0})
    points = coverage.merge([a, b])
    s = coverage.summarize(points)
    # one unit: "top" and its submodule "top.sub"; line 3 (the backend's dummy) is not counted
    assert list(s) == ["top"]
    assert s["top"]["lines"] == {"covered": 2, "total": 3, "percent": 66.7}
    assert s["top"]["toggles"] == {"covered": 1, "total": 2, "percent": 50.0}
    assert s["top"]["branches"] == {"covered": 1, "total": 1, "percent": 100.0}
    assert s["top"]["uncovered"] == [[str(tmp_path / "design.v"), 7]]


def test_report_files_and_cli(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    _write(data, "a.dat", {4: 3, 6: 0, 7: 1}, {})
    out = tmp_path / "out"
    assert coverage_cli.main([str(data), "-o", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["top"]["lines"]["percent"] == 66.7
    assert (out / "uncovered.txt").read_text() == f"top\t{data / 'design.v'}:6\n"
    annotated = (out / "annotated" / "data-design.v").read_text().splitlines()
    assert annotated[3].split() == ["3", "a", "=", "b;"]
    assert annotated[5].startswith("%000000")
    assert "top" in capsys.readouterr().out


def test_cli_without_data(tmp_path, capsys):
    assert coverage_cli.main([str(tmp_path / "none")]) == 2
    assert "no *.dat files" in capsys.readouterr().err


def test_temporary_build_folder_maps_to_the_cache_entry():
    assert coverage._source("/c/verilator/.top-abc.tmp-123/top.v") == "/c/verilator/top-abc/top.v"
