"""The task contract: every registered task implements it, and the registry answers for unknown names."""

import inspect

import pytest

from codesign import tasks
from codesign.errors import ConfigError
from codesign.merit import EFFICIENCY, RESIDUAL_RMS
from codesign.tasks.base import Task, TaskConfig


@pytest.mark.parametrize("name", list(tasks.TASKS))
def test_every_registered_task_implements_the_contract(name):
    task = tasks.get(name)
    assert isinstance(task, Task) and task.name == name and tasks.get(name) is task
    assert not inspect.isabstract(type(task))  # every abstract method is implemented
    assert issubclass(task.Config, TaskConfig) and task.Config().task == name
    assert task.merit in (EFFICIENCY, RESIDUAL_RMS)
    field = task.data_file_field
    assert field == "" or field in task.Config.model_fields["data"].annotation.model_fields


def test_the_kind_of_task_is_its_merit():
    kinds = {name: tasks.get(name).merit.is_efficiency for name in tasks.TASKS}
    assert kinds == {"l1-anomaly": True, "dqm-histograms": True, "dqm-lumisections": True, "jet-compression": False}
    # only event-scoring tasks can be judged on a cheap first pass (compression trains in seconds)
    assert all(tasks.get(n).low_fidelity == efficient for n, efficient in kinds.items())


def test_an_unknown_task_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown task 'l2-anomaly'; known tasks: l1-anomaly, dqm-histograms"):
        tasks.get("l2-anomaly")


def test_signal_names_come_from_the_config_before_any_data():
    l1 = tasks.get("l1-anomaly")
    assert l1.signal_names(l1.Config()) == ("Ato4l", "leptoquark", "hToTauTau", "hChToTauNu")
    files = l1.Config.model_validate({"data": {"background_file": "b.h5", "signal_files": {"x": "x.h5"},
                                               "signals": ["x"]}})
    assert l1.signal_names(files) == ("x",)
    assert tasks.get("jet-compression").signal_names(tasks.get("jet-compression").Config()) == ()


def test_a_task_is_one_subclass():
    """Adding a task: a subclass with its config, data and input groups (the rest is the family's)."""
    from codesign.tasks import l1_anomaly
    from codesign.tasks.anomaly import AnomalyTask

    class Toy(AnomalyTask):
        name = "toy"
        Config = l1_anomaly.Config

        def load_data(self, config, train_limit=None, store=None):
            raise NotImplementedError

        def input_groups(self, input_names):
            return ["x"] * len(input_names)

    toy = Toy()
    assert toy.merit is EFFICIENCY and toy.input_groups(["a", "b"]) == ["x", "x"]
    assert toy.view(None, "data") == "data"  # the default view: all of the study's data

    class Incomplete(Task):
        name = "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()
