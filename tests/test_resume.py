"""Exact resume: a train.py run killed at any moment and resumed with --ckpt_path last ends with the same
weights and optimizer state, tensor for tensor, as the run that was never interrupted (CPU)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from text_data import write_splits

ROOT = Path(__file__).resolve().parent.parent
IMAGE = [  # quickstart's digits with a 1-block model; dropout, drop path, random crop and flip all draw random numbers
    "--model.config.patch_size", "2", "--model.config.dim", "32", "--model.config.depth", "2", "--model.config.heads", "2",
    "--model.config.dropout", "0.1", "--model.config.drop_path", "0.1", "--data.hflip", "true",
    "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "6", "--trainer.limit_val_batches", "2",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--last_every_n_steps", "2",
]


def start_train_py(*args, cwd, new_session=False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}  # tests/ for the faults callbacks
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=new_session)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def train_py(*args, cwd, new_session=False) -> subprocess.CompletedProcess:
    return finish(start_train_py(*args, cwd=cwd, new_session=new_session))


def reference_run(*args, cwd: Path) -> subprocess.Popen:
    """The uninterrupted run, started beside the interrupted ones (2 cores; CPU results do not depend on load)."""
    cwd.mkdir()
    return start_train_py(*args, cwd=cwd)


def last(folder: Path, name: str, version: int) -> dict:
    return torch.load(folder / f"runs/{name}/version_{version}/checkpoints/last.ckpt", weights_only=True)


def assert_same_training_state(resumed: dict, full: dict) -> None:
    assert resumed["global_step"] == full["global_step"]
    model = [k for k in full["state_dict"] if k.startswith("model.")]
    assert model and all(torch.equal(resumed["state_dict"][k], full["state_dict"][k]) for k in model), [
        k for k in model if not torch.equal(resumed["state_dict"][k], full["state_dict"][k])
    ]
    ours, theirs = resumed["optimizer_states"][0]["state"], full["optimizer_states"][0]["state"]
    assert ours.keys() == theirs.keys()
    for index in theirs:
        assert all(torch.equal(torch.as_tensor(ours[index][k]), torch.as_tensor(v)) for k, v in theirs[index].items()), index
    assert resumed["lr_schedulers"] == full["lr_schedulers"]


@pytest.mark.slow
def test_killed_at_every_kind_of_moment_the_image_run_ends_bit_identical(tmp_path):
    """One run (2 epochs of 6 steps, last.ckpt every 2 steps and after each validation) killed five times and
    resumed each time: mid-epoch (last.ckpt one step old), during validation, mid-epoch again (resuming from
    the checkpoint written after validation), right after a checkpoint write, and by SIGTERM (which writes
    last.ckpt at the step boundary and exits 75)."""
    reference = reference_run(*IMAGE, cwd=tmp_path / "full")
    chain = tmp_path / "chain"
    chain.mkdir()

    killed = train_py(*IMAGE, "--trainer.callbacks+=faults.KillAtStep", "--trainer.callbacks.step", "5", cwd=chain)
    assert killed.returncode == -signal.SIGKILL
    saved = last(chain, "quickstart", 0)
    assert (saved["global_step"], saved["epoch"]) == (4, 0)  # the newest save before the kill, mid-epoch
    assert not list((chain / "runs/quickstart/version_0/checkpoints").glob(".*tmp*"))

    kill = ["--trainer.callbacks+=faults.KillAtStep", "--trainer.callbacks.step"]
    links = [  # (fault, exit code, the newest last.ckpt afterwards: version, step)
        (["--trainer.callbacks+=faults.KillInValidation", "--trainer.callbacks.step", "6"], -signal.SIGKILL, (0, 4)),
        ([*kill, "7"], -signal.SIGKILL, (2, 6)),  # written after epoch 0's validation
        ([*kill, "8"], -signal.SIGKILL, (3, 8)),  # killed right after this write
        ([*kill, "9", "--trainer.callbacks.signal", "SIGTERM"], 75, (4, 10)),  # stops after the step it is in
    ]
    for fault, code, (version, step) in links:
        result = train_py(*IMAGE, "--ckpt_path", "last", *fault, cwd=chain)
        assert result.returncode == code, result.stderr[-3000:]
        assert last(chain, "quickstart", version)["global_step"] == step
    assert "stopped by SIGTERM after step 10; resume with --ckpt_path last" in result.stderr

    resumed = train_py(*IMAGE, "--ckpt_path", "last", cwd=chain)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "fit: 2 steps in" in resumed.stdout  # only the steps this run did: 12 - 10 restored
    assert "not resumable" not in resumed.stderr  # Lightning's mid-epoch warning does not apply
    assert finish(reference).returncode == 0
    after, full = last(chain, "quickstart", 5), last(tmp_path / "full", "quickstart", 0)
    # no step lost or repeated: AdamW's step counter and the scheduler agree with the uninterrupted run
    adam_steps = lambda ckpt: {float(s["step"]) for s in ckpt["optimizer_states"][0]["state"].values()}  # noqa: E731
    assert after["global_step"] == full["global_step"] == 12 and adam_steps(after) == adam_steps(full) == {12.0}
    assert_same_training_state(after, full)


@pytest.mark.slow
def test_a_killed_streamed_photo_run_with_two_workers_resumes_bit_identical(tmp_path):
    """Photos of many sizes, streamed: decoded and augmented (RandomResizedCrop, RandAugment, erasing) in 2 DataLoader
    workers. Each sample's augmentation comes from (seed, epoch, index), so the resumed run reads what the full one read."""
    from test_streamed_images import photo_folder

    photo_folder(tmp_path / "photos", per_class=12)
    streamed = [*IMAGE, "--data.dataset", "folder", "--data.root", str(tmp_path / "photos"), "--data.image_size", "8",
                "--data.batch_size", "4", "--data.num_workers", "2", "--data.auto_augment", "rand-m9-mstd0.5", "--data.re_prob", "0.5"]
    reference = reference_run(*streamed, cwd=tmp_path / "full")
    (tmp_path / "chain").mkdir()
    killed = train_py(*streamed, "--trainer.callbacks+=faults.KillAtStep", "--trainer.callbacks.step", "3", cwd=tmp_path / "chain")
    assert killed.returncode == -signal.SIGKILL and last(tmp_path / "chain", "quickstart", 0)["global_step"] == 2
    assert "image data: streamed" in killed.stderr and "2 DataLoader worker(s)" in killed.stderr
    resumed = train_py(*streamed, "--ckpt_path", "last", cwd=tmp_path / "chain")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert finish(reference).returncode == 0
    assert_same_training_state(last(tmp_path / "chain", "quickstart", 1), last(tmp_path / "full", "quickstart", 0))


