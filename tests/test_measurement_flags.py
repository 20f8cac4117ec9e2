"""The flag registry is the one source of every flag: each has words and a wire bit, the bridge's bits and the
report's words come from it, and a name outside it is refused where a measurement is made."""

import numpy as np
import pytest

from edge.measurement.flags import FRAME_FLAGS, GLIDE_FLAGS, OTHER_BIT, refuses, words
from edge.measurement.measure import Measurement
from firmware_bridge.messages import Config
from firmware_bridge.protocol import GlideFlag, Quality
from firmware_bridge.results import glide_flags, quality_flags


def _measurement(flags=()):
    return Measurement(5.0, {}, 5.0, None, 1.0, 0.0, 0.0, 1, 10.0, 0.9, {}, tuple(flags), np.zeros(4))


def test_every_flag_has_words_and_a_bit_the_wire_knows():
    for flag in FRAME_FLAGS.values():
        assert flag.words and not flag.words.startswith(flag.name)
        refusing = bool(Quality(1 << flag.bit) & Quality.measurement_flags())
        assert flag.bit != OTHER_BIT and refusing == flag.refuses, flag.name
    for flag in GLIDE_FLAGS.values():
        assert flag.words and GlideFlag(1 << flag.bit) != GlideFlag.OTHER


@pytest.mark.parametrize("name", sorted(FRAME_FLAGS))
def test_the_bridge_sends_each_flag_on_its_registered_bit_and_the_report_says_its_words(name):
    quality = quality_flags(_measurement([name]), Config(roi=(0, 0, 10, 10)))
    assert quality & Quality(1 << FRAME_FLAGS[name].bit)
    assert bool(quality & Quality(0xFF)) == FRAME_FLAGS[name].refuses  # version-1 firmware reads bits 0-7
    assert words(name) == FRAME_FLAGS[name].words
    assert _measurement([name]).good != FRAME_FLAGS[name].refuses


def test_unfamiliar_is_in_words_not_the_bare_name():
    assert words("unfamiliar") != "unfamiliar"


def test_a_glide_flag_maps_to_its_bit():
    class Step:
        flags = tuple(GLIDE_FLAGS)

    expected = GlideFlag(0)
    for f in GLIDE_FLAGS.values():
        expected |= GlideFlag(1 << f.bit)
    assert glide_flags(Step()) == expected


def test_a_name_outside_the_registry_is_refused_where_it_is_made():
    with pytest.raises(KeyError, match="registry"):
        _measurement(["jmup"])
    with pytest.raises(KeyError):
        _measurement().flagged("jmup")
    assert refuses(("anything_unknown",))
