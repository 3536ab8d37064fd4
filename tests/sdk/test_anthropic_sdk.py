"""The official `anthropic` Python SDK against the gateway's `/v1/messages`.

Two routes behind one endpoint: `claude-haiku-4-5` goes to the mock's Anthropic
API (bytes passed through), `gpt-4o-mini` to the mock's OpenAI API (request and
response translated both ways). Each test runs on both, so a caller cannot tell
which provider answered from what the SDK parses: the same objects, streams
and exception classes.

The mock replies `Mock reply to: <last user message>` (or `Mock reply to tool
result: <text>` to an Anthropic `tool_result`), counts a token per word (+3 per
prompt message), streams one piece per word, and obeys `[[mock:...]]`
directives (see src/mock_upstream/mod.rs).
"""

from __future__ import annotations

import json

import anthropic
import pytest

CLAUDE = "claude-haiku-4-5"
GPT = "gpt-4o-mini"
MODELS = [pytest.param(CLAUDE, id="native-claude"), pytest.param(GPT, id="translated-gpt")]
# Where each model's requests land on the mock.
UPSTREAM_PATH = {CLAUDE: "/v1/messages", GPT: "/v1/chat/completions"}
MAX_TOKENS = 256

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
# The input the mock's canned tool call sends (src/mock_upstream/reply.rs).
MOCK_TOOL_INPUT = {"location": "Paris"}
# Text before the tool call: the Anthropic mock says `Let me check.` in its own
# block first; the OpenAI mock's tool call has no content.
TOOL_PREAMBLE = {CLAUDE: ["Let me check."], GPT: []}


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def mock_reply(prompt: str) -> str:
    return f"Mock reply to: {prompt}"


def words(text: str) -> int:
    return len(text.split())


def texts(message) -> list[str]:
    return [block.text for block in message.content if block.type == "text"]


def only_tool_use(message):
    uses = [block for block in message.content if block.type == "tool_use"]
    assert len(uses) == 1, f"expected one tool_use block, got {message.content}"
    return uses[0]


# --- Text ------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_create_returns_the_upstream_answer_and_usage(
    anthropic_client, upstream_request_with, marker, model
):
    prompt = f"Say hello to the Anthropic SDK {marker}"

    message = anthropic_client.messages.create(
        model=model, max_tokens=MAX_TOKENS, messages=user(prompt)
    )

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id
    assert message.model == model
    assert len(message.content) == 1
    assert message.content[0].type == "text"
    assert message.content[0].text == mock_reply(prompt)
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.usage.input_tokens == words(prompt) + 3
    assert message.usage.output_tokens == words(mock_reply(prompt))

    upstream = upstream_request_with(marker)
    assert upstream["path"] == UPSTREAM_PATH[model]
    assert upstream["body"]["model"] == model


@pytest.mark.parametrize("model", MODELS)
def test_stream_text_adds_up_to_the_same_answer(anthropic_client, marker, model):
    prompt = f"Stream this sentence word by word {marker}"
    whole = anthropic_client.messages.create(
        model=model, max_tokens=MAX_TOKENS, messages=user(prompt)
    )

    with anthropic_client.messages.stream(
        model=model, max_tokens=MAX_TOKENS, messages=user(prompt)
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) == words(mock_reply(prompt)), f"one text delta per word: {pieces}"
    assert "".join(pieces) == whole.content[0].text == mock_reply(prompt)
    assert final.model == model
    assert texts(final) == [mock_reply(prompt)]
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == words(prompt) + 3
    assert final.usage.output_tokens == words(mock_reply(prompt))


# --- Tool use --------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_tool_use_is_parsed_into_a_tool_use_block(anthropic_client, model):
    message = anthropic_client.messages.create(
        model=model,
        max_tokens=MAX_TOKENS,
        tools=[WEATHER_TOOL],
        messages=user("What's the weather in Paris? [[mock:tool_call]]"),
    )

    assert message.stop_reason == "tool_use"
    assert texts(message) == TOOL_PREAMBLE[model]
    assert message.content[-1].type == "tool_use", "the call comes after any text"
    tool_use = only_tool_use(message)
    assert tool_use.id
    assert tool_use.name == "get_weather"
    assert tool_use.input == MOCK_TOOL_INPUT


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_use_accumulates_the_full_input(anthropic_client, model):
    with anthropic_client.messages.stream(
        model=model,
        max_tokens=MAX_TOKENS,
        tools=[WEATHER_TOOL],
        messages=user("What's the weather in Paris? [[mock:tool_call]]"),
    ) as stream:
        fragments = [event.partial_json for event in stream if event.type == "input_json"]
        final = stream.get_final_message()

    assert len(fragments) > 1, "the input should arrive in several fragments"
    assert json.loads("".join(fragments)) == MOCK_TOOL_INPUT
    assert final.stop_reason == "tool_use"
    assert texts(final) == TOOL_PREAMBLE[model]
    tool_use = only_tool_use(final)
    assert tool_use.id
    assert tool_use.name == "get_weather"
    assert tool_use.input == MOCK_TOOL_INPUT


