"""Sans-IO plans: the logic of each method written once, for the sync and the async API.

A plan is a generator that yields what it needs done (an :class:`~._requests.Request` to send, a
pause, a blocking function such as a file transfer) and receives the outcome: the parsed answer, or
the exception thrown back into it at the ``yield``. It never does I/O itself, so the same plan runs
under :func:`run` (``Model``, the calling thread) and :func:`arun` (``AsyncModel``, the event loop,
with blocking work in a worker thread), the way h11 or huggingface_hub keep one protocol core under
two drivers. Only how a request is sent differs between the clients; that is the ``send`` argument.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from ..errors import CancelledRegistrationWarning, ServerError
from ._listing import Page, aiterate, iterate

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class Request(Generic[R]):
    """A generated operation, its checked body and the response class it answers with; ``token``
    sends it through the inner front door (cross-account) instead of signing it."""

    operation: ModuleType
    body_cls: type[Any]
    body: dict[str, Any]
    response: type[R]
    token: str | None = None
    # Finished even if the awaiting task is cancelled once it is sent (CreateModel): a cancel must not
    # leave a registration the caller never hears of.
    finish_once_sent: bool = False

    def typed(self, parsed: object) -> R:
        if not isinstance(parsed, self.response):  # the generated operation parsed another shape
            raise ServerError(f"{self.body_cls.__name__}: unexpected answer {type(parsed).__name__}")
        return parsed


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Blocking(Generic[T]):
    """Work that blocks (file transfers): run as is by :func:`run`, in a worker thread by :func:`arun`.

    ``stop`` is set when the awaiting task is cancelled; the work checks it (see :func:`stoppable`)
    and the plan resumes only once the thread has ended, so cleanup never races the transfer."""

    fn: Callable[[], T]
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Sender:
    """Asks the driver for a function that sends a request from any thread and waits for its answer
    (what blocking work calls when it must reach the platform: new object-store credentials)."""


Effect = Request[Any] | Sleep | Blocking[Any] | Sender
Plan = Generator[Effect, Any, R]


class Stopped(Exception):
    """Raised inside blocking work whose caller was cancelled."""


def call(request: Request[R]) -> Plan[R]:
    """Send ``request``; its answer, checked to be the documented response class."""
    return request.typed((yield request))


def pause(seconds: float) -> Plan[None]:
    yield Sleep(seconds)


def blocking(fn: Callable[[threading.Event], T]) -> Plan[T]:
    """Run ``fn(stop)`` where blocking is allowed; ``stop`` is set if the caller goes away."""
    stop = threading.Event()
    result: T = yield Blocking(lambda: fn(stop), stop)
    return result


def stoppable(stop: threading.Event, progress: Callable[[T], None] | None) -> Callable[[T], None]:
    """A progress callback that ends a transfer (raising :class:`Stopped`) once ``stop`` is set."""

    def report(snapshot: T) -> None:
        if stop.is_set():
            raise Stopped("the caller was cancelled")
        if progress is not None:
            progress(snapshot)

    return report


Send = Callable[[Request[Any]], Any]
AsyncSend = Callable[[Request[Any]], Awaitable[Any]]


def run(plan: Plan[R], send: Send) -> R:
    """Carry out ``plan`` in this thread."""
    try:
        effect = next(plan)
        while True:
            try:
                if isinstance(effect, Request):
                    outcome = send(effect)
                elif isinstance(effect, Sleep):
                    time.sleep(effect.seconds)
                    outcome = None
                elif isinstance(effect, Sender):
                    outcome = send
                else:
                    outcome = effect.fn()
            except BaseException as exc:  # the plan decides (cleanup, renewal), then re-raises
                effect = plan.throw(exc)
            else:
                effect = plan.send(outcome)
    except StopIteration as stop:
        result: R = stop.value
        return result


async def arun(plan: Plan[R], send: AsyncSend) -> R:
    """Carry out ``plan`` on the running event loop; blocking work runs in a worker thread."""
    import asyncio  # only async callers pay for it (~15-25 ms of import for the sync API)

    try:
        effect = next(plan)
        while True:
            try:
                if isinstance(effect, Request):
                    outcome = await (
                        _finished_once_sent(send, effect) if effect.finish_once_sent else send(effect)
                    )
                elif isinstance(effect, Sleep):
                    await asyncio.sleep(effect.seconds)
                    outcome = None
                elif isinstance(effect, Sender):
                    outcome = _from_threads(send, asyncio.get_running_loop())
                else:
                    outcome = await _in_thread(effect)
            except BaseException as exc:
                effect = plan.throw(exc)
            else:
                effect = plan.send(outcome)
    except StopIteration as stop:
        result: R = stop.value
        return result


async def _finished_once_sent(send: AsyncSend, request: Request[Any]) -> Any:
    """``send(request)`` under :func:`asyncio.shield`: cancelling the awaiting task cancels the wait,
    not the request, and what the request then did is said as a warning."""
    import asyncio

    task = asyncio.ensure_future(send(request))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(lambda done: _say_after_cancel(request, done))
        raise


def _say_after_cancel(request: Request[Any], done: Any) -> None:
    action = request.body_cls.__name__.removesuffix("Request")
    if done.cancelled():
        # The event loop ended first (asyncio.run cancels what is left): the request was torn down
        # in flight, so the platform may or may not have registered it.
        what = (
            "the event loop ended before its answer, so whether the platform registered it is "
            "unknown: look for the version before registering again; the uploaded files stay"
        )
        warnings.warn(
            f"register was cancelled after its {action} was sent; {what}",
            CancelledRegistrationWarning,
            stacklevel=1,
        )
        return
    failure = done.exception()
    if failure is not None:
        what = f"it failed ({failure}): the uploaded files stay for the storage sweep"
    else:
        model_id = getattr(getattr(done.result(), "result", None), "model_id", None)
        what = f"the platform registered it in ModelID {model_id} (unregister the version if unwanted)"
    warnings.warn(
        f"register was cancelled after its {action} was sent; the request was finished: {what}",
        CancelledRegistrationWarning,
        stacklevel=1,
    )


def sender() -> Plan[Send]:
    """A function sending a request from any thread but the driver's, waiting for its answer."""
    send: Send = yield Sender()
    return send


