"""The sign-in throttle's rules with a clock the test moves (accounts/throttle.py)."""

from __future__ import annotations

import random

import pytest

from palinsesto.accounts.throttle import LockedOut, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, address: str, account: str) -> None:
    throttle.reserve(address, account).failed()


def test_open_attempts_count_so_concurrent_ones_beyond_the_limit_are_refused() -> None:
    throttle = LoginThrottle(3, 60, clock=Clock())
    open_attempts = [throttle.reserve("a", "root") for _ in range(3)]
    with pytest.raises(LockedOut) as refused:
        throttle.reserve("a", "root")
    assert refused.value.retry_after == 1  # only in flight: they settle in a moment
    for attempt in open_attempts:
        attempt.release()  # settled without a verdict: nothing counted
    throttle.reserve("a", "root").succeeded()


def test_lock_out_lasts_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, 60, clock=clock)
    for step in range(3):
        clock.now += step
        fail(throttle, "a", "root")
    with pytest.raises(LockedOut) as refused:
        throttle.reserve("a", "root")
    assert 55 <= refused.value.retry_after <= 61
    clock.now += 61
    throttle.reserve("a", "root").succeeded()


def test_success_clears_only_its_own_pair() -> None:
    throttle = LoginThrottle(4, 60, clock=Clock())
    fail(throttle, "a", "victim")
    fail(throttle, "a", "victim")
    fail(throttle, "a", "mine")
    throttle.reserve("a", "mine").succeeded()  # clears the one typo at "mine"
    fail(throttle, "a", "victim")
    fail(throttle, "a", "victim")
    with pytest.raises(LockedOut):
        throttle.reserve("a", "victim")


def test_known_pairs_survive_locks_made_by_others_but_not_their_own_failures() -> None:
    throttle = LoginThrottle(3, 60, account_max_failures=4, clock=Clock())
    throttle.reserve("home", "alice").succeeded()
    for i in range(3):
        fail(throttle, "home", f"other{i}")  # a neighbour behind the same address
    for i in range(4):
        fail(throttle, f"bot{i}", "alice")  # guesses at alice spread over addresses
    with pytest.raises(LockedOut):
        throttle.reserve("home", "bob")  # the address is locked for strangers
    with pytest.raises(LockedOut):
        throttle.reserve("elsewhere", "alice")  # the account is locked for new addresses
    throttle.reserve("home", "alice").succeeded()  # its own known address is not
    for _ in range(3):
        fail(throttle, "home", "alice")
    with pytest.raises(LockedOut):
        throttle.reserve("home", "alice")


def test_attempt_as_context_manager_releases_on_error() -> None:
    throttle = LoginThrottle(1, 60, clock=Clock())
    with pytest.raises(RuntimeError), throttle.reserve("a", "root"):
        raise RuntimeError("database down")
    throttle.reserve("a", "root").failed()
    with pytest.raises(LockedOut):
        throttle.reserve("a", "root")


def _outcome(throttle: LoginThrottle, address: str, account: str, *, one_step: bool) -> object:
    try:
        if one_step:
            throttle.succeed(address, account)
        else:
            throttle.reserve(address, account).succeeded()
    except LockedOut as exc:
        return ("locked", exc.retry_after)
    return "ok"


def test_succeed_in_one_step_decides_as_reserve_then_succeeded() -> None:
    """A random history of failures and successes over a few addresses and accounts,
    replayed on two throttles: the one-step success (admission's cached lines) refuses and
    clears exactly as the two-step one."""
    rng = random.Random(7)
    clocks = Clock(), Clock()
    pair = LoginThrottle(3, 60, 5, clock=clocks[0]), LoginThrottle(3, 60, 5, clock=clocks[1])
    locked = 0
    for _ in range(3000):
        address, account = rng.choice("abc"), rng.choice(["u1", "u2", "u3"])
        step = rng.random()
        delta = rng.choice([0.0, 0.5, 7.0])
        for clock in clocks:  # the same moves on both
            clock.now += delta
        if step < 0.45:
            for throttle in pair:
                try:
                    fail(throttle, address, account)
                except LockedOut:
                    pass
        else:
            two = _outcome(pair[0], address, account, one_step=False)
            one = _outcome(pair[1], address, account, one_step=True)
            assert one == two, (address, account)
            locked += two != "ok"
    assert locked > 100  # lock-outs were compared too, not only successes
