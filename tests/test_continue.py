"""A finished or interrupted run trained on to more epochs (``ffnn train --resume RUN --epochs N``,
``run.resume(..., epochs=N)``): the run of N epochs, bit for bit, where its schedule allows."""

import numpy as np
import pytest

from ffnn import checkpoint, run, runs, settings
from ffnn.callbacks import Callback
from ffnn.config import configure
from ffnn.errors import RunFolderError, SettingError
from ffnn.folder import recipe_of
from test_run_folder import CtrlCAtEpochEnd


def moons(**flags):
    values = {"dataset": "moons", "sizes": [2, 8, 2], "eta": 0.5, "seed": 3, "checkpoint_every": 1, "validation": 0}
    return configure(None, None, {**values, **flags})


def assert_same_run(a, b):
    """Two runs' results hold the same numbers: parameters, history, and metrics.csv."""
    for p, q in zip(a.network.parameters(), b.network.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
    assert a.history.epoch == b.history.epoch
    assert a.history.train_cost == b.history.train_cost and a.history.test_accuracy == b.history.test_accuracy
    rows = [(r.folder / "metrics.csv").read_text().splitlines() for r in (a, b)]
    assert [line.split(",")[:4] for line in rows[0]] == [line.split(",")[:4] for line in rows[1]]


def config_file(folder):
    file = folder / "config.toml"
    return settings.read(file)


@pytest.mark.parametrize(
    "flags",
    [
        {},  # plain SGD, constant η: the sources' fused path
        {"optimizer": "adam", "eta": 0.01},  # the optimiser's moments and step count carry on
        {"optimizer": "momentum", "schedule": "step", "step_every": 3, "step_factor": 0.5},  # steps of fixed length
        {"dropout": 0.2},  # the random generator carries on
    ],
    ids=["sgd", "adam", "step-every-3", "dropout"],
)
def test_a_run_of_10_epochs_trained_on_to_20_is_the_run_of_20(flags, tmp_path):
    whole = run.train(moons(epochs=20, **flags), tmp_path / "whole", quiet=True)
    first = run.train(moons(epochs=10, **flags), tmp_path / "R", quiet=True)
    assert first.history.epoch[-1] == 9
    longer = run.resume(tmp_path / "R", quiet=True, epochs=20)
    assert_same_run(longer, whole)
    assert config_file(tmp_path / "R")["epochs"] == 20 and longer.summary["epochs_completed"] == 20
    # its time is the whole run's: the first session's epochs, then the second session
    assert longer.summary["wall_seconds"] >= sum(first.history.seconds) + sum(longer.history.seconds[10:])
    newest = checkpoint.load(checkpoint.latest(tmp_path / "R" / "checkpoints"))
    assert (
        newest["epoch"] == 19 and newest["finished"] is True and newest["run"] == run.run_tag(moons(epochs=20, **flags))
    )


def test_an_interrupted_run_trained_on_past_its_planned_end_is_the_longer_run(tmp_path):
    whole = run.train(moons(epochs=12), tmp_path / "whole", quiet=True)
    stopped = run.train(moons(epochs=8), tmp_path / "R", quiet=True, callbacks=[CtrlCAtEpochEnd(2)])
    assert stopped.interrupted and stopped.history.epoch == [0, 1, 2]
    assert_same_run(run.resume(tmp_path / "R", quiet=True, epochs=12), whole)


def test_a_recipe_run_keeps_its_recipe_through_the_extension(tmp_path):
    run.train(moons(epochs=2), tmp_path / "R", recipe="moons-demo", quiet=True)
    longer = run.resume(tmp_path / "R", quiet=True, epochs=3)
    assert recipe_of(tmp_path / "R") == "moons-demo" and longer.summary["recipe"] == "moons-demo"
    assert recipe_of(tmp_path) is None  # no config.toml


@pytest.mark.parametrize(
    ("flags", "schedule"),
    [
        ({"optimizer": "adam", "eta": 0.01, "schedule": "cosine"}, "cosine"),
        ({"optimizer": "adam", "eta": 0.01, "schedule": "cosine", "warmup_epochs": 2}, "cosine"),
        ({"optimizer": "adam", "eta": 0.01, "schedule": "exponential"}, "exponential"),
        ({"optimizer": "adam", "eta": 0.01, "schedule": "step"}, "step"),  # every third of the run
    ],
)
def test_a_schedule_planned_for_the_old_length_is_refused_before_anything_changes(flags, schedule, tmp_path):
    run.train(moons(epochs=6, **flags), tmp_path / "R", quiet=True)
    before = {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()}
    with pytest.raises(SettingError) as refused:
        run.resume(tmp_path / "R", quiet=True, epochs=12)
    assert str(refused.value) == (
        f"{tmp_path / 'R'}'s learning rate follows a {schedule} schedule planned for its 6 epochs, so trained on to "
        "12 it would not be the run of 12 epochs. Add --replan-schedule to train the epochs left on the schedule "
        "planned for 12 (η jumps to where that plan is at epoch 6), or start a new run with --epochs 12."
    )
    after = {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()}
    assert after == before


def test_a_replanned_cosine_run_keeps_its_new_plan_through_a_later_resume(tmp_path):
    """With replan_schedule the folder becomes the 12-epoch run's: interrupted during the extension
    and resumed, it gives what the extension never stopped gives — and not what the old plan did."""
    flags = {"optimizer": "adam", "eta": 0.05, "schedule": "cosine", "warmup_epochs": 1}
    for name in ("A", "B"):
        run.train(moons(epochs=6, **flags), tmp_path / name, quiet=True)
    straight = run.resume(tmp_path / "A", quiet=True, epochs=12, replan_schedule=True)
    stopped = run.resume(tmp_path / "B", quiet=True, epochs=12, replan_schedule=True, callbacks=[CtrlCAtEpochEnd(8)])
    assert stopped.interrupted and stopped.history.epoch[-1] == 8
    assert_same_run(run.resume(tmp_path / "B", quiet=True), straight)
    assert config_file(tmp_path / "B")["epochs"] == 12
    # epochs 6–11 did not run at the end of the 6-epoch plan, where η is 0 and nothing moves
    assert straight.history.train_cost[-1] != straight.history.train_cost[5]


def test_a_run_that_early_stopping_ended_continues_from_its_last_epoch_with_patience_afresh(tmp_path):
    """η so small that no prediction changes: early stopping ends the run at epoch 2 (patience 2),
    and model.npz holds epoch 0's parameters (the best). Trained on, the run starts from epoch 2's
    parameters — its costs are those of a run without early stopping, bit for bit — and stops
    again after two more epochs without a better validation accuracy."""
    flags = {"eta": 1e-9, "validation": 100, "cost": "cross_entropy"}
    stopped = run.train(moons(epochs=40, patience=2, **flags), tmp_path / "R", quiet=True)
    assert stopped.history.epoch == [0, 1, 2]
    longer = run.resume(tmp_path / "R", quiet=True, epochs=40)
    assert longer.history.epoch == [0, 1, 2, 3, 4]
    plain = run.train(moons(epochs=5, **flags), tmp_path / "plain", quiet=True)
    assert longer.history.train_cost == plain.history.train_cost
    assert longer.history.train_cost[3] != stopped.history.train_cost[0]  # not restarted from the best epoch


def test_an_extension_cut_short_after_its_checkpoint_was_retagged_is_continued_by_the_same_call(tmp_path):
    whole = run.train(moons(epochs=6), tmp_path / "whole", quiet=True)
    run.train(moons(epochs=3), tmp_path / "R", quiet=True)
    path = checkpoint.latest(tmp_path / "R" / "checkpoints")
    state = checkpoint.load(path)
    del state["path"], state["finished"]
    checkpoint.save(path, {**state, "run": run.run_tag(moons(epochs=6))})  # killed before config.toml was rewritten
    with pytest.raises(RunFolderError, match="belongs to another run"):
        run.resume(tmp_path / "R", quiet=True)
    assert_same_run(run.resume(tmp_path / "R", quiet=True, epochs=6), whole)


def test_trained_on_to_no_more_epochs_than_it_has_is_refused(tmp_path):
    run.train(moons(epochs=4), tmp_path / "R", quiet=True)
    for epochs in (2, 4):
        with pytest.raises(SettingError, match=r"has trained 4 epochs already: give --epochs more than 4"):
            run.resume(tmp_path / "R", quiet=True, epochs=epochs)


class Observe(Callback):
    """Calls ``look()`` as each epoch ends, keeping what it returned (the run trains on)."""

    def __init__(self, look):
        self.look, self.seen = look, []

    def on_epoch_end(self, network, history):
        self.seen.append(self.look())
        return False


def test_a_run_being_trained_on_reads_as_running_and_refuses_a_second_process(tmp_path):
    """The extension rewrites config.toml whole: the folder's lock must not be on the old file,
    or the run would read as finished while it trains and a second --resume would be let in."""
    run.train(moons(epochs=2), tmp_path / "R", quiet=True)

    def look():
        with pytest.raises(RunFolderError, match="is being trained by another process"), runs.training(tmp_path / "R"):
            pass
        return runs.read(tmp_path / "R").status

    observe = Observe(look)
    run.resume(tmp_path / "R", quiet=True, epochs=4, callbacks=[observe])
    assert observe.seen == ["running", "running"]
    assert runs.read(tmp_path / "R").status == "finished" and not runs.is_running(tmp_path / "R")


def test_an_extension_killed_before_its_first_epoch_ends_reads_as_interrupted_not_finished(tmp_path):
    """A kill after the folder became the 6-epoch run's, before epoch 3 ended: the folder must not
    list as a finished run of 3 epochs (the old summary.json), but as interrupted at 3 of 6."""
    run.train(moons(epochs=3), tmp_path / "R", quiet=True)

    class Killed(Callback):
        def on_epoch_end(self, network, history):
            raise SystemExit(137)

    with pytest.raises(SystemExit):
        run.resume(tmp_path / "R", quiet=True, epochs=6, callbacks=[Killed()])
    found = runs.read(tmp_path / "R")
    assert (found.status, found.epochs, found.config.epochs) == ("interrupted", 3, 6)


def test_a_run_whose_early_stopping_ran_out_of_patience_at_its_last_epoch_trains_on_with_patience_afresh(tmp_path):
    """Patience ran out at epoch 2, the run's last: it finished, not "stopped early", yet its
    early stopping would end the extension after one epoch. Its patience counts from epoch 2."""
    flags = {"eta": 1e-9, "validation": 100, "cost": "cross_entropy", "patience": 2}
    ended = run.train(moons(epochs=3, **flags), tmp_path / "R", quiet=True)
    assert ended.history.epoch == [0, 1, 2]
    assert run.resume(tmp_path / "R", quiet=True, epochs=10).history.epoch == [0, 1, 2, 3, 4]


def test_a_run_that_halve_on_plateau_ended_is_refused_before_anything_changes(tmp_path):
    """η so small that nothing improves: halved after each epoch from the second, η reaches
    η₀/128 at epoch 7 and the schedule stops the run, as it would stop the run of 60."""
    flags = {"eta": 1e-9, "validation": 100, "schedule": "halve-on-plateau", "plateau_patience": 1}
    ended = run.train(moons(epochs=40, **flags), tmp_path / "R", quiet=True)
    assert ended.history.epoch[-1] == 7
    before = {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()}
    with pytest.raises(SettingError) as refused:
        run.resume(tmp_path / "R", quiet=True, epochs=60)
    assert str(refused.value) == (
        f"{tmp_path / 'R'} ended when halve-on-plateau had halved η to η₀/128 (7.8125e-12), where it stops a run: "
        "the run of 60 epochs ends there too. Start a new run (--out NEW) with another schedule or a larger "
        "--plateau-patience to train longer."
    )
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()} == before


