"""What a unit generator returns: an elaboratable plus how to emit and simulate it."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

__all__ = ["Generated"]


@dataclasses.dataclass
class Generated:
    """``component``: the Amaranth top; ``top``: Verilog module name; ``sources``: extra Verilog
    files it instantiates (e.g. the backdoor memory)."""

    component: object
    top: str
    sources: tuple = ()

    def design(self):
        from tb.runner import Design
        return Design.from_component(self.component, self.top, sources=self.sources)

    def write(self, out):
        """Write ``<top>.v`` and copies of ``sources`` into ``out``; return the paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        d = self.design()
        files = [out / f"{self.top}.v"]
        files[0].write_text(d.verilog)
        for s in self.sources:
            dst = out / Path(s).name
            shutil.copyfile(s, dst)
            files.append(dst)
        return files
