"""The official `openai` Python SDK on a Claude model: Chat Completions in,
Anthropic Messages upstream, translated both ways by the gateway.

The caller must not be able to tell: the SDK parses the same completions,
chunks and tool-call deltas it gets from OpenAI. The Anthropic mock replies
`Mock reply to: <last user message>`, says `Let me check.` in its own text
block before a `[[mock:tool_call]]`, answers a `tool_result` with `Mock reply
to tool result: <text>`, and counts a token per word (+3 per prompt message);
see src/mock_upstream/mod.rs.
"""

from __future__ import annotations

import json

MODEL = "claude-haiku-4-5"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
# The input of the mock's canned tool call (src/mock_upstream/reply.rs).
MOCK_TOOL_ARGUMENTS = {"location": "Paris"}
# What the Anthropic mock says before calling the tool.
MOCK_TOOL_PREAMBLE = "Let me check."


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def mock_reply(prompt: str) -> str:
    return f"Mock reply to: {prompt}"


def words(text: str) -> int:
    return len(text.split())


def upstream_text(content) -> str:
    """An Anthropic message's text: its string content, or its text blocks joined."""
    if isinstance(content, str):
        return content
    return " ".join(block["text"] for block in content if block["type"] == "text")


def test_chat_completion_on_claude_is_translated_both_ways(client, upstream_request_with, marker):
    prompt = f"Say hello to Claude through the OpenAI SDK {marker}"

    completion = client.chat.completions.create(model=MODEL, messages=user(prompt))

    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == mock_reply(prompt)
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == words(prompt) + 3
    assert completion.usage.completion_tokens == words(mock_reply(prompt))
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )

    upstream = upstream_request_with(marker)
    assert upstream["path"] == "/v1/messages"
    assert upstream["body"]["model"] == MODEL
    sent = upstream["body"]["messages"]
    assert [m["role"] for m in sent] == ["user"]
    assert upstream_text(sent[0]["content"]) == prompt


def test_streamed_chunks_on_claude_add_up_to_the_same_answer(client, marker):
    prompt = f"Stream this sentence word by word {marker}"

    chunks = list(client.chat.completions.create(model=MODEL, messages=user(prompt), stream=True))

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model == MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1, "all chunks of one stream share an id"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == mock_reply(prompt)
    finish_reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish_reasons[-1] == "stop"
    assert finish_reasons[:-1] == [None] * (len(finish_reasons) - 1)


def test_tool_call_on_claude_is_parsed_into_tool_calls(client):
    completion = client.chat.completions.create(
        model=MODEL,
        messages=user("What's the weather in Paris? [[mock:tool_call]]"),
        tools=[WEATHER_TOOL],
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == MOCK_TOOL_PREAMBLE
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == MOCK_TOOL_ARGUMENTS


def test_streamed_tool_call_on_claude_accumulates_into_valid_json(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=user("What's the weather in Paris? [[mock:tool_call]]"),
        tools=[WEATHER_TOOL],
        stream=True,
    )

    calls: dict[int, dict] = {}
    text = ""
    finish_reasons = []
    for chunk in stream:
        assert chunk.model == MODEL
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            acc = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
            if call.id:
                acc["id"] = call.id
            if call.function and call.function.name:
                acc["name"] += call.function.name
            if call.function and call.function.arguments:
                acc["arguments"] += call.function.arguments
        if chunk.choices[0].finish_reason:
            finish_reasons.append(chunk.choices[0].finish_reason)

    assert finish_reasons == ["tool_calls"]
    assert text == MOCK_TOOL_PREAMBLE
    assert list(calls) == [0]
    assert calls[0]["id"]
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == MOCK_TOOL_ARGUMENTS


def test_tool_result_round_trip_on_claude(client, upstream_requests, marker):
    messages = user(f"What's the weather in Paris? {marker} [[mock:tool_call]]")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_unset=True, exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "Sunny"})

    answer = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])

    choice = answer.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert choice.message.content == "Mock reply to tool result: Sunny"

    # The `tool` message reached Claude as a tool_result answering the call.
    sent = [r for r in upstream_requests() if marker in json.dumps(r["body"])]
    assert len(sent) == 2, sent
    upstream_messages = sent[-1]["body"]["messages"]
    assert [m["role"] for m in upstream_messages] == ["user", "assistant", "user"]
    tool_uses = [b for b in upstream_messages[1]["content"] if b["type"] == "tool_use"]
    assert len(tool_uses) == 1
    assert tool_uses[0]["name"] == "get_weather"
    assert tool_uses[0]["input"] == MOCK_TOOL_ARGUMENTS
    results = upstream_messages[2]["content"]
    assert len(results) == 1
    assert results[0]["type"] == "tool_result"
    assert results[0]["tool_use_id"] == tool_uses[0]["id"]
    assert upstream_text(results[0]["content"]) == "Sunny"