@pytest.mark.parametrize(("epochs", "shown"), [(5.5, "5.5"), ("6", "'6'"), (True, "True"), (0, "0")])
def test_a_number_of_epochs_that_is_no_count_is_refused_before_anything_changes(epochs, shown, tmp_path):
    run.train(moons(epochs=2), tmp_path / "R", quiet=True)
    before = {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()}
    with pytest.raises(SettingError) as refused:
        run.resume(tmp_path / "R", quiet=True, epochs=epochs)
    assert str(refused.value) == f"epochs must be an integer >= 1; got {shown}."
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()} == before


def test_a_resumed_run_may_change_where_it_runs_and_how_it_is_saved_and_records_it(tmp_path):
    """The settings that decide no number — the backend, threads, checkpoints, the MPI wait — may
    change on resume (the checkpoint's tag leaves them out); config.toml then records them. Another
    backend gives the same run to rounding."""
    whole = run.train(moons(epochs=6, dtype="float64"), tmp_path / "whole", quiet=True)
    run.train(moons(epochs=6, dtype="float64"), tmp_path / "R", quiet=True, callbacks=[CtrlCAtEpochEnd(2)])
    session = {"backend": "array_api_strict", "threads": 1, "keep_checkpoints": 2, "mpi_timeout": 60.0}
    resumed = run.resume(tmp_path / "R", quiet=True, session=session)
    assert resumed.network.backend.name == "array_api_strict" and resumed.history.epoch[-1] == 5
    for p, q in zip(resumed.network.parameters(), whole.network.parameters(), strict=True):
        np.testing.assert_allclose(np.asarray(p), q, rtol=1e-9, atol=1e-12)
    written = config_file(tmp_path / "R")
    assert {k: written[k] for k in session} == session and written["epochs"] == 6
    assert len(list((tmp_path / "R" / "checkpoints").glob("checkpoint-*.npz"))) == 2


