"""Sign-in throttling per client address and per account, in a sliding window.

Every sign-in (an admin's, or a viewer line's on any surface) first :meth:`reserves
<LoginThrottle.reserve>` an attempt, then checks the password, then settles the attempt as
failed or succeeded. An attempt in flight counts as a failure until it is settled, so
concurrent guesses beyond the limit are refused before any of them is checked.

The rules (README, "Sign-in throttling"):

* ``max_failures`` failures (or open attempts) from one address, for any accounts, within
  ``window`` seconds lock that address out: every attempt from it is refused, the right
  password included, until the oldest failure leaves the window. Refusing the right
  password too is what makes the lock-out worth having: otherwise a guesser would learn
  the password from the one answer that is not a refusal.
* ``account_max_failures`` failures against one account, from all addresses together,
  lock that account out for every address *except* those that signed in to it within
  ``known_for`` seconds: a botnet spreading its guesses over many addresses is stopped,
  and cannot lock the account's usual devices out by doing so.
* An address known to an account is exempt from the address lock-out for that account
  (a neighbour behind the same NAT guessing other accounts does not lock it out), but
  never from its own failures: ``max_failures`` failures on one (address, account) pair
  lock that pair, known or not.
* A success clears the failures of its own (address, account) pair, and only those:
  signing in to one's own account does not wipe the guesses made at another.

In-process and thread-safe; the clock is an argument so tests can move time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import TypeVar

_KNOWN_FOR = 24 * 3600.0
_MAX_KEYS = 100_000  # bound memory under a spray of addresses or account names
K = TypeVar("K", bound=Hashable)
_NONE: deque[tuple[float, str]] = deque(maxlen=0)  # no failures (never appended to)


def _close(open_attempts: Counter[K], key: K) -> None:
    open_attempts[key] -= 1
    if open_attempts[key] <= 0:
        del open_attempts[key]


class LockedOut(Exception):
    """Refused before the password was checked; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after}s")
        self.retry_after = retry_after


