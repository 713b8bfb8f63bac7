import time

from services.common.deadlines import Deadline, call_timeout


class _Context:
    def __init__(self, remaining):
        self.remaining = remaining

    def time_remaining(self):
        return self.remaining


def test_remaining_keeps_the_margin_back_and_never_goes_negative():
    deadline = Deadline.within(1.0)
    assert 0.85 < deadline.remaining(margin=0.1) <= 0.9
    assert Deadline.within(0.01).remaining(margin=1.0) == 0.0


def test_earliest_picks_the_sooner_of_two_budgets():
    deadline = Deadline.within(10.0)
    assert deadline.earliest(None) is deadline
    assert deadline.earliest(1.0).remaining() <= 1.0
    assert deadline.earliest(20.0).remaining() > 9.0


def test_wall_clock_is_now_plus_what_remains():
    assert abs(Deadline.within(5.0).wall_clock() - (time.time() + 5.0)) < 0.05


def test_call_timeout_passes_the_callers_remaining_time_less_margin():
    assert call_timeout(_Context(None), 0.05) is None
    assert call_timeout(_Context(2.0), 0.05) == 1.95
    assert call_timeout(_Context(0.01), 0.05) == 0.0
