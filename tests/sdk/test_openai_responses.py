"""The official `openai` Python SDK's Responses API (`client.responses.create`)
on a GPT model (passed through to the mock's /v1/responses), a Claude model
(translated to Anthropic Messages) and a Gemini model (to generateContent):
plain, streamed (typed events), and a function-call round trip.
"""

from __future__ import annotations

import json

import pytest

MODELS = {
    "gpt-4o-mini": "/v1/responses",
    "claude-haiku-4-5": "/v1/messages",
    "gemini-2.5-flash": "generateContent",
}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@pytest.mark.parametrize("model", MODELS)
def test_responses_create_plain(client, model, marker, upstream_request_with):
    response = client.responses.create(
        model=model, input=f"hello {marker}", instructions="Be terse.", store=False
    )
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == f"Mock reply to: hello {marker}"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    sent = upstream_request_with(marker)
    assert MODELS[model] in sent["path"]


@pytest.mark.parametrize("model", MODELS)
def test_responses_create_streamed(client, model, marker):
    events = list(client.responses.create(model=model, input=f"stream {marker}", stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert "response.output_text.delta" in types
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == f"Mock reply to: stream {marker}"
    assert events[-1].response.output_text == text
    assert events[-1].response.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_responses_function_call_round_trip(client, model, marker):
    first = client.responses.create(
        model=model,
        input=f"weather in Paris? {marker} [[mock:tool_call]]",
        tools=[WEATHER_TOOL],
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"location": "Paris"}
    second = client.responses.create(
        model=model,
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": f"weather in Paris? {marker}"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny 21C"},
        ],
    )
    assert "sunny 21C" in second.output_text


def test_previous_response_id_is_a_bad_request(client):
    import openai

    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="claude-haiku-4-5", input="hi", previous_response_id="resp_1")
    assert "stateless" in str(err.value)
