"""Review findings: races and unsafe ends, each as a test that fails on the current code.

Most are exact interleavings of the task handlers on plain moto (``mock_aws``, the
fixtures of tests/functions/conftest.py), with the local engine's RevisionId
correction installed so that every alias write is fenced as on AWS. The
interleaving is forced by wrapping one adapter call (``Lambda.route``,
``Lambda.create_alias``, ``RolloutStore.update``) so that another task runs at
exactly the point a real race would put it. One test runs the real state machine
on the local engine.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollouts.aliases import Lambda
from rollouts.errors import TransientError
from rollouts.store import RecordClosedError, RolloutStore
from rollouts_cli.local import corrections

_CONFTEST = Path(__file__).resolve().parents[1] / "functions" / "conftest.py"
_spec = importlib.util.spec_from_file_location("review_functions_conftest", _CONFTEST)
assert _spec is not None and _spec.loader is not None
fn = importlib.util.module_from_spec(_spec)
sys.modules["review_functions_conftest"] = fn
_spec.loader.exec_module(fn)

# The fixtures of tests/functions (handlers in process on plain moto).
shared_loader = fn.shared_loader
environment = fn.environment
aws = fn.aws
context = fn.context
tasks = fn.tasks


@pytest.fixture(autouse=True)
def fenced_aliases() -> None:
    """Fence alias writes by RevisionId as AWS does (moto ignores RevisionId); CreateAlias
    on an existing alias is a ResourceConflictException, as on AWS. (The local engine
    installs the same corrections, once per process.)"""
    corrections.alias_revision_ids()
    corrections.alias_conflicts()


def status_change(rollout_id: str, status: str = "ABORTED", error: str | None = None) -> dict:
    """The EventBridge "Step Functions Execution Status Change" the release function gets."""
    sample = Path(__file__).resolve().parents[2] / "events/eventbridge/execution-aborted.json"
    event: dict[str, Any] = json.loads(sample.read_text())
    arn = f"arn:aws:states:us-east-1:123456789012:execution:lambda-rollouts:{rollout_id}"
    event["resources"] = [arn]
    event["detail"].update(executionArn=arn, name=rollout_id, status=status, error=error)
    event["detail"]["input"] = json.dumps(fn.Tasks.request())
    return event


@contextmanager
def wrapped(owner: Any, name: str, wrapper: Callable[..., Any]) -> Iterator[None]:
    """Replace ``owner.name`` by ``wrapper(original, self, *args, **kwargs)`` for a while."""
    original = getattr(owner, name)

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(original, self, *args, **kwargs)

    setattr(owner, name, call)
    try:
        yield
    finally:
        setattr(owner, name, original)


def describe_only(aws: Any, note: str = "on call: investigating errors") -> None:
    """An operator annotates the alias: same routing, a new RevisionId."""
    aws.lambda_.update_alias(FunctionName=fn.FUNCTION, Name=fn.ALIAS, Description=note)


# ---------------------------------------------------------------------------------------------
# F1 (critical): a PromoteTarget attempt still running after its retry succeeded and the
# rollout FINISHED takes its own promotion back: the execution and the record say SUCCEEDED,
# the alias is back on the baseline (or, on a first deploy, the alias is DELETED).
#
#   A1 = PromoteTarget attempt 1: observe, mark writing, UpdateAlias (target, R0 -> R1),
#        ... its answer to Step Functions is lost (Lambda.ServiceException/SdkClientException);
#   A2 = the retry: observe (alias == pending == wanted), no write, save, return;
#   FinishRollout: last look OK, record SUCCEEDED, unpin, release the lock, execution SUCCEEDS;
#   A1 saves: the record is not RUNNING -> RecordClosedError -> "take back" with R1, which is
#        still the alias's RevisionId (nothing wrote since) -> alias = baseline / alias deleted.
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("first_deploy", [False, True], ids=["update", "first-deploy"])
def test_a_late_promote_attempt_cannot_undo_a_rollout_that_already_succeeded(
    aws: Any, tasks: Any, first_deploy: bool
) -> None:
    aws.function(versions=2)
    if first_deploy:
        state = tasks.prepare(version="2")
    else:
        aws.create_alias("1")
        state = tasks.prepare(strategy="AllAtOnce")
    assert state["action"] == "promote"
    finished: list[dict[str, Any]] = []

    def update(original: Any, self: Any, rollout_id: str, now: str, **fields: Any) -> Any:
        if "promotedAt" in fields and not finished:
            # A1 wrote the alias and is about to save; meanwhile its retry and Finish ran.
            finished.append({})
            retried = tasks.promote(state)
            finished[0] = tasks.finish(retried)
        return original(self, rollout_id, now, **fields)

    with wrapped(RolloutStore, "update", update), pytest.raises(RecordClosedError):
        tasks.promote(state)  # A1, whose answer nobody hears any more

    assert finished[0]["action"] == "finished"
    assert aws.record("rollout-1")["status"] == "SUCCEEDED"
    assert aws.alias() is not None, "a first deploy that SUCCEEDED had its alias deleted"
    assert aws.routing() == ("2", {}), "a rollout that SUCCEEDED was silently reverted"


# ---------------------------------------------------------------------------------------------
# F2 (high): a PreconditionFailed on the rollout's OWN alias write is taken as drift without
# looking again, and drift leaves the alias "as found": a split, forever, lock released.
# ---------------------------------------------------------------------------------------------
def test_an_operator_annotating_the_alias_during_a_rollback_does_not_leave_the_split(
    aws: Any, tasks: Any
) -> None:
    """RollBack reads the alias (split, R1); the operator, seeing the alarm, adds a
    description (same routing, R2: by the project's own rule, not drift); RollBack's
    UpdateAlias with R1 is refused -> DRIFTED "changed by someone else during the
    rollback" -> the 10% split on the bad version stays, the lock is released."""
    aws.function(versions=2)
    aws.create_alias("1")
    shifted = tasks.shift(tasks.prepare())
    assert aws.routing() == ("1", {"2": 0.1})
    rolling_back = {**shifted, "action": "rollback", "reason": "alarm orders-errors is in ALARM"}
    annotated: list[bool] = []

    def route(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        if not annotated:
            annotated.append(True)
            describe_only(aws)
        return original(self, *args, **kwargs)

    with wrapped(Lambda, "route", route):
        outcome = tasks.roll_back({"rollout": rolling_back, "request": tasks.request()})

    assert annotated
    assert aws.lock() is None
    assert aws.routing() == ("1", {}), f"split left behind: {outcome}"
    assert outcome["status"] == "ROLLED_BACK", outcome


def test_an_operator_annotating_the_alias_during_a_shift_does_not_leave_a_split(
    aws: Any, tasks: Any
) -> None:
    """Step 1 (10%) is live; ShiftTraffic for step 2 observes (R1), the operator adds a
    description (R2, same routing), UpdateAlias(R1) is refused -> drift -> StopOnDrift
    leaves the alias as found: 10% on the target, forever, with no rollout holding it."""
    aws.function(versions=2)
    aws.create_alias("1")
    steps = {"steps": [{"weight": 10, "bakeSeconds": 0}, {"weight": 50, "bakeSeconds": 0}]}
    first = tasks.shift(tasks.prepare(strategy=steps))
    assert first["action"] == "shift" and aws.routing() == ("1", {"2": 0.1})
    annotated: list[bool] = []

    def route(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        if not annotated:
            annotated.append(True)
            describe_only(aws)
        return original(self, *args, **kwargs)

    with wrapped(Lambda, "route", route):
        second = tasks.shift(first)

    assert annotated
    if second["action"] == "drift":  # NextAction -> StopOnDrift
        tasks.roll_back({"rollout": second, "request": tasks.request()}, drift=True)
    ended = (aws.record("rollout-1")["status"], aws.routing(), aws.lock())
    # The second step has no bake: the shift goes on to the promotion, with no drift.
    assert second["action"] == "promote", f"{second['reason']}; ended {ended}"
    assert aws.routing() == ("1", {"2": 0.5})


def test_a_retried_shift_racing_its_first_attempt_does_not_end_in_drift_with_a_split(
    aws: Any, tasks: Any
) -> None:
    """A1 and A2 (the retry after a lost answer) both observe R0; A1 writes 10% (R1) and
    saves; A2's UpdateAlias(R0) is refused -> "changed by someone else" -> StopOnDrift
    leaves the alias as found: 10% on the target, DRIFTED, lock released."""
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare()
    first_attempt: list[dict[str, Any]] = []

    def route(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        if not first_attempt:
            first_attempt.append({})
            first_attempt[0] = tasks.shift(state)  # A1, wholly between A2's look and write
        return original(self, *args, **kwargs)

    with wrapped(Lambda, "route", route):
        retried = tasks.shift(state)  # A2: the answer Step Functions goes on with

    if retried["action"] == "drift":  # NextAction -> StopOnDrift
        tasks.roll_back({"rollout": retried, "request": tasks.request()}, drift=True)
    ended = (aws.record("rollout-1")["status"], aws.routing(), aws.lock())
    assert retried["action"] == "bake", f"{retried['reason']}; ended {ended}"


# ---------------------------------------------------------------------------------------------
# F3 (high): a first deploy's CreateAlias still in flight after a stop lands after the ending
# looked (no alias: "never created", lock released); its answer is lost (connection reset,
# read timeout), so the task never takes it back: the alias exists, 100% target, no rollout.
# Nothing can fence a CreateAlias: the only undo is the task's own, and it is one-shot.
# ---------------------------------------------------------------------------------------------
def test_a_first_deploy_create_landing_after_the_release_with_its_answer_lost_leaves_no_alias(
    aws: Any, tasks: Any
) -> None:
    aws.function(versions=2)
    state = tasks.prepare(version="2")
    released: list[dict[str, Any]] = []

    def create_alias(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        # StopExecution: the release runs while this task is between its mark and its create.
        released.append(tasks.run("release", status_change("rollout-1")))
        original(self, *args, **kwargs)  # the create lands...
        raise TransientError("ConnectionResetError: [Errno 104] (CreateAlias)")  # ...unheard

    with wrapped(Lambda, "create_alias", create_alias), pytest.raises(TransientError):
        tasks.promote(state)

    assert released[0]["released"] is True
    assert aws.record("rollout-1")["status"] == "ROLLED_BACK"
    assert aws.lock() is None
    assert aws.alias() is None, f"alias left behind after the rollback: {aws.routing()}"


def test_a_late_shift_whose_take_back_is_throttled_leaves_no_split(aws: Any, tasks: Any) -> None:
    """The late ShiftTraffic's write lands between the release's look and its write (the
    release is refused, DRIFTED, lock released); the task's take-back is one UpdateAlias
    with one SDK attempt, and it is throttled: nobody retries it (the execution is over)."""
    from rollouts.errors import ThrottlingError

    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare()
    calls: list[str] = []
    late: dict[str, Any] = {}

    in_release: list[bool] = []
    throttled: list[bool] = []

    def route(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[2].describe())
        if len(calls) == 1:  # the late shift's write: StopExecution, the release runs first
            late["call"] = (self, args, kwargs)
            in_release.append(True)
            try:
                tasks.run("release", status_change("rollout-1"))
            finally:
                in_release.clear()
            return late["written"]
        if in_release and "written" not in late:
            # The release's first write: the late shift lands just before it.
            shift_self, shift_args, shift_kwargs = late["call"]
            late["written"] = original(shift_self, *shift_args, **shift_kwargs)
        elif not in_release and not throttled:  # the late shift's own take-back, if any
            throttled.append(True)
            raise ThrottlingError("TooManyRequestsException: Rate exceeded (UpdateAlias)")
        return original(self, *args, **kwargs)

    with wrapped(Lambda, "route", route), pytest.raises((ThrottlingError, RecordClosedError)):
        tasks.shift(state)

    assert aws.lock() is None
    record = aws.record("rollout-1")
    assert aws.routing() == ("1", {}), f"{record['status']}: {record['reason']}"


# ---------------------------------------------------------------------------------------------
# F4 (medium): the release skips any execution whose error is "ValidationError" or
# "RolloutInProgress", but StopExecution lets anyone set that error: a canary stopped with
# --error ValidationError keeps its split, its RUNNING record and its lock.
# ---------------------------------------------------------------------------------------------
def test_a_stop_whose_error_is_named_validation_error_is_still_released(
    aws: Any, tasks: Any
) -> None:
    aws.function(versions=2)
    aws.create_alias("1")
    tasks.shift(tasks.prepare())
    assert aws.routing() == ("1", {"2": 0.1})

    answer = tasks.run("release", status_change("rollout-1", "ABORTED", error="ValidationError"))

    assert answer["released"] is True, answer
    assert aws.routing() == ("1", {})
    assert aws.lock() is None


# ---------------------------------------------------------------------------------------------
# F5 (medium-low): two endings of one rollout run together (close lets ENDING -> ENDING):
# RollBack in flight when StopExecution fires the release, or a release delivered twice.
# The loser's UpdateAlias is refused by the winner's own rollback and it reports DRIFTED
# ("changed by someone else during the rollback"): the execution ends AliasDrift although the
# rollout itself rolled the alias back.
# ---------------------------------------------------------------------------------------------
def test_a_rollback_racing_the_release_of_the_same_rollout_does_not_report_drift(
    aws: Any, tasks: Any
) -> None:
    aws.function(versions=2)
    aws.create_alias("1")
    shifted = tasks.shift(tasks.prepare())
    rolling_back = {**shifted, "action": "rollback", "reason": "alarm orders-errors is in ALARM"}
    raced: list[dict[str, Any]] = []

    def route(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append({})
            raced[0] = tasks.run("release", status_change("rollout-1"))
        return original(self, *args, **kwargs)

    with wrapped(Lambda, "route", route):
        outcome = tasks.roll_back({"rollout": rolling_back, "request": tasks.request()})

    assert aws.routing() == ("1", {})
    assert outcome["drifted"] is False, outcome["cause"]


# ---------------------------------------------------------------------------------------------
# F6 (low): an abort accepted between a task's look and its write still moves traffic: the
# API answered abortRequested=true, then 100% of traffic went to the target.
# ---------------------------------------------------------------------------------------------
def test_an_abort_accepted_before_the_promotion_write_moves_no_traffic(
    aws: Any, tasks: Any
) -> None:
    from rollouts.service import abort_rollout

    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare(strategy="AllAtOnce")
    aborted: list[dict[str, Any]] = []

    def route(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        if not aborted:
            store = RolloutStore(aws.table)
            aborted.append(
                abort_rollout("rollout-1", "alice", "bad build", store, datetime.now(UTC))
            )
        return original(self, *args, **kwargs)

    with wrapped(Lambda, "route", route):
        tasks.promote(state)

    assert aborted[0]["abortRequested"] is True
    assert aws.routing() == ("1", {}), "traffic moved after the abort was accepted"


# ---------------------------------------------------------------------------------------------
# F7 (low): PrepareRollout retried while its first attempt still runs: the retry's
# create_record loses to the first attempt's record, _give_back sees it RUNNING ("the rollout
# goes on") and then re-raises RecordClosedError anyway -> Catch -> RollBack: a healthy
# rollout ends RolledBack "a task failed with RecordClosedError" before doing anything.
# ---------------------------------------------------------------------------------------------
def test_a_retried_prepare_racing_its_first_attempt_goes_on(aws: Any, tasks: Any) -> None:
    aws.function(versions=2)
    aws.create_alias("1")
    fn.running_execution("rollout-1")
    event = tasks.prepare_event(tasks.request())
    first: list[dict[str, Any]] = []

    def create_record(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        if not first:
            first.append({})
            first[0] = tasks.run("prepare", event)  # attempt 1 writes its record first
        return original(self, *args, **kwargs)

    with wrapped(RolloutStore, "create_record", create_record):
        try:
            retried = tasks.run("prepare", event)  # attempt 2: the answer Step Functions hears
        except RecordClosedError as error:
            pytest.fail(f"the retry fails, and the state machine rolls back: {error}")

    assert retried["action"] == "shift"
    assert aws.record("rollout-1")["status"] == "RUNNING"
    assert aws.lock()["rolloutId"] == "rollout-1"


# ---------------------------------------------------------------------------------------------
# F8 (medium, two faults): a PrepareRollout retry that fails after taking the lock gives it
# back while the first attempt (answer lost, still running) is about to write the record:
# the record is RUNNING with no lock, the next retry returns "this task ran before" without
# taking the lock again, and tasks do not treat a free lock as lost. A second rollout of the
# same alias is then let in while the first one runs.
# ---------------------------------------------------------------------------------------------
def test_a_prepare_retry_giving_back_cannot_leave_a_running_rollout_without_its_lock(
    aws: Any, tasks: Any
) -> None:
    from rollouts.errors import ThrottlingError

    aws.function(versions=2)
    aws.create_alias("1")
    fn.running_execution("rollout-1")
    event = tasks.prepare_event(tasks.request())
    pins: list[str] = []

    def pin(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        pins.append(args[1])
        call = len(pins)
        if call == 1:  # attempt 1, answer lost; attempt 2 runs now and is throttled
            with pytest.raises(ThrottlingError):
                tasks.run("prepare", event)
        if call == 2:
            raise ThrottlingError("TooManyRequestsException: Rate exceeded (CreateAlias)")
        return original(self, *args, **kwargs)

    with wrapped(Lambda, "pin", pin):
        tasks.run("prepare", event)  # attempt 1 writes the record
    third = tasks.run("prepare", event)  # attempt 3: the answer Step Functions hears

    assert third["rolloutId"] == "rollout-1"
    assert aws.record("rollout-1")["status"] == "RUNNING"
    holder = aws.lock()
    assert holder is not None and holder["rolloutId"] == "rollout-1", (
        f"rollout-1 is RUNNING and the lock is {holder}: another rollout may take the alias"
    )


# ---------------------------------------------------------------------------------------------
# F8: the token on the record is the live wait's, whatever order the tasks' writes land in.
# A bake whose wait timed out before its task wrote the token (a cold start longer than a
# short wait) wrote it over the next wait's: an abort then woke the dead token and was unseen
# until the live wait's timeout (900 s in a hold). A retried JudgeHook that cleared `waiting`
# after the flow had gone on removed the bake's token the same way.
# ---------------------------------------------------------------------------------------------
class Answers:
    """Step Functions' SendTaskSuccess / SendTaskFailure, as calls."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_task_success(self, taskToken: str, output: str) -> None:  # noqa: N803
        self.sent.append(("success", taskToken))

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> None:  # noqa: N803
        self.sent.append((error, taskToken))


def test_a_late_token_write_never_hides_the_live_wait(aws: Any, tasks: Any) -> None:
    from rollouts.service import abort_rollout

    aws.function(versions=2)
    aws.create_alias("1")
    tasks.shift(tasks.prepare())
    store = RolloutStore(aws.table)
    earlier = "2026-12-01T10:00:00.000001+00:00"
    later = "2026-12-01T10:00:00.000002+00:00"
    live = {"kind": "bake", "token": "live", "since": later}
    dead = {"kind": "bake", "token": "dead", "since": earlier}

    assert store.set_waiting("rollout-1", live, later[:19]) is True
    assert store.set_waiting("rollout-1", dead, earlier[:19]) is False
    # The same write again (a lost answer, retried) still lands.
    assert store.set_waiting("rollout-1", live, later[:19]) is True
    # A late JudgeHook forgets only its own hook's wait.
    store.clear_waiting("rollout-1", "PreTraffic", later[:19])
    assert (aws.record("rollout-1") or {})["waiting"]["token"] == "live"

    sfn = Answers()
    abort_rollout("rollout-1", "alice", "bad build", store, datetime.now(UTC), sfn=sfn)

    assert sfn.sent == [("success", "live")]
    store.clear_waiting("rollout-1", "bake", later[:19])
    assert (aws.record("rollout-1") or {})["waiting"] is None


# ---------------------------------------------------------------------------------------------
# F9: a wake that failed was dropped silently: the API answered 202 "rolls back within
# seconds" while the rollout, in a hook's wait, would only see the abort hours later.
# ---------------------------------------------------------------------------------------------
class Unreachable(Answers):
    def send_task_success(self, taskToken: str, output: str) -> None:  # noqa: N803
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        raise ClientError(error, "SendTaskSuccess")


def test_a_wake_that_fails_says_so_and_keeps_the_request(aws: Any, tasks: Any) -> None:
    from rollouts.errors import ThrottlingError
    from rollouts.service import abort_rollout

    aws.function(versions=2)
    aws.create_alias("1")
    tasks.shift(tasks.prepare())
    store = RolloutStore(aws.table)
    since = datetime.now(UTC).isoformat(timespec="microseconds")
    store.set_waiting("rollout-1", {"kind": "bake", "token": "t", "since": since}, since[:19])

    with pytest.raises(ThrottlingError) as raised:
        abort_rollout(
            "rollout-1", "alice", "bad build", store, datetime.now(UTC), sfn=Unreachable()
        )

    assert str(raised.value).startswith(
        "the abort of rollout rollout-1 is recorded, but waking it failed ("
    )
    assert str(raised.value).endswith("it acts at its next look; ask again to wake it now")
    assert (aws.record("rollout-1") or {})["abort"]["by"] == "alice"
    # Asking again is harmless: the abort is taken again and wakes the rollout.
    sfn = Answers()
    abort_rollout("rollout-1", "alice", "bad build", store, datetime.now(UTC), sfn=sfn)
    assert sfn.sent == [("success", "t")]
