from dotask import do_task1, do_task2
from tasks_push import task1, task2


def test_do_tasks_answer_with_their_name() -> None:
    assert do_task1(1234) == "task1:1234"
    assert do_task2("5678") == "task2:5678"


def test_mrq_tasks_return_the_same() -> None:
    assert task1().run(4321) == "task1:4321"
    assert task2().run(8765) == "task2:8765"
