"""The ``rdu`` commands the README and ``docs/`` show run as written.

Every concrete command (no placeholders such as ``KERNEL`` or ``[--config C]``) in a code block
is parsed by ``rdu``'s own parser; an ``rdu run`` command is also validated as far
as the simulation (configuration, request, options, output folder) — with nothing built. Commands
the documents show *as errors* are listed in :data:`SHOWN_AS_ERRORS` and must fail with exit 2.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import tb.run
from scripts import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: commands the documents show failing on purpose (a one-line error, exit 2)
SHOWN_AS_ERRORS = {
    "rdu run gemm --M 64 --N 64 --K 64 --baseline",   # an option gemm does not have
    "rdu run sdpa --n 4 --d 9",                       # d above the lane count of `small`
}
#: a word that is a placeholder, not something to type
PLACEHOLDER = re.compile(r"^(\[.*|.*[\]{}|<>…].*|\.\.\.|[A-Z][A-Z0-9_]*(\.[a-z]+)?|—|-o)$")


def _commands():
    found = {}
    for path in DOCS:
        text = path.read_text()
        # a command continued over lines with a trailing backslash is one command
        lines = [ln for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
                 for ln in re.sub(r"\\\n\s*", " ", block).splitlines()]
        for line in lines:
            line = re.sub(r"^\s*\$\s+", "", line.replace("\n", " ")).split("#")[0].strip()
            # several commands side by side in one block line
            for cmd in re.split(r"\s{3,}", line):
                if cmd.startswith("rdu "):
                    found.setdefault(" ".join(cmd.split()), path.name)
    return found


COMMANDS = _commands()
CONCRETE = sorted(c for c in COMMANDS if not any(PLACEHOLDER.match(w) for w in c.split()[1:])
              and ":" not in c)


def test_the_documents_show_commands():
    assert len(CONCRETE) >= 15, CONCRETE
    missing = SHOWN_AS_ERRORS - set(COMMANDS)
    assert not missing, f"listed as shown errors but no longer in the documents: {missing}"


class Reached(Exception):
    """The command passed every check before the simulation."""


@pytest.mark.parametrize("command", CONCRETE)
def test_command_runs_as_written(command, monkeypatch, capsys):
    argv = shlex.split(command)[1:]
    if command in SHOWN_AS_ERRORS:
        monkeypatch.setattr(tb.run, "_executor", _no_simulation)   # maps, never simulates
        monkeypatch.setattr(cli, "check_cache", lambda: None)
        assert cli.main(argv) == 2, f"{command}: shown as an error"
        return
    if argv[:1] != ["run"]:
        try:
            cli.build_parser().parse_args(argv)
        except SystemExit as e:
            pytest.fail(f"{COMMANDS[command]}: `{command}` does not parse "
                        f"({capsys.readouterr().err.strip()}; exit {e.code})")
        return
    if "--help" in argv:
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 0
        return

    def reached(*a, **k):
        raise Reached
    monkeypatch.setattr(cli, "run_kernel", reached)
    monkeypatch.setattr(cli, "check_cache", lambda: None)
    monkeypatch.delenv("RDU_ARITH", raising=False)
    with pytest.raises(Reached):
        code = cli.main(argv)
        pytest.fail(f"{COMMANDS[command]}: `{command}` exits {code}: "
                    f"{capsys.readouterr().err.strip()}")


def _no_simulation(*a, **k):
    raise AssertionError("reached the simulation")
