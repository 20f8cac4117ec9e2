"""`tlfseg bridge`: transports on the command line, refusals, and `probe` against a running runtime."""

from __future__ import annotations

import pytest

from edge.core.engine import Engine
from edge.tools.cli import main
from firmware_bridge.runtime import BridgeRuntime
from firmware_bridge.server import BridgeServer
from firmware_bridge.transport import Endpoint


@pytest.mark.parametrize(
    "text, expected",
    [
        ("tcp://127.0.0.1:5599", Endpoint("tcp", host="127.0.0.1", port=5599)),
        ("tcp://:0", Endpoint("tcp", host="127.0.0.1", port=0)),
        ("tcp://[::1]:7", Endpoint("tcp", host="::1", port=7)),
        ("unix:/run/tlfseg.sock", Endpoint("unix", path="/run/tlfseg.sock")),
        ("unix:///tmp/x.sock", Endpoint("unix", path="/tmp/x.sock")),
        ("serial:/dev/ttyACM0", Endpoint("serial", path="/dev/ttyACM0", baud=115200)),
        ("serial:/dev/ttyUSB1,921600", Endpoint("serial", path="/dev/ttyUSB1", baud=921600)),
    ],
)
def test_transport_strings(text, expected):
    endpoint = Endpoint.parse(text)
    assert endpoint == expected
    assert Endpoint.parse(str(endpoint)) == endpoint


@pytest.mark.parametrize("text", ["tcp://host", "tcp://h:99999", "unix:", "serial:", "serial:/dev/x,fast", "udp://x:1"])
def test_bad_transport_strings_say_what_is_expected(text):
    with pytest.raises(ValueError, match="expected"):
        Endpoint.parse(text)


def test_loopback_only_unless_allowed():
    assert Endpoint.parse("tcp://127.0.0.1:1").loopback and Endpoint.parse("tcp://localhost:1").loopback
    assert Endpoint.parse("tcp://[::1]:1").loopback and Endpoint.parse("unix:/x").loopback
    assert not Endpoint.parse("tcp://0.0.0.0:1").loopback and not Endpoint.parse("tcp://10.0.0.5:1").loopback


def test_serve_refuses_a_public_address_and_a_missing_port(capsys):
    assert main(["bridge", "serve", "--transport", "tcp://0.0.0.0:5599"]) == 1
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["bridge", "serve", "--transport", "serial:/dev/no-such-port"]) == 1
    assert "cannot open serial port /dev/no-such-port" in capsys.readouterr().err


def test_probe_prints_capabilities(capsys):
    server = BridgeServer(Endpoint.parse("tcp://127.0.0.1:0"), BridgeRuntime(Engine()), log=lambda line: None)
    thread = server.start()
    try:
        assert main(["bridge", "probe", "--transport", str(server.endpoint)]) == 0
    finally:
        server.shutdown()
        thread.join(timeout=30)
    out = capsys.readouterr().out
    h, w = Engine().input_size
    assert f"model input: {w}x{h}, classes: above, fascia, below" in out
    assert "frame formats: GREY8, BGR8, JPEG, PNG" in out and "heartbeat round trip:" in out


def test_probe_without_a_runtime_is_one_error_line(capsys):
    assert main(["bridge", "probe", "--transport", "unix:/nonexistent/bridge.sock", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tlfseg bridge: error:") and err.count("\n") == 1


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_serve_refuses_an_idle_timeout_that_is_not_a_duration(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bridge", "serve", "--idle-timeout", value])
    assert exit_.value.code == 2 and "--idle-timeout must be a finite number in [0, 86400]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["serve", "--transport", "udp://x:1"], "argument --transport: transport 'udp://x:1': expected"),
        (["probe", "--transport", "tcp://h"], "argument --transport: transport 'tcp://h': expected tcp://HOST:PORT"),
        (["serve", "--max-payload", "0"], "--max-payload must be 1 to 4294967295, got 0"),
        (["serve", "--max-width", "65536"], "--max-width must be 1 to 65535, got 65536"),
        (["serve", "--max-height", "tall"], "--max-height must be an integer, got 'tall'"),
        (["serve", "--roi", "1,2,3"], "argument --roi: ROI must be 'x,y,w,h'"),
        (["serve", "--roi", "-1,0,10,10"], "argument --roi: invalid ROI"),
    ],
)
def test_every_option_is_checked_when_parsed(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bridge", *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_serve_options_arrive_parsed():
    from edge.core.roi import Box
    from edge.tools.cli import build_parser

    args = build_parser().parse_args(["bridge", "serve", "--transport", "unix:/tmp/b.sock", "--roi", "1,2,30,40"])
    assert args.transport == Endpoint("unix", path="/tmp/b.sock") and args.roi == Box(1, 2, 30, 40)
    assert (args.max_payload, args.max_width, args.max_height) == (8 * 1024 * 1024, 2048, 2048)
    assert build_parser().parse_args(["bridge", "serve", "--roi", "auto"]).roi is None
