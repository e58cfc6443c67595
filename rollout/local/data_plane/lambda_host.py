"""A local stand-in for the Lambda runtime behind an Application Load Balancer.

``python -P -m rollout.local.data_plane.lambda_host --code DIR --handler MODULE.FUNC
--port P`` imports the function's handler from its unpacked zip as Lambda's init does (a
handler that cannot be imported stops the process, its traceback on stderr), then serves
HTTP on the loopback interface: each request becomes the event ALB sends a Lambda
target, and the handler's answer the response ALB makes of it. A failed invocation (the
handler raised, ran past the function's timeout, or answered what ALB cannot read) is
ALB's own 502, marked with :data:`ELB_ERROR_HEADER` so the listener's stand-in can count
it as CloudWatch does: a load balancer 5xx, not a target's.

Standard library, starlette and uvicorn only, since it starts once per colour per
rehearsal and must start fast; the app's own imports are the function's business. The
host imports its packages before the code folder goes first on ``sys.path`` (``-P``
keeps the working directory off it), so the function's vendored copies never replace
them. It prints nothing but errors: the function's tracebacks, as Lambda logs them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import importlib
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import uvicorn
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

LOOPBACK = "127.0.0.1"
ELB_ERROR_HEADER = "x-rollout-elb-error"
"""On a 502 the load balancer made itself; its value says why."""
TEXT_TYPES = ("application/json", "application/javascript", "application/xml")
"""Besides ``text/*``, the request bodies ALB passes as they are; it base64-encodes others."""
RECOMPUTED = frozenset({"content-length", "transfer-encoding", "connection"})
BAD_GATEWAY_BODY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
DEFAULT_TARGET_GROUP = ("arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                        "targetgroup/local/0000000000000000")
DEFAULT_FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:local:$LATEST"

Handler = Callable[[dict[str, Any], Any], object]
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Incoming:
    """One HTTP request as the load balancer received it: path and query still encoded."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes = b""
    client: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """The HTTP response the load balancer sends back."""

    status: int
    headers: Headers
    body: bytes


class MalformedResponse(ValueError):
    """The function answered something ALB cannot turn into an HTTP response."""


@dataclass(frozen=True)
class FunctionFacts:
    """What the runtime knows of its function, for each invocation's context."""

    arn: str = DEFAULT_FUNCTION
    memory: int = 128
    timeout: float = 3.0

    def context(self) -> LambdaContext:
        parts = self.arn.split(":")
        name = parts[6] if len(parts) > 6 else "local"
        version = parts[7] if len(parts) > 7 else "$LATEST"
        return LambdaContext(function_name=name, function_version=version,
                             invoked_function_arn=self.arn, memory_limit_in_mb=self.memory,
                             timeout=self.timeout, log_group_name=f"/aws/lambda/{name}")


@dataclass
class LambdaContext:
    """The context object a Python handler is given, with the attributes handlers read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout: float
    log_group_name: str = ""
    log_stream_name: str = "local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: None = None
    client_context: None = None
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


def _is_text(content_type: str) -> bool:
    kind = content_type.partition(";")[0].strip().lower()
    return kind.startswith("text/") or kind in TEXT_TYPES


def _event_body(body: bytes, content_type: str) -> tuple[str, bool]:
    """``(body, isBase64Encoded)``: text types as they are, everything else base64."""
    if not body:
        return "", False
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def query_parameters(query: str) -> dict[str, str]:
    """The query as ALB passes it without multi-value headers: not decoded, last value wins."""
    found: dict[str, str] = {}
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            found[name] = value
    return found


def alb_event(request: Incoming, target_group_arn: str) -> dict[str, Any]:
    """The event ALB sends a Lambda target for ``request`` (multi-value headers off).

    Header names are lower-cased and a repeated header keeps its last value, as ALB
    does; it adds the ``x-forwarded-*`` headers when the request has none.
    """
    headers = {name.lower(): value for name, value in request.headers}
    host_port = headers.get("host", "").rpartition("]")[2].rpartition(":")[2]
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-forwarded-port", host_port if host_port.isdigit() else "80")
    if request.client:
        headers.setdefault("x-forwarded-for", request.client)
    body, encoded = _event_body(request.body, headers.get("content-type", ""))
    return {"requestContext": {"elb": {"targetGroupArn": target_group_arn}},
            "httpMethod": request.method, "path": request.path or "/",
            "queryStringParameters": query_parameters(request.query),
            "headers": headers, "body": body, "isBase64Encoded": encoded}


def _response_headers(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    single = result.get("headers") or {}
    multiple = result.get("multiValueHeaders") or {}
    if not isinstance(single, Mapping) or not isinstance(multiple, Mapping):
        raise MalformedResponse("headers and multiValueHeaders must be JSON objects")
    pairs = [(str(name), str(value)) for name, value in single.items()]
    named = {name.lower() for name, _ in pairs}
    for name, values in multiple.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders.{name} is not a list")
        if str(name).lower() not in named:
            pairs.extend((str(name), str(value)) for value in values)
    return [(name, value) for name, value in pairs if name.lower() not in RECOMPUTED]


def alb_response(result: object) -> Outgoing:
    """The HTTP response ALB makes of a handler's answer; :class:`MalformedResponse` if none."""
    if not isinstance(result, Mapping):
        raise MalformedResponse(f"the answer is a {type(result).__name__}, not a JSON object")
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    text = result.get("body") or ""
    if not isinstance(text, str):
        raise MalformedResponse("body is not a string")
    if result.get("isBase64Encoded"):
        try:
            body = base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise MalformedResponse(f"body is not base64 ({exc})") from None
    else:
        body = text.encode("utf-8")
    headers = [*_response_headers(result), ("content-length", str(len(body)))]
    return Outgoing(status, tuple(headers), body)


def bad_gateway(reason: str) -> Outgoing:
    """ALB's answer to a failed invocation."""
    return Outgoing(502, (("server", "awselb/2.0"), ("content-type", "text/html"),
                          (ELB_ERROR_HEADER, reason),
                          ("content-length", str(len(BAD_GATEWAY_BODY)))), BAD_GATEWAY_BODY)


def invoke(handler: Handler, event: dict[str, Any], context: object) -> Outgoing:
    """Call the handler; its response, or a 502 with the reason printed to stderr."""
    try:
        result = handler(event, context)
    except Exception:
        traceback.print_exc()
        return bad_gateway("the function raised an error")
    try:
        return alb_response(result)
    except MalformedResponse as exc:
        print(f"the function's response is malformed: {exc}", file=sys.stderr)
        return bad_gateway("the function's response is malformed")


def incoming_request(scope: Scope, body: bytes) -> Incoming:
    """What an ASGI ``http`` scope says of the request, path and query as they were sent."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    client = scope.get("client")
    return Incoming(
        method=scope["method"], path=path, query=scope["query_string"].decode("latin-1"),
        headers=tuple((name.decode("latin-1"), value.decode("latin-1"))
                      for name, value in scope["headers"]),
        body=body, client=client[0] if client else None)


def _own_event_loop() -> None:
    """Each invocation thread gets an event loop of its own, as the runtime's main thread
    has one: handlers like Mangum's run the app on the thread's current loop."""
    asyncio.set_event_loop(asyncio.new_event_loop())


class LambdaTarget:
    """The ASGI app: every HTTP request, whatever its path, is one invocation.

    At most ``concurrency`` invocations run at once, each in a thread, like as many warm
    execution environments; one past the function's timeout answers 502 (its thread
    cannot be stopped and finishes on its own).
    """

    def __init__(self, handler: Handler, function: FunctionFacts, target_group_arn: str,
                 concurrency: int = 8) -> None:
        self._handler = handler
        self._function = function
        self._target_group_arn = target_group_arn
        self._executor = ThreadPoolExecutor(max_workers=concurrency,
                                            thread_name_prefix="invocation",
                                            initializer=_own_event_loop)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        incoming = incoming_request(scope, await Request(scope, receive).body())
        event = alb_event(incoming, self._target_group_arn)
        running = asyncio.get_running_loop().run_in_executor(
            self._executor, invoke, self._handler, event, self._function.context())
        try:
            answer = await asyncio.wait_for(running, self._function.timeout)
        except TimeoutError:
            print(f"Task timed out after {self._function.timeout:.2f} seconds", file=sys.stderr)
            answer = bad_gateway("the function timed out")
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": [(name.encode("latin-1", "replace"),
                                 value.encode("latin-1", "replace"))
                                for name, value in answer.headers]})
        await send({"type": "http.response.body", "body": answer.body})


def load_handler(code: Path, name: str) -> Handler:
    """``MODULE.FUNCTION`` (``pkg/module.function`` too, as Lambda allows) from ``code``."""
    module_name, _, attribute = name.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"handler {name!r}: expected MODULE.FUNCTION")
    sys.path.insert(0, str(code))
    module = importlib.import_module(module_name.replace("/", "."))
    found = getattr(module, attribute)
    if not callable(found):
        raise TypeError(f"handler {name!r} is not callable")
    return cast(Handler, found)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rollout.local.data_plane.lambda_host",
                                     description="Serve a Lambda handler as ALB invokes it.")
    parser.add_argument("--code", required=True, type=Path, help="the unpacked zip")
    parser.add_argument("--handler", required=True, help="MODULE.FUNCTION, e.g. app.handler")
    parser.add_argument("--port", required=True, type=int, help="loopback port to serve on")
    parser.add_argument("--target-group-arn", default=DEFAULT_TARGET_GROUP)
    parser.add_argument("--function-arn", default=DEFAULT_FUNCTION,
                        help="the qualified ARN the context names")
    parser.add_argument("--memory", type=int, default=128, help="MB, for the context")
    parser.add_argument("--timeout", type=float, default=3.0, help="the function's timeout (s)")
    parser.add_argument("--concurrency", type=int, default=8)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    os.environ["LAMBDA_TASK_ROOT"] = str(options.code.resolve())  # as Lambda defines it
    try:
        handler = load_handler(options.code, options.handler)
    except Exception:
        traceback.print_exc()
        return 1
    facts = FunctionFacts(options.function_arn, options.memory, options.timeout)
    app = LambdaTarget(handler, facts, options.target_group_arn, options.concurrency)
    config = uvicorn.Config(app, host=LOOPBACK, port=options.port, log_level="error",
                            access_log=False, lifespan="off", server_header=False)
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
