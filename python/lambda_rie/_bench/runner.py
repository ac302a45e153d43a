"""The measurements: cold starts (a fresh lambda-rie each) and warm invocations (kept-alive)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from lambda_rie._bench.emulator import EmulatorProcess, ReportLine
from lambda_rie._bench.invoker import HTTP_TIMEOUT_S, Answer, Invoker
from lambda_rie._bench.progress import Progress

ENVIRONMENTS = "lambda_rie_environments"
COLD_STARTS = "lambda_rie_cold_starts_total"
# NOTE: with a handler that answers in ~0.1 ms, the clients' first requests do not always
# overlap; a few rounds give every client its own environment before the clock starts.
WARM_UP_ROUNDS = 10
PROGRESS_INTERVAL_S = 0.05
MAX_PROBLEMS = 5


@dataclass(frozen=True)
class ColdStart:
    """The three start-up figures of one fresh lambda-rie's first invocation."""

    answer: Answer
    #: lambda-rie process start -> first answer.
    launch_to_first_answer_ms: float
    #: Runtime process start -> its first `/next`, from the REPORT line.
    init_duration_ms: Optional[float]

    @property
    def environment_cold_start_ms(self) -> float:
        """Invoke arrival with no idle environment -> answer."""
        return self.answer.round_trip_ms


@dataclass
class WarmPhase:
    """Invocations of warm environments, each client on its own kept-alive connection."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    #: Environments started while the clock ran (an environment still finishing its previous
    #: invocation is busy, as on AWS, so a quick next request may start another).
    cold_starts: int = 0
    problems: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def invocations_per_s(self) -> float:
        """Answered invocations per second of the phase's wall time."""
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class Workload:
    """What each measured invocation sends, and how many of them."""

    path: str
    event: bytes
    invocations: int
    concurrency: int
    duration_s: Optional[float]
    #: The `function` label of the function's metrics; None when lambda-rie serves only it.
    metrics_function: Optional[str] = None


def cold_start(process: EmulatorProcess, workload: Workload) -> ColdStart:
    """Invoke a just-started lambda-rie once: its first environment starts for this invocation."""
    host, port = process.wait_listening()
    invoker = Invoker(host, port, workload.path, workload.event)
    try:
        answer = invoker.invoke()
    finally:
        invoker.close()
    launch_ms = (time.perf_counter_ns() - process.launched_ns) / 1e6
    init_ms = None
    # NOTE: only an answer of the function (200, with or without a function error) has a
    # REPORT line; a service error (404, 413, 429...) never reached an environment.
    if answer.request_id is not None and answer.status == 200:
        report: Optional[ReportLine]
        try:
            report = process.report_of(answer.request_id)
        except LookupError:
            report = None
        init_ms = report.init_duration_ms if report is not None else None
    return ColdStart(answer, launch_ms, init_ms)


class _WarmClients:
    """`concurrency` threads that share one budget of invocations and one deadline."""

    def __init__(self, process: EmulatorProcess, workload: Workload) -> None:
        host, port = process.wait_listening()
        self._process = process
        self._workload = workload
        self._invokers = [
            Invoker(host, port, workload.path, workload.event) for _ in range(workload.concurrency)
        ]
        self._lock = threading.Lock()
        self._left = workload.invocations
        self._deadline_ns: Optional[int] = None
        self._timed = False
        self._gate = threading.Barrier(workload.concurrency + 1, timeout=HTTP_TIMEOUT_S)
        self._answers: list[list[tuple[int, Answer]]] = [[] for _ in self._invokers]
        self.done = 0

    def _ticket(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            if self._deadline_ns is not None and time.perf_counter_ns() >= self._deadline_ns:
                return False
            self._left -= 1
            self.done += 1
            return True

    def _client(self, index: int) -> None:
        invoker = self._invokers[index]
        # Untimed warm-up rounds, all clients at once, until each can have its own environment.
        try:
            while True:
                self._gate.wait()
                if self._timed:
                    break
                invoker.invoke()
                self._gate.wait()
        except threading.BrokenBarrierError:
            return  # the bench gave up (lambda-rie stopped answering its metrics)
        answers = self._answers[index]
        while self._ticket():
            answer = invoker.invoke()
            answers.append((time.perf_counter_ns(), answer))
        invoker.close()

    def _warm_up(self) -> None:
        function = self._workload.metrics_function
        wanted = self._workload.concurrency
        for _ in range(WARM_UP_ROUNDS):
            self._gate.wait()  # the clients send one invocation each
            self._gate.wait()  # every one is answered
            ready = sum(
                self._process.metric(ENVIRONMENTS, function, state=state)
                for state in ("idle", "busy")
            )
            if ready >= wanted:
                return

    def run(self, progress: Progress) -> WarmPhase:
        threads = [
            threading.Thread(target=self._client, args=(index,), daemon=True)
            for index in range(len(self._invokers))
        ]
        for thread in threads:
            thread.start()
        function = self._workload.metrics_function
        try:
            self._warm_up()
            cold_before = self._process.metric(COLD_STARTS, function)
        except BaseException:
            self._gate.abort()
            raise
        self._timed = True
        self._gate.wait()
        started = time.perf_counter_ns()
        if self._workload.duration_s is not None:
            self._deadline_ns = started + int(self._workload.duration_s * 1e9)
        while alive := [thread for thread in threads if thread.is_alive()]:
            progress.show(self.done, self._workload.invocations)
            alive[0].join(PROGRESS_INTERVAL_S)
        elapsed_s = (time.perf_counter_ns() - started) / 1e9
        progress.show(self.done, self._workload.invocations, force=True)
        cold_starts = int(self._process.metric(COLD_STARTS, function) - cold_before)
        return self._phase(elapsed_s, cold_starts)

    def _phase(self, elapsed_s: float, cold_starts: int) -> WarmPhase:
        """Every client's answers, in the order they came."""
        phase = WarmPhase(elapsed_s=elapsed_s, cold_starts=cold_starts)
        answered = sorted(
            (pair for answers in self._answers for pair in answers), key=lambda pair: pair[0]
        )
        for _, answer in answered:
            # A connection that broke has no round trip to speak of; an error answer has one.
            if answer.status is not None:
                phase.latencies_ms.append(answer.round_trip_ms)
            if not answer.ok:
                phase.errors += 1
                if answer.problem is not None and len(phase.problems) < MAX_PROBLEMS:
                    phase.problems.append(answer.problem)
        return phase


def warm_phase(process: EmulatorProcess, workload: Workload, progress: Progress) -> WarmPhase:
    """`workload.invocations` warm invocations (or fewer, if `duration_s` runs out first)."""
    return _WarmClients(process, workload).run(progress)