def _ask_for_the_weather(client, model: str, prompt: str):
    """First leg of a round trip: the model calls get_weather; returns the
    conversation so far and the call."""
    messages = user(prompt)
    first = client.messages.create(
        model=model, max_tokens=MAX_TOKENS, tools=[WEATHER_TOOL], messages=messages
    )
    assert first.stop_reason == "tool_use"
    tool_use = only_tool_use(first)
    # The SDK's own content blocks, sent back as they came, as its docs show.
    messages.append({"role": "assistant", "content": first.content})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "Sunny"}],
        }
    )
    return messages, tool_use


def test_tool_result_round_trip_on_claude(anthropic_client, upstream_requests, marker):
    prompt = f"What's the weather in Paris? {marker} [[mock:tool_call]]"
    messages, tool_use = _ask_for_the_weather(anthropic_client, CLAUDE, prompt)

    answer = anthropic_client.messages.create(
        model=CLAUDE, max_tokens=MAX_TOKENS, tools=[WEATHER_TOOL], messages=messages
    )

    assert answer.stop_reason == "end_turn"
    assert [b.type for b in answer.content] == ["text"]
    assert answer.content[0].text == "Mock reply to tool result: Sunny"

    # Passed through: the provider got the conversation as the SDK sent it.
    sent = [r for r in upstream_requests() if marker in json.dumps(r["body"])]
    assert len(sent) == 2, sent
    upstream_messages = sent[-1]["body"]["messages"]
    assert [m["role"] for m in upstream_messages] == ["user", "assistant", "user"]
    assert upstream_messages[1]["content"][-1] == {
        "type": "tool_use",
        "id": tool_use.id,
        "name": "get_weather",
        "input": MOCK_TOOL_INPUT,
    }
    assert upstream_messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": tool_use.id, "content": "Sunny"}
    ]


def test_tool_result_round_trip_on_gpt(anthropic_client, upstream_requests, marker):
    prompt = f"What's the weather in Paris? {marker} [[mock:tool_call]]"
    messages, tool_use = _ask_for_the_weather(anthropic_client, GPT, prompt)

    # With tools still offered: the OpenAI mock answers a conversation that ends in
    # `tool` messages about their content, as the Anthropic mock does.
    answer = anthropic_client.messages.create(
        model=GPT, max_tokens=MAX_TOKENS, messages=messages, tools=[WEATHER_TOOL]
    )

    assert answer.stop_reason == "end_turn"
    assert [b.type for b in answer.content] == ["text"]
    assert answer.content[0].text == "Mock reply to tool result: Sunny"

    # Translated: the call became the assistant's tool_calls, the result a `tool` message.
    sent = [r for r in upstream_requests() if marker in json.dumps(r["body"])]
    assert len(sent) == 2, sent
    assert sent[-1]["path"] == "/v1/chat/completions"
    upstream_messages = sent[-1]["body"]["messages"]
    assert [m["role"] for m in upstream_messages] == ["user", "assistant", "tool"]
    assert upstream_messages[0]["content"] == prompt
    calls = upstream_messages[1]["tool_calls"]
    assert len(calls) == 1
    assert calls[0]["id"] == tool_use.id
    assert calls[0]["type"] == "function"
    assert calls[0]["function"]["name"] == "get_weather"
    assert json.loads(calls[0]["function"]["arguments"]) == MOCK_TOOL_INPUT
    assert upstream_messages[2] == {
        "role": "tool",
        "tool_call_id": tool_use.id,
        "content": "Sunny",
    }


# --- Errors: each must raise the exception class the SDK documents ---------


def test_invalid_key_raises_authentication_error(make_anthropic, api_key):
    bad_key = api_key[:-1] + ("A" if api_key[-1] != "A" else "B")

    with pytest.raises(anthropic.AuthenticationError) as caught:
        make_anthropic(bad_key).messages.create(
            model=CLAUDE, max_tokens=MAX_TOKENS, messages=user("hi")
        )

    e = caught.value
    assert e.status_code == 401
    assert e.type == "authentication_error", e.body
    assert e.body["type"] == "error", e.body
    assert e.response.headers.get("x-request-id")
    assert bad_key not in str(e), "the error must not echo the presented key"


def test_missing_scope_raises_permission_denied(make_anthropic, create_key):
    client = make_anthropic(create_key(scopes=["embeddings"]))

    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client.messages.create(model=CLAUDE, max_tokens=MAX_TOKENS, messages=user("hi"))

    assert caught.value.status_code == 403
    assert caught.value.type == "permission_error", caught.value.body


def test_rate_limited_key_raises_rate_limit_error(make_anthropic, create_key):
    client = make_anthropic(create_key(rate_limit={"requests": 1, "period": "hour", "burst": 1}))
    client.messages.create(model=CLAUDE, max_tokens=MAX_TOKENS, messages=user("first"))

    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=CLAUDE, max_tokens=MAX_TOKENS, messages=user("second"))

    e = caught.value
    assert e.status_code == 429
    assert e.type == "rate_limit_error", e.body
    assert e.body["error"]["details"]["limit"] == 1, e.body
    assert int(e.response.headers["retry-after"]) >= 1


def test_upstream_overload_raises_overloaded_error(anthropic_client):
    with pytest.raises(anthropic.OverloadedError) as caught:
        anthropic_client.messages.create(
            model=CLAUDE, max_tokens=MAX_TOKENS, messages=user("busy? [[mock:status=529]]")
        )

    e = caught.value
    assert e.status_code == 529
    assert e.type == "overloaded_error", e.body
    assert isinstance(e, anthropic.InternalServerError)
