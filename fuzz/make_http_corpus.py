#!/usr/bin/env python3
"""Writes fuzz/http_corpus: malformed and abusive requests to `hearth serve`,
one raw HTTP exchange per file, named STATUS-kind.http (the status the first
answer must have; STATUSxN-kind.http: N answers, each with that status).
tests/server/hostile_requests_test.cpp replays them in-process and checks the
status and a time bound; the HTTP fuzz target starts from them.
Run from the repository root: python3 fuzz/make_http_corpus.py"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_corpus")
JSON = "application/json"
cases = {}


def raw(head_lines, body=b""):
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(head_lines) + "\r\n\r\n").encode() + body


def post(path, body, ctype=JSON, extra=(), host="localhost:8080"):
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    head = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    if ctype is not None:
        head.append(f"Content-Type: {ctype}")
    head.append(f"Content-Length: {len(body)}")
    head += list(extra)
    return raw(head, body)


def get(path, extra=()):
    return raw([f"GET {path} HTTP/1.1", "Host: localhost:8080", *extra])


def chat(**fields):
    body = {"model": "stories260K", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    body.update(fields)
    return post("/v1/chat/completions", body)


def ollama_chat(**fields):
    body = {"model": "stories260K", "messages": [{"role": "user", "content": "hi"}], "stream": False,
            "options": {"num_predict": 2}}
    body.update(fields)
    return post("/api/chat", body)


def deep_array(depth):
    return "[" * depth + "]" * depth


def deep_object(depth):
    return '{"a":' * depth + "1" + "}" * depth


def deep_schema(depth):
    s = '{"type":"string"}'
    for _ in range(depth):
        s = '{"type":"object","properties":{"a":' + s + '}}'
    return s


B = '{"model":"stories260K","messages":[{"role":"user","content":"hi"}]}'

# Framing.
cases["400-content-length-negative"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                            "Content-Type: application/json", "Content-Length: -1"], B)
cases["400-content-length-2pow64"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                          "Content-Type: application/json", "Content-Length: 18446744073709551616"], B)
cases["400-content-length-20-digits"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                             "Content-Type: application/json", "Content-Length: 18446744073709551615"], B)
cases["400-content-length-text"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                        "Content-Type: application/json", "Content-Length: abc"], B)
cases["400-content-length-hex"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                       "Content-Type: application/json", "Content-Length: 0x10"], B)
cases["400-content-length-twice-different"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                                   "Content-Type: application/json", f"Content-Length: {len(B)}",
                                                   "Content-Length: 5"], B)
cases["400-content-length-twice-same"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                              "Content-Type: application/json", f"Content-Length: {len(B)}",
                                              f"Content-Length: {len(B)}"], B)
cases["400-content-length-and-chunked"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                               "Content-Type: application/json", f"Content-Length: {len(B)}",
                                               "Transfer-Encoding: chunked"], B)
cases["400-transfer-encoding-gzip-chunked"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                                   "Content-Type: application/json",
                                                   "Transfer-Encoding: gzip, chunked"], "5\r\nhello\r\n0\r\n\r\n")
cases["400-transfer-encoding-identity"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                               "Content-Type: application/json", "Transfer-Encoding: identity"], B)
cases["411-chunked-body"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                 "Content-Type: application/json", "Transfer-Encoding: chunked"],
                                f"{len(B):x}\r\n{B}\r\n0\r\n\r\n")
cases["413-content-length-over-limit"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost",
                                              "Content-Type: application/json", "Content-Length: 104857600"], B)
cases["415-gzip-body"] = post("/v1/chat/completions", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", extra=["Content-Encoding: gzip"])
cases["415-brotli-body"] = post("/v1/chat/completions", B, extra=["Content-Encoding: br"])
cases["400-bad-request-line"] = b"GARBAGE\r\n\r\n"
cases["400-unknown-method"] = raw(["BREW /v1/models HTTP/1.1", "Host: localhost"])
cases["414-uri-too-long"] = raw(["GET /" + "a" * 9000 + " HTTP/1.1", "Host: localhost"])
cases["400-header-line-too-long"] = raw(["GET /health HTTP/1.1", "Host: localhost", "X-Big: " + "b" * 9000])
cases["404-unknown-endpoint"] = get("/v2/nothing")
cases["404-path-with-newline"] = get("/x%0aGET%20/admin%20->%20200")
cases["404-get-on-post-route"] = get("/v1/chat/completions")

# Local-only.
cases["400-no-host-http11"] = raw(["POST /v1/chat/completions HTTP/1.1", "Content-Type: application/json",
                                   f"Content-Length: {len(B)}"], B)
cases["400-two-hosts"] = raw(["POST /v1/chat/completions HTTP/1.1", "Host: localhost", "Host: evil.example",
                              "Content-Type: application/json", f"Content-Length: {len(B)}"], B)
cases["403-foreign-host"] = post("/v1/chat/completions", B, host="evil.example")
cases["403-dns-rebinding-host"] = post("/api/chat", B, host="attacker.example:8080")
cases["403-foreign-origin"] = post("/v1/chat/completions", B, extra=["Origin: https://evil.example"])
cases["403-null-origin"] = post("/v1/chat/completions", B, extra=["Origin: null"])
cases["403-other-local-port-origin"] = post("/v1/chat/completions", B, extra=["Origin: http://localhost:3000"])
cases["415-text-plain"] = post("/v1/chat/completions", B, ctype="text/plain")
cases["415-form-urlencoded"] = post("/api/generate", B, ctype="application/x-www-form-urlencoded")
cases["415-multipart"] = post("/v1/completions", B, ctype="multipart/form-data; boundary=x")
cases["415-no-content-type"] = post("/v1/chat/completions", B, ctype=None)

# Bodies.
cases["400-empty-body"] = post("/v1/chat/completions", "")
cases["400-not-json"] = post("/v1/chat/completions", "hello")
cases["400-json-array-body"] = post("/v1/chat/completions", "[1,2]")
cases["400-truncated-json"] = post("/v1/chat/completions", B[:-5])
cases["400-invalid-utf8-json"] = post("/v1/chat/completions", b'{"messages":[{"role":"user","content":"\xff\xfe"}]}')
cases["400-deep-array-in-content"] = post("/v1/chat/completions",
                                          '{"messages":[{"role":"user","content":' + deep_array(3000) + '}]}')
cases["400-deep-object-in-tools"] = post("/v1/chat/completions",
                                         '{"messages":[{"role":"user","content":"hi"}],"tools":[' + deep_object(2000) + ']}')
cases["400-deep-ollama-messages"] = post("/api/chat", '{"model":"stories260K","messages":' + deep_array(3000) + '}')
cases["400-deep-response-format-schema"] = post(
    "/v1/chat/completions", '{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema",'
    '"json_schema":{"name":"x","schema":' + deep_schema(300) + '}}}')
cases["400-deep-ollama-format"] = post("/api/chat", '{"model":"stories260K","stream":false,"messages":[{"role":"user",'
                                       '"content":"hi"}],"format":' + deep_schema(300) + '}')
# 70 arrays deep is 141 JSON levels with the body around it: under the body's
# limit only if the schema limit (64 levels) is what refuses it, so 70 items.
arr = {"type": "integer"}
for _ in range(70):
    arr = {"type": "array", "items": arr}
cases["400-schema-nesting-over-64"] = chat(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": arr}})
cases["200-deep-tool-arguments-string-kept-as-text"] = post(
    "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None,
                             "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f",
                                                                                          "arguments": deep_object(2000)}}]},
                            {"role": "user", "content": "and?"}], "max_tokens": 1})
cases["400-messages-not-array"] = chat(messages="hi")
cases["400-messages-empty"] = chat(messages=[])
cases["400-messages-missing"] = post("/v1/chat/completions", {"model": "stories260K"})
cases["400-message-not-object"] = chat(messages=[5])
cases["400-role-wizard"] = chat(messages=[{"role": "wizard", "content": "hi"}])
cases["400-role-number"] = chat(messages=[{"role": 7, "content": "hi"}])
cases["400-role-missing"] = chat(messages=[{"content": "hi"}])
cases["400-content-number"] = chat(messages=[{"role": "user", "content": 42}])
cases["400-content-part-without-type"] = chat(messages=[{"role": "user", "content": [{"text": "hi"}]}])
cases["400-name-number"] = chat(messages=[{"role": "user", "content": "hi", "name": 3}])
cases["400-tool-calls-not-list"] = chat(messages=[{"role": "assistant", "content": "", "tool_calls": "x"}])
cases["400-tool-call-name-number"] = chat(messages=[{"role": "assistant", "content": "", "tool_calls": [
    {"type": "function", "function": {"name": 5, "arguments": "{}"}}]}])
cases["400-tool-call-arguments-number"] = chat(messages=[{"role": "assistant", "content": "", "tool_calls": [
    {"type": "function", "function": {"name": "f", "arguments": 5}}]}])
cases["400-tool-call-not-object"] = chat(messages=[{"role": "assistant", "content": "", "tool_calls": [7]}])
cases["400-temperature-string"] = chat(temperature="hot")
cases["400-temperature-huge"] = chat(temperature=1e308)
cases["400-top-p-negative"] = chat(top_p=-1)
cases["400-top-k-string"] = chat(top_k="5")
cases["400-max-tokens-zero"] = chat(max_tokens=0)
cases["400-max-tokens-string"] = chat(max_tokens="10")
cases["400-max-tokens-float"] = chat(max_tokens=1.5)
cases["400-top-logprobs-wraps"] = chat(logprobs=True, top_logprobs=4294967297)
cases["400-top-logprobs-negative"] = chat(logprobs=True, top_logprobs=-1)
cases["400-top-logprobs-without-logprobs"] = chat(top_logprobs=2)
cases["400-logprobs-string"] = chat(logprobs="yes")
cases["400-stream-string"] = chat(stream="yes")
cases["400-stream-options-include-usage-string"] = chat(stream=True, stream_options={"include_usage": "x"})
cases["400-stream-options-not-object"] = chat(stream=True, stream_options=5)
cases["400-stop-number"] = chat(stop=5)
cases["400-stop-list-with-number"] = chat(stop=["a", 5])
cases["400-n-two"] = chat(n=2)
cases["400-seed-float"] = chat(seed=1.5)
cases["400-seed-string"] = chat(seed="1")
cases["400-presence-penalty-huge"] = chat(presence_penalty=99)
cases["400-tools-not-array"] = chat(tools={"type": "function"})
cases["400-tool-without-function"] = chat(tools=[{"type": "function"}])
cases["400-tool-choice-unknown"] = chat(tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="sometimes")
cases["400-tool-choice-missing-function"] = chat(tools=[{"type": "function", "function": {"name": "f"}}],
                                                 tool_choice={"type": "function", "function": {"name": "g"}})
cases["400-tool-choice-number"] = chat(tool_choice=5)
cases["400-response-format-unknown"] = chat(response_format={"type": "yaml"})
cases["400-response-format-no-schema"] = chat(response_format={"type": "json_schema", "json_schema": {"name": "x"}})
cases["400-schema-unsupported-keyword"] = chat(response_format={"type": "json_schema", "json_schema": {
    "name": "x", "schema": {"type": "object", "patternProperties": {"a": {}}}}})
cases["400-schema-wrong-keyword-type"] = chat(response_format={"type": "json_schema", "json_schema": {
    "name": "x", "schema": {"type": "object", "nullable": "yes"}}})
cases["400-schema-repetition-bomb"] = chat(response_format={"type": "json_schema", "json_schema": {
    "name": "x", "schema": {"type": "object", "properties": {
        f"p{i}": {"type": "string", "maxLength": 100000} for i in range(200)}}}})
cases["400-schema-pattern-groups"] = chat(response_format={"type": "json_schema", "json_schema": {
    "name": "x", "schema": {"type": "string", "pattern": "(" * 3000 + "a" + ")" * 3000}}})
cases["404-unknown-model"] = chat(model="gpt-17")
cases["400-model-number"] = chat(model=17)
cases["200-huge-tool-list"] = chat(tools=[{"type": "function", "function": {
    "name": f"tool_{i}", "description": "d" * 50, "parameters": {"type": "object", "properties": {
        "x": {"type": "string"}}}}} for i in range(300)])
cases["400-completions-prompt-number"] = post("/v1/completions", {"prompt": 5})
cases["400-completions-token-out-of-vocab"] = post("/v1/completions", {"prompt": [1, 99999999]})
cases["400-completions-token-negative"] = post("/v1/completions", {"prompt": [1, -3]})
cases["400-completions-prompt-too-long"] = post("/v1/completions", {"prompt": "once upon a time " * 400})

# Ollama.
cases["400-ollama-images-number"] = ollama_chat(messages=[{"role": "user", "content": "hi", "images": [123]}])
cases["400-ollama-images-not-list"] = ollama_chat(messages=[{"role": "user", "content": "hi", "images": "abc"}])
cases["400-ollama-tool-calls-string"] = ollama_chat(messages=[{"role": "assistant", "content": "", "tool_calls": "x"}])
cases["400-ollama-tool-call-number"] = ollama_chat(messages=[{"role": "assistant", "content": "", "tool_calls": [1]}])
cases["400-ollama-messages-not-array"] = ollama_chat(messages={"role": "user"})
cases["400-ollama-message-number"] = ollama_chat(messages=[5])
cases["400-ollama-content-number"] = ollama_chat(messages=[{"role": "user", "content": 5}])
cases["400-ollama-role-wizard"] = ollama_chat(messages=[{"role": "wizard", "content": "hi"}])
cases["400-ollama-temperature-string"] = ollama_chat(options={"temperature": "hot"})
cases["400-ollama-num-predict-string"] = ollama_chat(options={"num_predict": "x"})
cases["400-ollama-format-yaml"] = ollama_chat(format="yaml")
cases["400-ollama-format-number"] = ollama_chat(format=5)
cases["400-ollama-generate-images"] = post("/api/generate", {"model": "stories260K", "prompt": "hi", "images": ["aGk="]})
cases["400-ollama-show-no-model"] = post("/api/show", {})
cases["400-ollama-model-number"] = post("/api/chat", {"model": 5, "messages": []})
cases["404-ollama-unknown-model"] = ollama_chat(model="llama9")

# Three requests back to back in one input: each parsed and answered in turn
# (in-process; over a socket cpp-httplib 0.11.4 drops what it read ahead).
cases["200x3-back-to-back"] = get("/health") + get("/v1/models") + get("/api/version")

os.makedirs(OUT, exist_ok=True)
for name in os.listdir(OUT):
    os.remove(os.path.join(OUT, name))
total = 0
for name, data in cases.items():
    with open(os.path.join(OUT, name + ".http"), "wb") as f:
        f.write(data)
    total += len(data)
print(f"{len(cases)} cases, {total} bytes")
