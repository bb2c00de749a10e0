from mrqlab.raw import NO_STORAGE, SUFFIXES, raw_queue, resolve_processes


def test_the_raw_value_is_the_params_unless_a_param_name_is_given() -> None:
    whole = raw_queue("tasks_push.task1", retry_queue="task1")
    assert whole["job_factory"]("42") == {"path": "tasks_push.task1", "params": "42"}
    named = raw_queue("tasks_push.task1", retry_queue="task1", param="n")
    assert named["job_factory"]("42") == {"path": "tasks_push.task1", "params": {"n": "42"}}


def test_failed_and_retried_jobs_go_to_the_retry_queue() -> None:
    assert raw_queue("t.T", retry_queue="task1")["retry_queue"] == "task1"


def test_store_jobs_false_skips_mongodb_for_started_and_success_only() -> None:
    assert "statuses_no_storage" not in raw_queue("t.T", retry_queue="q")
    assert raw_queue("t.T", retry_queue="q", store_jobs=False)["statuses_no_storage"] == NO_STORAGE
    assert "failed" not in NO_STORAGE and "retry" not in NO_STORAGE


def test_suffixes_are_the_ones_mrq_reads_longest_first() -> None:
    from mrq.queue import Queue

    for suffix in SUFFIXES:
        assert Queue.get_queue_type(f"q{suffix}") == suffix[1:]
    assert Queue.get_queue_type("q") == "regular"


def test_processes_auto_is_one_per_cpu() -> None:
    argv = ["mrqlab-worker", "--greenlets", "5", "--processes", "auto", "q_raw"]
    assert resolve_processes(argv, cpus=lambda: 4) == [*argv[:4], "4", "q_raw"]
    assert resolve_processes(["w", "--processes=auto"], cpus=lambda: 3) == ["w", "--processes=3"]


def test_processes_auto_on_one_cpu_is_the_worker_itself() -> None:
    assert resolve_processes(["w", "--processes", "auto"], cpus=lambda: 1) == ["w", "--processes", "0"]


def test_other_arguments_are_left_alone() -> None:
    argv = ["w", "--processes", "2", "auto"]
    assert resolve_processes(argv, cpus=lambda: 8) == argv
    assert resolve_processes(["w", "--processes"], cpus=lambda: 8) == ["w", "--processes"]
