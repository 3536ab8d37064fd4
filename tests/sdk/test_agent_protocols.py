"""openai `models.retrieve`, anthropic `messages.count_tokens` (a Claude and a GPT
model), and structured output carried across dialects in both directions (the
upstream body holds the schema)."""

from __future__ import annotations

import anthropic
import openai
import pytest

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}


def test_models_retrieve(client):
    m = client.models.retrieve("gpt-4o-mini")
    assert m.id == "gpt-4o-mini" and m.owned_by == "openai"
    m = client.models.retrieve("openai/gpt-4o-mini")
    assert m.id == "openai/gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "gpt-4o-mini"])
def test_messages_count_tokens(anthropic_client, model):
    res = anthropic_client.messages.count_tokens(
        model=model, system="Be brief.", messages=[{"role": "user", "content": "How many tokens is this?"}]
    )
    assert res.input_tokens > 0


def test_anthropic_models_list(anthropic_client):
    ids = [m.id for m in anthropic_client.models.list()]
    assert "claude-haiku-4-5" in ids


def test_openai_json_schema_reaches_anthropic_as_output_config(client, marker, upstream_request_with):
    client.chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": f"Where {marker}?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": SCHEMA}},
    )
    sent = upstream_request_with(marker)
    assert sent["body"]["output_config"]["format"] == {"type": "json_schema", "schema": SCHEMA}


def test_anthropic_output_config_reaches_openai_as_response_format(anthropic_client, marker, upstream_request_with):
    anthropic_client.messages.create(
        model="gpt-4o-mini",
        max_tokens=50,
        messages=[{"role": "user", "content": f"Where {marker}?"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
    )
    sent = upstream_request_with(marker)
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["response_format"]["json_schema"]["schema"] == SCHEMA
