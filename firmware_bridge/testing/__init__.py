"""Test and benchmark tooling for the bridge, apart from the runtime (which never imports it).

- `vectors`: the shared test vectors (`python -m firmware_bridge.testing.vectors tests/vectors` rewrites them);
- `difffuzz`: the fuzz corpus the C reference and the Python decoder must decode alike;
- `cbuild`: the C reference's programs, built through `firmware_bridge/c/Makefile`;
- `pty`: a pseudo-terminal pair standing in for a serial line.
"""