def _from_threads(send: AsyncSend, loop: Any) -> Send:
    import asyncio

    def send_there(request: Request[Any]) -> Any:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # waiting here would block the loop that must send it
            raise RuntimeError("a request cannot be awaited synchronously on its own event loop")
        return asyncio.run_coroutine_threadsafe(_awaited(send, request), loop).result()

    return send_there


async def _awaited(send: AsyncSend, request: Request[Any]) -> Any:
    return await send(request)


async def _in_thread(effect: Blocking[T]) -> T:
    import asyncio

    work = asyncio.ensure_future(asyncio.to_thread(effect.fn))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        # A thread cannot be interrupted: ask it to stop, and let the plan clean up only after it ended.
        effect.stop.set()
        await asyncio.wait([work])
        if not work.cancelled():
            work.exception()  # retrieved: the cancellation is what the caller hears of
        raise


# ---- methods of the sync and async classes, made from one plan-producing function -------------------
#
# ``Model.list_models = sync_method(ModelCore.list_models)``: the signature, defaults and docstring are
# the core function's (ParamSpec keeps them for type checkers and ``inspect.signature``); the class
# supplies ``_core`` (the object holding the plans' state) and ``_run`` (its driver).

P = ParamSpec("P")
Pages = Callable[[int], Plan[Page[T]]]


def _shown_as(method: Callable[..., Any], fn: Callable[..., Any], returns: str) -> None:
    """``help()`` and ``inspect.signature`` show what the method returns, not the core's plan."""
    signature = inspect.signature(fn)
    inner = str(signature.return_annotation).partition("[")[2].removesuffix("]")
    method.__signature__ = signature.replace(return_annotation=returns.format(inner))  # type: ignore[attr-defined]


def sync_method(fn: Callable[Concatenate[Any, P], Plan[R]]) -> Callable[Concatenate[Any, P], R]:
    @functools.wraps(fn)
    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self._run(fn(self._core, *args, **kwargs))
        return result

    _shown_as(method, fn, "{}")
    return method


def async_method(
    fn: Callable[Concatenate[Any, P], Plan[R]],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
    @functools.wraps(fn)
    async def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = await self._run(fn(self._core, *args, **kwargs))
        return result

    _shown_as(method, fn, "{}")
    return method


def sync_pages(fn: Callable[Concatenate[Any, P], Pages[T]]) -> Callable[Concatenate[Any, P], Iterator[T]]:
    """An ``iter_*`` method: every item of every page, fetched as the iteration goes."""

    @functools.wraps(fn)
    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        fetch = fn(self._core, *args, **kwargs)
        return iterate(lambda offset: self._run(fetch(offset)))

    _shown_as(method, fn, "Iterator[{}]")
    return method


def async_pages(
    fn: Callable[Concatenate[Any, P], Pages[T]],
) -> Callable[Concatenate[Any, P], AsyncIterator[T]]:
    """An ``iter_*`` method of the async API (``async for``)."""

    @functools.wraps(fn)
    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        fetch = fn(self._core, *args, **kwargs)
        return aiterate(lambda offset: self._run(fetch(offset)))

    _shown_as(method, fn, "AsyncIterator[{}]")
    return method