def test_a_resumed_run_keeps_the_settings_that_decide_its_numbers(tmp_path):
    run.train(moons(epochs=3), tmp_path / "R", quiet=True, callbacks=[CtrlCAtEpochEnd(0)])
    before = {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()}
    with pytest.raises(SettingError) as refused:
        run.resume(tmp_path / "R", quiet=True, session={"threads": 2, "eta": 0.1, "seed": 4})
    assert str(refused.value) == (
        "eta, seed decide the run's numbers: a resumed run keeps its own (those of where it runs and how it is "
        "saved may change)."
    )
    with pytest.raises(SettingError, match="threads must be an integer >= 0"):
        run.resume(tmp_path / "R", quiet=True, session={"threads": -1})
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()} == before


def test_an_extension_killed_before_its_config_was_written_is_continued_by_a_plain_resume(tmp_path, monkeypatch):
    """A kill between the retagged checkpoint and the new config.toml: the checkpoint says the
    length asked for, so ``--resume RUN`` alone finishes the extension (it refused, advising
    --overwrite, which would lose the run)."""
    whole = run.train(moons(epochs=6), tmp_path / "whole", quiet=True)
    run.train(moons(epochs=3), tmp_path / "R", quiet=True)

    def killed(*args, **kwargs):
        raise SystemExit(137)

    with monkeypatch.context() as patched:
        patched.setattr(run.run_folder, "write_config", killed)
        with pytest.raises(SystemExit):
            run.resume(tmp_path / "R", quiet=True, epochs=6)
    assert config_file(tmp_path / "R")["epochs"] == 3 and runs.read(tmp_path / "R").status == "interrupted"
    assert_same_run(run.resume(tmp_path / "R", quiet=True), whole)
    assert config_file(tmp_path / "R")["epochs"] == 6


