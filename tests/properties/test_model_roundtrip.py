"""Generated models survive rendering: ``parse(render(m)) == m`` and render is a fixed point.

The strategies (``tests.properties.strategies``) build valid, canonical ``RunningConfig``
models directly, covering every configuration family, so that these properties test the
renderer and the parser against each other rather than against hand-written text.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.properties.strategies import running_configs
from tunnelgate.config.loader import load_config
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.render import show_running_config

_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _render(config: RunningConfig, *, all: bool = False) -> str:
    return show_running_config(config, all=all, mask=False)


def _parse(text: str) -> RunningConfig:
    """A strict load that must succeed (warnings are fine)."""
    result = load_config(text, source="rendered.cfg")
    assert result.config is not None, "\n".join(d.render() for d in result.errors) + "\n" + text
    return result.config


@_SETTINGS
@given(running_configs())
def test_parse_of_render_is_the_model(model: RunningConfig) -> None:
    text = _render(model)
    assert _parse(text) == model, text


@_SETTINGS
@given(running_configs())
def test_render_is_a_fixed_point(model: RunningConfig) -> None:
    text = _render(model)
    assert _render(_parse(text)) == text
    # ``show running-config all`` spells every default out; reading it back and showing it
    # again gives the same text, and showing the result without ``all`` gives the model's.
    full = _render(model, all=True)
    reread = _parse(full)
    assert _render(reread, all=True) == full
    assert _parse(_render(reread)) == reread
