"""The release-window lottery: the order in which the requests collected in a window are
decided. Plain functions on plain values, tested alone (tests/bookings/test_lottery.py); the
draw itself (api/bookings/release.py) decides each request through allocate()'s own decision.

The rule (docs/fair-use.md says it for venues):

1. Everyone who asked is put in a random order drawn from the window's seed: the same seed and
   the same requests give the same order, so anyone holding the stored seed can replay a draw.
2. The next person to be served is always the one who has won the fewest slots in this draw so
   far; among those, the one with the fewest minutes granted in the period (before the draw,
   and won in it); among those, the one earlier in the random order.
3. That person's next request, in the order they made them, is decided: it wins when its slot is
   still free and every rule holds, and loses otherwise.
4. A person whose requests are all decided drops out; the draw ends when everyone has.

So no one is served a second slot while anyone who asked has not yet had every chance at a
first, and those with fewer hours go before those with more.
"""

import heapq
import random
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Ticket:
    """One request in the draw: its id, its person, and how many minutes it asks for."""

    request: str
    person: int
    minutes: int


def random_order(people: Sequence[int], seed: int) -> list[int]:
    """The people in the seed's random order (rule 1): sorted first, so the order depends only
    on who asked and on the seed, never on the order their requests were read in."""
    order = sorted(set(people))
    random.Random(seed).shuffle(order)
    return order


def draw(
    tickets: Sequence[Ticket],
    granted_minutes: Mapping[int, int],
    seed: int,
    decide: Callable[[Ticket], bool],
) -> list[tuple[Ticket, bool]]:
    """Decide every ticket in the lottery's order (rules 2 to 4), calling `decide(ticket)` (True
    if it won) for each in turn; the tickets in the order decided, each with its outcome.
    `tickets` are in the order they were made; `granted_minutes` is each person's minutes
    granted in the period before the draw."""
    queues: dict[int, deque[Ticket]] = defaultdict(deque)
    for ticket in tickets:
        queues[ticket.person].append(ticket)
    # (slots won, minutes granted, place in the random order, person): the smallest goes next.
    # A person's key changes only when they are served, so a heap keeps the order.
    waiting = [
        (0, granted_minutes.get(person, 0), place, person)
        for place, person in enumerate(random_order(list(queues), seed))
    ]
    heapq.heapify(waiting)
    decided = []
    while waiting:
        won, minutes, place, person = heapq.heappop(waiting)
        ticket = queues[person].popleft()
        outcome = decide(ticket)
        decided.append((ticket, outcome))
        if outcome:
            won, minutes = won + 1, minutes + ticket.minutes
        if queues[person]:
            heapq.heappush(waiting, (won, minutes, place, person))
    return decided
