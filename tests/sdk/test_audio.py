"""The official `openai` Python SDK on the audio routes, OpenAI and Deepgram models.

The WAV is generated here with the `wave` module; the mock upstream derives the
transcript from the uploaded bytes (two words a second, a sentence every six
words) and answers speech with a WAV of its own, which the streaming response
must hand over byte for byte.
"""

from __future__ import annotations

import io
import math
import struct
import wave

import pytest

TRANSCRIBE_MODELS = ["whisper-1", "nova-3"]
SPEECH_MODELS = ["tts-1", "aura-2-thalia-en"]


def make_wav(seconds: float, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV holding a 440 Hz tone."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(seconds * rate))
        )
        w.writeframes(frames)
    return buf.getvalue()


def mock_speech_wav(text: str) -> bytes:
    """What the mock upstream answers speech with (src/mock_upstream/audio.rs)."""
    import hashlib

    words = max(1, len(text.split()))
    samples = words * 400
    seed = hashlib.sha256(text.encode()).digest()
    data = b"".join(struct.pack("<h", seed[i % len(seed)] * 64 - 8192) for i in range(samples))
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


@pytest.mark.parametrize("model", TRANSCRIBE_MODELS)
def test_transcriptions_create_with_a_real_wav(client, model, upstream_requests):
    audio = make_wav(3.0)
    result = client.audio.transcriptions.create(model=model, file=("tone.wav", audio, "audio/wav"))
    words = result.text.split()
    assert len(words) == 6, result.text
    assert result.text.endswith("."), result.text
    last = upstream_requests()[-1]
    assert last["path"] == ("/v1/listen" if model == "nova-3" else "/v1/audio/transcriptions")


@pytest.mark.parametrize("model", TRANSCRIBE_MODELS)
def test_verbose_json_and_subtitles(client, model):
    audio = make_wav(4.0)
    verbose = client.audio.transcriptions.create(
        model=model, file=("tone.wav", audio), response_format="verbose_json"
    )
    assert verbose.duration == pytest.approx(4.0)
    assert len(verbose.segments) == 2
    assert verbose.segments[0].start == 0.0
    assert verbose.words[-1].end <= 4.0
    srt = client.audio.transcriptions.create(model=model, file=("tone.wav", audio), response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> "), srt
    vtt = client.audio.transcriptions.create(model=model, file=("tone.wav", audio), response_format="vtt")
    assert vtt.startswith("WEBVTT"), vtt


def test_both_providers_transcribe_one_file_alike(client):
    audio = make_wav(2.5)
    texts = {
        m: client.audio.transcriptions.create(model=m, file=("tone.wav", audio), response_format="text")
        for m in TRANSCRIBE_MODELS
    }
    assert texts["whisper-1"] == texts["nova-3"], texts


@pytest.mark.parametrize("model", SPEECH_MODELS)
def test_speech_streaming_response_writes_what_the_mock_sent(client, model, tmp_path):
    text = f"Hello from the {model} test, spoken in a few words."
    out = tmp_path / "speech.wav"
    with client.audio.speech.with_streaming_response.create(
        model=model, voice="alloy", input=text, response_format="wav"
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        response.stream_to_file(out)
    data = out.read_bytes()
    assert data == mock_speech_wav(text)
    with wave.open(str(out)) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 400 * len(text.split())


def test_bad_audio_input_raises_bad_request(client):
    import openai

    with pytest.raises(openai.BadRequestError) as e:
        client.audio.transcriptions.create(model="nova-3", file=("notes.txt", b"hello", "text/plain"))
    assert e.value.code == "invalid_field"
    with pytest.raises(openai.BadRequestError) as e:
        client.audio.speech.create(model="tts-1", voice="alloy", input="")
    assert e.value.code == "invalid_field"
