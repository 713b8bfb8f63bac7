from services.orchestrator.breaker import CircuitBreaker, State


def test_it_opens_after_consecutive_failures_only(clock):
    breaker = CircuitBreaker(failures=3, reset_seconds=10, clock=clock)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert breaker.state is State.CLOSED and breaker.allow()
    breaker.failed()
    assert breaker.state is State.OPEN
    assert not breaker.allow()
    assert breaker.retry_in() == 10


def test_after_the_reset_time_one_probe_goes_through_and_its_success_closes_it(clock):
    breaker = CircuitBreaker(failures=1, reset_seconds=10, clock=clock)
    breaker.failed()
    clock.advance(9.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.state is State.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # one probe at a time
    breaker.succeeded()
    assert breaker.state is State.CLOSED and breaker.allow()


def test_a_failed_probe_opens_it_for_another_reset_period(clock):
    breaker = CircuitBreaker(failures=5, reset_seconds=10, clock=clock)
    for _ in range(5):
        breaker.failed()
    clock.advance(10)
    assert breaker.allow()
    breaker.failed()
    assert breaker.state is State.OPEN
    clock.advance(5)
    assert not breaker.allow()
    clock.advance(5)
    assert breaker.allow()


def test_an_abandoned_probe_lets_the_next_call_probe(clock):
    breaker = CircuitBreaker(failures=1, reset_seconds=1, clock=clock)
    breaker.failed()
    clock.advance(1)
    assert breaker.allow()
    breaker.abandoned()
    assert breaker.allow()


def test_a_service_back_since_the_breaker_opened_starts_afresh(clock):
    breaker = CircuitBreaker(failures=1, reset_seconds=600, clock=clock)
    reachable_since = clock()
    clock.advance(1)
    breaker.failed()
    breaker.reconnected(reachable_since)  # reachable all along: still broken
    assert breaker.state is State.OPEN
    clock.advance(1)
    breaker.reconnected(clock())  # restarted after it opened
    assert breaker.state is State.CLOSED and breaker.allow()
