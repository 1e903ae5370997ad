from recorder.obs.progress import Progress


def test_idle_is_never_stalled() -> None:
    p = Progress(10, now=0)
    assert not p.observe(0, has_work=False, now=100)


def test_work_without_progress_stalls_after_the_timeout_and_recovers() -> None:
    p = Progress(10, now=0)
    assert not p.observe(0, has_work=True, now=5)
    assert not p.observe(1, has_work=True, now=8)  # progress restarts the clock
    assert not p.observe(1, has_work=True, now=18)
    assert p.observe(1, has_work=True, now=18.5)
    assert not p.observe(2, has_work=True, now=19)
