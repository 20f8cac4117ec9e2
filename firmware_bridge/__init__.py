"""The firmware bridge: a binary protocol (docs/protocol.md) for scanner firmware to send frames to the
tlfseg runtime and get segmentation results back, over serial, TCP or Unix sockets.

- `protocol`, `framing`, `messages`: the pure codec (standard library only, no I/O);
- `mask`, `frames`: class masks and frames as numpy arrays;
- `transport`: the byte links; `client`: a scanner for test rigs;
- the runtime side (`tlfseg bridge serve`): `runtime` (what every session shares), `session` (one scanner's
  conversation), `server` (accepting clients, serial); `results`: a RESULT from a segmented frame (edge.live.pipeline);
- `c/`: the C99 reference for firmware; `testing`: the shared test vectors, fuzzing and test rigs (not used by the
  runtime).
"""