def test_a_resume_refused_for_a_folder_in_training_touches_nothing_there(tmp_path):
    """The remains of an interrupted write (.*.tmp) are removed only once this process holds the
    folder: in a folder another process trains, one is that process's write in flight."""
    run.train(moons(epochs=3), tmp_path / "R", quiet=True, callbacks=[CtrlCAtEpochEnd(0)])
    in_flight = tmp_path / "R" / ".metrics.csv.deadbeef.tmp"
    with runs.training(tmp_path / "R"):  # as another process would hold it
        in_flight.write_text("epoch,train_cost\n")
        with pytest.raises(RunFolderError, match="is being trained by another process"):
            run.resume(tmp_path / "R", quiet=True, epochs=5)
        assert in_flight.read_text() == "epoch,train_cost\n"
    run.resume(tmp_path / "R", quiet=True)
    assert not in_flight.exists()  # its writer gone, a resume clears it


def test_overwrite_refuses_a_folder_that_another_process_trains_and_touches_nothing(tmp_path):
    """--overwrite emptied the folder before the lock was asked for: the live run's files were gone
    and the message said to wait for it."""
    run.train(moons(epochs=3), tmp_path / "R", quiet=True, callbacks=[CtrlCAtEpochEnd(0)])
    before = {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()}
    with runs.training(tmp_path / "R"), pytest.raises(RunFolderError) as refused:  # as another process holds it
        run.train(moons(epochs=2), tmp_path / "R", quiet=True, overwrite=True)
    assert str(refused.value) == (
        f"{tmp_path / 'R'} is being trained by another process; wait for it to end, or choose another --out"
    )
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "R").rglob("*")) if p.is_file()} == before