@pytest.mark.slow
def test_a_killed_text_run_with_dropout_resumes_bit_identical_with_its_own_tokenizer(tmp_path):
    """The tokenizers library's WordPiece trainer can give other ids in another process, so the two runs share one
    tokenizer file; the resumed run is not given it and must read its data with the checkpoint's tokenizer."""
    from vit_bert.tokenizer import train_wordpiece
    from text_data import sentences

    write_splits(tmp_path / "data", "tsv", n_train=200, n_test=40)
    train_wordpiece([t for t, _ in sentences(200)], 150).save(str(tmp_path / "tokenizer.json"))
    args = ["--config", str(ROOT / "configs/sst2_bert.yaml"), "--data.root", str(tmp_path / "data"),
            "--model.preset", "bert-tiny", "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
            "--last_every_n_steps", "3"]  # bert-tiny: dropout 0.1 on embeddings, attention weights and outputs
    tokenizer = ["--data.tokenizer", str(tmp_path / "tokenizer.json")]
    reference = reference_run(*args, *tokenizer, cwd=tmp_path / "full")
    (tmp_path / "chain").mkdir()
    killed = train_py(*args, *tokenizer, "--trainer.callbacks+=faults.KillAtStep", "--trainer.callbacks.step", "7", cwd=tmp_path / "chain")
    assert killed.returncode == -signal.SIGKILL and last(tmp_path / "chain", "sst2_bert", 0)["global_step"] == 6
    resumed = train_py(*args, "--ckpt_path", "last", cwd=tmp_path / "chain")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert finish(reference).returncode == 0
    assert_same_training_state(last(tmp_path / "chain", "sst2_bert", 1), last(tmp_path / "full", "sst2_bert", 0))


@pytest.mark.slow
def test_a_killed_two_process_ddp_run_resumes_bit_identical(tmp_path):
    ddp = [*IMAGE, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    reference = reference_run(*ddp, cwd=tmp_path / "full")
    (tmp_path / "chain").mkdir()
    killed = train_py(*ddp, "--trainer.callbacks+=faults.KillAtStep", "--trainer.callbacks.step", "7", "--trainer.callbacks.group", "true",
                      cwd=tmp_path / "chain", new_session=True)
    assert killed.returncode == -signal.SIGKILL
    saved = last(tmp_path / "chain", "quickstart", 0)
    assert saved["global_step"] == 6 and len(saved["callbacks"]["RandomState"]["ranks"]) == 2  # both ranks' generators
    resumed = train_py(*ddp, "--ckpt_path", "last", cwd=tmp_path / "chain")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    full = finish(reference)
    assert full.returncode == 0, full.stderr[-3000:]
    assert full.stdout.count("test accuracy: ") == 1  # printed by rank 0 only
    assert "world_size=2" in full.stderr or "GLOBAL_RANK: 1" in full.stderr + full.stdout
    assert_same_training_state(last(tmp_path / "chain", "quickstart", 1), last(tmp_path / "full", "quickstart", 0))


@pytest.mark.slow
def test_a_time_budget_resumes_on_the_same_clock(tmp_path, monkeypatch):
    """With --trainer.max_time the elapsed training time is saved (Lightning's Timer) and the schedule, which
    follows the clock, starts the resumed run where the interrupted one was on it."""
    from lightning.pytorch.callbacks import Callback

    from vit_bert.cli import run
    from vit_bert.training.optim import time_fraction

    class ClockAtStart(Callback):
        def on_train_start(self, trainer, pl_module):
            self.fraction = time_fraction(trainer)()

    monkeypatch.chdir(tmp_path)
    budget = ["--trainer.max_time", "00:01:00:00", *IMAGE[:-2]]
    first = run([*budget, "--trainer.max_epochs", "1"])
    saved = torch.load(Path(first.trainer.log_dir) / "checkpoints/last.ckpt", weights_only=True)
    elapsed = saved["callbacks"]["Timer"]["time_elapsed"]["train"]
    assert elapsed > 0
    clock = ClockAtStart()
    run([*budget, "--trainer.max_epochs", "2", "--ckpt_path", "last"], callbacks=[clock])
    assert clock.fraction >= elapsed / 3600  # not 0: the schedule goes on from the saved time
