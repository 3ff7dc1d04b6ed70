"""What a unit generator returns: an elaboratable plus how to emit it as Verilog."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from amaranth.back import verilog

__all__ = ["Generated", "to_verilog"]


def to_verilog(component, top):
    """``component`` as Verilog text with top module ``top``. No source attributes, so the text —
    and every hash taken of it — does not depend on Python line numbers."""
    return verilog.convert(component, name=top, emit_src=False)


@dataclasses.dataclass
class Generated:
    """``component``: the Amaranth top; ``top``: Verilog module name; ``sources``: extra Verilog
    files it instantiates (e.g. the backdoor memory). Simulate or lint it through
    :meth:`tb.runner.Design.of`."""

    component: object
    top: str
    sources: tuple = ()

    def verilog(self):
        return to_verilog(self.component, self.top)

    def write(self, out):
        """Write ``<top>.v`` and copies of ``sources`` into ``out``; return the paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = [out / f"{self.top}.v"]
        files[0].write_text(self.verilog())
        for s in self.sources:
            dst = out / Path(s).name
            shutil.copyfile(s, dst)
            files.append(dst)
        return files
