"""A real client session against an OpenAI-compatible server, with the official `openai` package.

Run by crates/cli/tests/openai_client.rs against `vitrine serve`; runs against any such server:

    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=... \
        PYTHONPATH=target/python python3 tests/openai_client.py

OPENAI_MODEL picks the model (default: the first one listed). Expectations are those of OpenAI's
API, not of any one server. Exits 0 when every check passes, 1 otherwise, 2 when misconfigured.
"""

import json
import os
import sys
import traceback

import openai
from openai import OpenAI

MAX_TOKENS = 24


def client(api_key=None):
    # The library reads OPENAI_BASE_URL and OPENAI_API_KEY itself, as in a user's program.
    kwargs = {"max_retries": 0, "timeout": 120.0}
    if api_key is not None:
        kwargs["api_key"] = api_key
    return OpenAI(**kwargs)


def check_models(c, state):
    models = c.models.list()
    ids = [m.id for m in models.data]
    assert ids, "GET /v1/models listed no model"
    for m in models.data:
        assert m.object == "model", m
        assert isinstance(m.owned_by, str), m
    state["model"] = os.environ.get("OPENAI_MODEL") or ids[0]
    assert state["model"] in ids, f"{state['model']} not in {ids}"
    return f"{len(ids)} model(s): {', '.join(ids)}"


def messages(text="Describe a black cotton t-shirt in one sentence."):
    return [
        {"role": "system", "content": "You write short product copy."},
        {"role": "user", "content": text},
    ]


def check_chat(c, state):
    r = c.chat.completions.create(
        model=state["model"], messages=messages(), max_tokens=MAX_TOKENS, temperature=0, seed=7
    )
    assert r.object == "chat.completion", r.object
    assert r.id, "no id"
    assert len(r.choices) == 1, r.choices
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant", choice.message.role
    assert isinstance(choice.message.content, str) and choice.message.content, choice.message
    assert choice.finish_reason in ("stop", "length"), choice.finish_reason
    u = r.usage
    assert u is not None, "no usage"
    assert u.prompt_tokens > 0, u
    assert 0 < u.completion_tokens <= MAX_TOKENS, u
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u
    state["greedy_text"] = choice.message.content
    return f"{u.prompt_tokens}+{u.completion_tokens} tokens: {choice.message.content!r}"


def check_stream(c, state):
    stream = c.chat.completions.create(
        model=state["model"],
        messages=messages(),
        max_tokens=MAX_TOKENS,
        temperature=0,
        seed=7,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, finish, usage, chunks = [], None, None, 0
    for chunk in stream:
        chunks += 1
        assert chunk.object == "chat.completion.chunk", chunk.object
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                parts.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish = choice.finish_reason
    text = "".join(parts)
    assert text, "the stream carried no text"
    assert finish in ("stop", "length"), finish
    assert usage is not None, "no usage chunk despite stream_options.include_usage"
    assert 0 < usage.completion_tokens <= MAX_TOKENS, usage
    # Greedy decoding of the same request: streaming changes the transport, not the text.
    assert text == state["greedy_text"], f"streamed {text!r} != {state['greedy_text']!r}"
    return f"{chunks} chunks reassembled into {text!r}"


def check_completion(c, state):
    r = c.completions.create(
        model=state["model"], prompt="The best thing about a linen shirt is", max_tokens=12,
        temperature=0,
    )
    assert r.object == "text_completion", r.object
    assert len(r.choices) == 1
    assert isinstance(r.choices[0].text, str) and r.choices[0].text, r.choices[0]
    assert r.choices[0].finish_reason in ("stop", "length"), r.choices[0].finish_reason
    assert r.usage is not None and r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    return repr(r.choices[0].text)


def check_json_schema(c, state):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 40},
            "color": {"type": "string", "enum": ["black", "white", "navy"]},
            "in_stock": {"type": "boolean"},
        },
        "required": ["name", "color", "in_stock"],
        "additionalProperties": False,
    }
    r = c.chat.completions.create(
        model=state["model"],
        messages=messages("Give the product as JSON: a black cotton t-shirt, in stock."),
        max_tokens=120,
        temperature=0,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "product", "strict": True, "schema": schema},
        },
    )
    content = r.choices[0].message.content
    value = json.loads(content)
    assert isinstance(value, dict), value
    for key in schema["required"]:
        assert key in value, f"{key} missing from {value}"
    assert isinstance(value["name"], str)
    assert value["color"] in ("black", "white", "navy"), value
    assert isinstance(value["in_stock"], bool), value
    return content


def expect_error(kind, call):
    try:
        call()
    except kind as e:
        assert isinstance(e.body, dict) and e.body.get("message"), f"error body {e.body!r}"
        return f"{e.status_code} {type(e).__name__}: {e.body['message']}"
    raise AssertionError(f"no {kind.__name__}")


def check_bad_request(c, state):
    # Temperature is 0 to 2 in OpenAI's API.
    hot = expect_error(
        openai.BadRequestError,
        lambda: c.chat.completions.create(model=state["model"], messages=messages(),
                                          temperature=7, max_tokens=4),
    )
    empty = expect_error(
        openai.BadRequestError,
        lambda: c.chat.completions.create(model=state["model"], messages=[], max_tokens=4),
    )
    return f"{hot}; {empty}"


def check_bad_key(c, state):
    bad = client(api_key="sk-not-a-real-key")
    return expect_error(openai.AuthenticationError, lambda: bad.models.list())


def check_seed(c, state):
    def sample():
        r = c.chat.completions.create(
            model=state["model"], messages=messages("Name a color for a summer scarf."),
            max_tokens=MAX_TOKENS, temperature=0.9, seed=1234,
        )
        return r.choices[0].message.content

    first, second = sample(), sample()
    assert first == second, f"same seed, different text: {first!r} != {second!r}"
    return repr(first)


CHECKS = [
    ("list models", check_models),
    ("chat completion with usage", check_chat),
    ("streamed chat completion", check_stream),
    ("text completion", check_completion),
    ("json_schema output", check_json_schema),
    ("bad request is BadRequestError", check_bad_request),
    ("bad key is AuthenticationError", check_bad_key),
    ("same seed, same text", check_seed),
]


def main():
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        if not os.environ.get(var):
            print(f"set {var}", file=sys.stderr)
            return 2
    print(f"openai {openai.__version__} against {os.environ['OPENAI_BASE_URL']}")
    c, state, failed = client(), {}, []
    for name, check in CHECKS:
        if name != "list models" and "model" not in state:
            print(f"SKIP {name}: no model")
            failed.append(name)
            continue
        try:
            detail = check(c, state)
            print(f"ok   {name}: {detail}")
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            failed.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc(limit=2, file=sys.stdout)
    print(f"openai client checks: {len(CHECKS) - len(failed)} of {len(CHECKS)} ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