class Attempt:
    """One reserved sign-in attempt; settle it with :meth:`failed` or :meth:`succeeded`.

    Used as a context manager, an attempt left unsettled (the check raised something
    that says nothing about the password) is released without counting.
    """

    __slots__ = ("_throttle", "address", "account", "_open")

    def __init__(self, throttle: LoginThrottle, address: str, account: str) -> None:
        self._throttle = throttle
        self.address = address
        self.account = account
        self._open = True

    def failed(self) -> None:
        if self._open:
            self._open = False
            self._throttle._settle(self, failed=True)

    def succeeded(self) -> None:
        if self._open:
            self._open = False
            self._throttle._settle(self, failed=False)

    def release(self) -> None:
        if self._open:
            self._open = False
            self._throttle._settle(self, failed=None)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class LoginThrottle:
    """Reserve, check, settle: see the module docstring for the rules."""

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        account_max_failures: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        known_for: float = _KNOWN_FOR,
    ) -> None:
        self.max_failures = max_failures
        self.account_max_failures = account_max_failures or max_failures
        self.window = window_seconds
        self.known_for = known_for
        self.clock = clock
        # Failure times, with the other half of the pair to clear a success precisely.
        self._by_address: dict[str, deque[tuple[float, str]]] = {}
        self._by_account: dict[str, deque[tuple[float, str]]] = {}
        self._open_address: Counter[str] = Counter()
        self._open_account: Counter[str] = Counter()
        self._open_pair: Counter[tuple[str, str]] = Counter()
        self._known: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def reserve(self, address: str, account: str) -> Attempt:
        """An attempt for ``account`` from ``address``, or :class:`LockedOut`."""
        pair = (address, account)
        with self._lock:
            now = self.clock()
            by_address = self._recent(self._by_address, address, now)
            by_account = self._recent(self._by_account, account, now)
            open_address = self._open_address[address]
            open_account = self._open_account[account]
            open_pair = self._open_pair[pair]
            # The common case (a player's every request): nothing failed, little in flight.
            if (
                by_address
                or by_account
                or open_address + 1 >= self.max_failures
                or open_account + 1 >= self.account_max_failures
            ):
                self._check(pair, by_address, by_account, now)
            self._open_address[address] = open_address + 1
            self._open_account[account] = open_account + 1
            self._open_pair[pair] = open_pair + 1
            return Attempt(self, address, account)

    def succeed(self, address: str, account: str) -> None:
        """A sign-in whose password was already found right, in one step: what
        ``reserve(address, account)`` then ``succeeded()`` would do (:class:`LockedOut`
        while the address or the account is locked out, else the pair's failures are
        cleared and the address is known to the account), without the attempt in flight in
        between (nothing is awaited between the check and the settling). A player's every
        request with a cached line goes this way."""
        pair = (address, account)
        with self._lock:
            now = self.clock()
            by_address = self._recent(self._by_address, address, now)
            by_account = self._recent(self._by_account, account, now)
            if (
                by_address
                or by_account
                or self._open_address[address] + 1 >= self.max_failures
                or self._open_account[account] + 1 >= self.account_max_failures
            ):
                self._check(pair, by_address, by_account, now)  # as reserve would
                if by_address or by_account:
                    self._forget_pair(address, account)
            if len(self._known) >= _MAX_KEYS:
                self._known = {p: t for p, t in self._known.items() if now - t <= self.known_for}
                if len(self._known) >= _MAX_KEYS:
                    self._known.clear()
            self._known[pair] = now

    def _check(
        self,
        pair: tuple[str, str],
        by_address: deque[tuple[float, str]],
        by_account: deque[tuple[float, str]],
        now: float,
    ) -> None:
        address, account = pair
        known = now - self._known.get(pair, -self.known_for - 1) <= self.known_for
        pair_failures = [t for t, a in by_address if a == account]
        waits = []
        if len(pair_failures) + self._open_pair[pair] >= self.max_failures:
            waits.append(self._wait(pair_failures, self.max_failures, now))
        if not known:
            if len(by_address) + self._open_address[address] >= self.max_failures:
                waits.append(self._wait([t for t, _ in by_address], self.max_failures, now))
            if len(by_account) + self._open_account[account] >= self.account_max_failures:
                times = [t for t, _ in by_account]
                waits.append(self._wait(times, self.account_max_failures, now))
        if waits:
            raise LockedOut(max(waits))

    def _settle(self, attempt: Attempt, *, failed: bool | None) -> None:
        address, account = attempt.address, attempt.account
        pair = (address, account)
        with self._lock:
            now = self.clock()
            _close(self._open_address, address)
            _close(self._open_account, account)
            _close(self._open_pair, pair)
            if failed is True:
                self._bound(self._by_address)
                self._bound(self._by_account)
                self._by_address.setdefault(address, deque()).append((now, account))
                self._by_account.setdefault(account, deque()).append((now, address))
            elif failed is False:
                self._forget_pair(address, account)
                if len(self._known) >= _MAX_KEYS:
                    self._known = {
                        p: t for p, t in self._known.items() if now - t <= self.known_for
                    }
                    if len(self._known) >= _MAX_KEYS:
                        self._known.clear()
                self._known[pair] = now

    def _forget_pair(self, address: str, account: str) -> None:
        for table, key, other in (
            (self._by_address, address, account),
            (self._by_account, account, address),
        ):
            entries = table.get(key)
            if entries is None:
                continue
            kept = deque(e for e in entries if e[1] != other)
            if kept:
                table[key] = kept
            else:
                del table[key]

    def _recent(
        self, table: dict[str, deque[tuple[float, str]]], key: str, now: float
    ) -> deque[tuple[float, str]]:
        entries = table.get(key)
        if entries is None:
            return _NONE
        while entries and now - entries[0][0] > self.window:
            entries.popleft()
        if not entries:
            del table[key]
        return entries

    def _wait(self, times: list[float], limit: int, now: float) -> int:
        """Seconds until fewer than ``limit`` of ``times`` are in the window (at least 1:
        attempts still in flight settle within a moment)."""
        if len(times) < limit:
            return 1
        oldest_that_must_go = sorted(times)[len(times) - limit]
        return max(1, int(self.window - (now - oldest_that_must_go)) + 1)

    @staticmethod
    def _bound(table: dict[str, deque[tuple[float, str]]]) -> None:
        if len(table) >= _MAX_KEYS:
            table.clear()
