"""`tlfseg bridge serve | probe`: the firmware bridge on the command line (plugs into `tlfseg`)."""

from __future__ import annotations

import argparse

from edge.core.values import arg
from edge.tools.commands import add_model_options, add_roi_option, int_range, positive_int
from firmware_bridge.protocol import DEFAULT_MAX_HEIGHT, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_WIDTH, MAX_PAYLOAD, MAX_SIDE
from firmware_bridge.transport import Endpoint

DEFAULT_TRANSPORT = "tcp://127.0.0.1:5599"
TRANSPORT_HELP = "tcp://HOST:PORT, unix:PATH or serial:DEVICE[,BAUD]"


def endpoint_arg(text: str) -> Endpoint:
    """argparse type: `Endpoint.parse`."""
    try:
        return Endpoint.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_limit(parser: argparse.ArgumentParser, option: str, default: int, high: int, metavar: str, what: str) -> None:
    """An integer option from 1 to `high` (the wire field's range)."""
    kind = int_range(option, 1, high)
    parser.add_argument(option, type=kind, default=default, metavar=metavar, help=f"{what} (default {default})")


def register(subparsers) -> None:
    bridge = subparsers.add_parser(
        "bridge",
        help="serve segmentation to scanner firmware over TCP, a Unix socket or a serial port",
        description="The firmware bridge: a binary protocol (docs/protocol.md) for scanners to send frames "
        "and get segmentation results back.",
    )
    sub = bridge.add_subparsers(dest="bridge_command", metavar="ACTION", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the runtime side of the protocol",
        description="Listen for scanners (TCP and Unix sockets: up to --max-clients at once, each with its own "
        "session; a serial port: one line) and answer every FRAME with a RESULT, a skip or an ERROR.",
    )
    serve.add_argument(
        "--transport",
        type=endpoint_arg,
        default=DEFAULT_TRANSPORT,
        help=f"{TRANSPORT_HELP} (default {DEFAULT_TRANSPORT})",
    )
    serve.add_argument("--allow-remote", action="store_true", help="allow a TCP address other than loopback")
    add_model_options(serve)
    add_roi_option(serve, "detected; a scanner's CONFIG may set its own", parsed=True)
    serve.add_argument("--max-clients", type=positive_int, default=4, metavar="N", help="sessions at once")
    _add_limit(serve, "--max-payload", DEFAULT_MAX_PAYLOAD, MAX_PAYLOAD, "BYTES", "largest message")
    _add_limit(serve, "--max-width", DEFAULT_MAX_WIDTH, MAX_SIDE, "PX", "widest frame accepted")
    _add_limit(serve, "--max-height", DEFAULT_MAX_HEIGHT, MAX_SIDE, "PX", "tallest frame")
    serve.add_argument(
        "--idle-timeout",
        type=arg("--idle-timeout", low_open=False, high=86400.0),
        default=60.0,
        metavar="S",
        help="close silent socket clients (0: never)",
    )
    serve.set_defaults(handler=run_serve)

    probe = sub.add_parser("probe", help="say HELLO to a runtime and print its capabilities and round-trip time")
    probe.add_argument("--transport", type=endpoint_arg, default=DEFAULT_TRANSPORT, help=TRANSPORT_HELP)
    probe.add_argument(
        "--timeout", type=arg("--timeout", high=3600.0), default=5.0, metavar="S", help="how long to wait for answers"
    )
    probe.set_defaults(handler=run_probe)


def run_serve(args: argparse.Namespace) -> int:
    import signal

    from edge.core.engine import Engine
    from edge.core.familiarity import describe_reference
    from edge.tools.errors import CommandError
    from firmware_bridge.frames import FrameLimits
    from firmware_bridge.runtime import BridgeRuntime, SessionLimits
    from firmware_bridge.server import BridgeServer

    endpoint = args.transport
    if not endpoint.loopback and not args.allow_remote:
        raise CommandError(
            f"{endpoint} is not a loopback address; the bridge has no authentication, "
            "so listening beyond this machine needs --allow-remote"
        )
    limits = SessionLimits(
        max_payload=args.max_payload,
        frame=FrameLimits(args.max_width, args.max_height),
        idle_timeout=args.idle_timeout,
    )
    engine = Engine(args.model, threads=args.threads, delegate=args.delegate)
    runtime = BridgeRuntime(engine, limits, roi=args.roi)
    server = BridgeServer(endpoint, runtime, max_clients=args.max_clients)
    bound = server.bind()
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish the frames in hand, say BYE, then stop
        signal.signal(sig, lambda *_: server.shutdown())
    print(f"model: {engine.describe()}", flush=True)
    print(f"frames: {describe_reference(runtime.reference)}", flush=True)
    print(f"listening on {bound} (max {args.max_clients} clients, payload limit {limits.max_payload} B)", flush=True)
    server.serve_forever()
    print(f"stopped: {server.runtime.counters.snapshot()}", flush=True)
    return 0


def run_probe(args: argparse.Namespace) -> int:
    from firmware_bridge.client import BridgeClient

    with BridgeClient.connect(args.transport, timeout=args.timeout) as client:
        hello = client.hello(args.timeout)
        beat, rtt_ms = client.heartbeat(args.timeout)
        client.bye(args.timeout)
    print(f"runtime: {hello.software}, protocol {hello.protocol_version}, model {hello.model}")
    print(f"model input: {hello.input_width}x{hello.input_height}, classes: {', '.join(hello.classes)}")
    print(f"limits: frames up to {hello.max_width}x{hello.max_height}, payload up to {hello.max_payload} B")
    print(f"frame formats: {', '.join(f.name for f in hello.pixel_formats)}")
    print(f"mask encodings: {', '.join(m.name for m in hello.mask_encodings)}")
    print(f"heartbeat round trip: {rtt_ms:.2f} ms")
    return 0
