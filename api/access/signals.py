"""What the access app tells the rest of the project, sent after the transaction commits.

The notifications app connects to these to warn people and call webhooks:

- `access_problem(grant_ids)`: grants that need a person (`Grant.problem` says why; it is set
  with `flagged_at`, so a sweep over `flagged_at` finds the same grants if a receiver missed one).
- `checked_in(booking_id, at)`: the lock accepted the booking's code for the first time.
"""

from django.dispatch import Signal

access_problem = Signal()
checked_in = Signal()
