"""Batch synthesis: job files, stable ids, resume, failures that stay local, the CLI, the pool."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_texture
from texstudio.batch.events import JobFinished, JobStarted
from texstudio.batch.plan import job_id, make_plan, plan_batch
from texstudio.batch.runner import drive, run_batch
from texstudio.batch.spec import read_spec
from texstudio.cli import main
from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError
from texstudio.engine.imageio import load_image

# A second or less per job on one CPU core.
TINY = SynthConfig(width=32, height=32, steps=4, layers=("relu1_1", "relu2_1"), gram_weight=1.0,
                   sw_weight=0.0, spectrum_weight=0.0, pyramid_levels=1, device="cpu")
FAST = ["--size", "32", "--steps", "4", "--backbone", "vgg19", "--layers", "relu1_1,relu2_1", "--loss", "gram", "--spectrum", "0",
        "--pyramid", "1", "--device", "cpu", "--quiet"]


def write_texture(path: Path, seed: int) -> Path:
    Image.fromarray((make_texture(48, seed=seed) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    write_texture(folder / "bark.png", 1)
    write_texture(folder / "gravel.png", 2)
    (folder / "notes.txt").write_text("not an image, not a job")
    return folder


@pytest.fixture
def corrupt(photos) -> Path:
    path = photos / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return path


def run(plan, **options):
    """Run a batch to the end; returns (summary, events)."""
    events = []
    summary = drive(run_batch(plan, **options), events.append)
    return summary, events


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_folder_batch_writes_an_image_and_sidecar_per_job_and_a_summary(photos, tmp_path):
    out = tmp_path / "out"
    plan = plan_batch(photos, out, TINY, variations=2)
    assert [(j.exemplar.name, j.config.seed) for j in plan.jobs] == [
        ("bark.png", 0), ("bark.png", 1), ("gravel.png", 0), ("gravel.png", 1)]
    summary, events = run(plan)

    assert summary.counts == {"done": 4, "skipped": 0, "failed": 0, "cancelled": 0}
    assert sum(isinstance(e, JobStarted) for e in events) == 4
    for job in plan.jobs:
        assert load_image(out / job.image_name).shape == (32, 32, 3)
        sidecar = json.loads(job.sidecar_path(out).read_text())
        assert sidecar["batch"]["job_id"] == job.id and sidecar["seed"] == job.config.seed
        assert SynthConfig.from_dict(sidecar["config"]) == job.config
        assert sidecar["exemplar"]["path"] == str(job.exemplar.resolve())
    rows = read_csv(out / "summary.csv")
    assert [r["job_id"] for r in rows] == [j.id for j in plan.jobs]
    for row in rows:
        assert row["status"] == "done" and row["error"] == ""
        assert float(row["wall_s"]) >= float(row["synth_s"]) > 0
        assert float(row["patch_distance"]) >= 0 and row["color_distance"] and row["device"] == "cpu"
    report = json.loads((out / "summary.json").read_text())
    assert report["counts"]["done"] == 4 and report["executor"] == "sequential"
    assert report["jobs"][0]["iterations"] == 4
    # Variations really differ; the same seed on another exemplar is another image too.
    images = [load_image(out / j.image_name) for j in plan.jobs]
    assert np.abs(images[0] - images[1]).max() > 0.05


def test_a_rerun_skips_finished_jobs_and_redoes_only_unfinished_ones(photos, tmp_path):
    out = tmp_path / "out"
    plan = plan_batch(photos, out, TINY)
    run(plan)
    first, second = plan.jobs
    stamps = {job.id: (out / job.image_name).stat().st_mtime_ns for job in plan.jobs}

    summary, events = run(plan_batch(photos, out, TINY))
    assert summary.counts["skipped"] == 2 and not any(isinstance(e, JobStarted) for e in events)
    assert {job.id: (out / job.image_name).stat().st_mtime_ns for job in plan.jobs} == stamps
    # Metrics of skipped jobs come from their sidecars, so the summary stays complete.
    assert all(row["patch_distance"] is not None for row in summary.rows)

    # An image without its sidecar is what an interrupted write leaves: that job runs again.
    second.sidecar_path(out).unlink()
    summary, events = run(plan_batch(photos, out, TINY))
    assert [e.job.id for e in events if isinstance(e, JobStarted)] == [second.id]
    assert [r["status"] for r in summary.rows] == ["skipped", "done"]
    assert (out / first.image_name).stat().st_mtime_ns == stamps[first.id]

    # A changed exemplar is not the job that was finished.
    write_texture(second.exemplar, 9)
    summary, _ = run(plan_batch(photos, out, TINY))
    assert [r["status"] for r in summary.rows] == ["skipped", "done"]


def test_one_corrupt_exemplar_is_recorded_as_failed_and_the_others_complete(photos, corrupt, tmp_path):
    out = tmp_path / "out"
    summary, _ = run(plan_batch(photos, out, TINY))
    status = {Path(row["exemplar"]).name: row for row in summary.rows}
    assert status["broken.png"]["status"] == "failed"
    assert "broken.png" in status["broken.png"]["error"] and "\n" not in status["broken.png"]["error"]
    assert status["bark.png"]["status"] == status["gravel.png"]["status"] == "done"
    assert not list(out.glob("broken*"))
    assert read_csv(out / "summary.csv")[0]["status"] == "done"  # bark, sorted first


def test_stop_drops_the_running_job_and_a_rerun_finishes_the_rest(photos, tmp_path):
    out = tmp_path / "out"
    plan = plan_batch(photos, out, TINY.replace(steps=6), variations=2)
    stop = StopToken()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, JobFinished):
            stop.set()  # as Stop or Ctrl-C during the second job's first steps would

    summary = drive(run_batch(plan, stop=stop), on_event)
    assert [r["status"] for r in summary.rows] == ["done", "cancelled", "cancelled", "cancelled"]
    assert sorted(p.name for p in out.glob("*.png")) == [plan.jobs[0].image_name]
    assert read_csv(out / "summary.csv")[1]["status"] == "cancelled"

    summary, _ = run(plan)
    assert [r["status"] for r in summary.rows] == ["skipped", "done", "done", "done"]


def test_job_ids_are_stable_and_tell_settings_apart(tmp_path):
    exemplar = tmp_path / "my photo (1).jpg"
    same = job_id(exemplar, TINY, None, 8, ".png")
    assert same == job_id(exemplar, TINY.replace(device="auto", preview_every=5), None, 8, ".png")
    assert same.startswith("my-photo-1_32x32_seed0_")
    assert same != job_id(exemplar, TINY.replace(steps=5), None, 8, ".png")
    assert same != job_id(exemplar, TINY, None, 16, ".png")
    assert job_id(exemplar, TINY.replace(seed=3), None, 8, ".png").startswith("my-photo-1_32x32_seed3_")


def test_json_and_toml_job_files_give_the_product_of_their_axes(photos, tmp_path):
    spec = {"exemplars": ["photos/bark.png", "photos"], "sizes": [32, "40x32"], "seeds": [5, 7],
            "settings": [{"name": "gram"}, {"name": "sw", "gram_weight": 0.0, "sw_weight": 1.0}]}
    (tmp_path / "jobs.json").write_text(json.dumps(spec))
    (tmp_path / "jobs.toml").write_text(
        'exemplars = ["photos/bark.png", "photos"]\nsizes = [32, "40x32"]\nseeds = [5, 7]\n'
        '[[settings]]\nname = "gram"\n[[settings]]\nname = "sw"\ngram_weight = 0.0\nsw_weight = 1.0\n')
    plans = [plan_batch(tmp_path / name, tmp_path / "out", TINY) for name in ("jobs.json", "jobs.toml")]
    assert [j.id for j in plans[0].jobs] == [j.id for j in plans[1].jobs]
    jobs = plans[0].jobs
    # bark is listed twice (alone and in its folder): one set of jobs. 2 exemplars x 2 x 2 x 2.
    assert len(jobs) == 16 and len({j.id for j in jobs}) == 16
    bark_sw = [j for j in jobs if j.exemplar.name == "bark.png" and j.settings_name == "sw"]
    assert [(j.config.width, j.config.height, j.config.seed) for j in bark_sw] == [
        (32, 32, 5), (32, 32, 7), (40, 32, 5), (40, 32, 7)]
    assert all(j.config.sw_weight == 1.0 and j.config.gram_weight == 0.0 for j in bark_sw)
    assert all(j.config.exemplar_size == max(j.config.width, j.config.height) for j in jobs)


def test_a_settings_entry_that_sets_the_pyramid_turns_auto_layout_off(photos, tmp_path):
    (tmp_path / "p.toml").write_text('exemplars = "photos/gravel.png"\n[[settings]]\nname = "auto"\n'
                                     '[[settings]]\nname = "p2"\npyramid_levels = 2\n'
                                     '[[settings]]\nname = "both"\npyramid_levels = 2\nauto_layout = true\n')
    plan = plan_batch(tmp_path / "p.toml", tmp_path / "out", TINY.replace(auto_layout=True))
    assert {j.settings_name: j.config.auto_layout for j in plan.jobs} == {"auto": True, "p2": False, "both": True}


def test_variations_in_a_job_file_count_from_the_base_seed(photos, tmp_path):
    (tmp_path / "v.toml").write_text('exemplars = "photos/gravel.png"\nvariations = 3\n')
    plan = plan_batch(tmp_path / "v.toml", tmp_path / "out", TINY.replace(seed=10), variations=9)
    assert [j.config.seed for j in plan.jobs] == [10, 11, 12]


@pytest.mark.parametrize("content, message", [
    ('exemplars = ["photos"]\nsteps = 3\n', "unknown key(s) steps"),
    ('exemplars = ["photos/missing.png"]\n', "does not exist"),
    ('exemplars = ["photos"]\n[[settings]]\nseed = 3\n', "belong in 'seeds'"),
    ('exemplars = ["photos"]\n[[settings]]\nstep = 3\n', "unknown setting(s) step"),
    ('exemplars = ["photos"]\n[[settings]]\nsteps = -1\n', "steps must be 0 or more"),
    ('exemplars = ["photos"]\nsizes = ["big"]\n', "size must look like"),
    ('exemplars = ["photos"]\nseeds = [-1]\n', "'seeds' must be whole numbers"),
    ('exemplars = ["photos"\n', "not valid TOML"),
    ('sizes = [32]\n', "'exemplars' is missing"),
])
def test_bad_job_files_are_one_clear_config_error(photos, tmp_path, content, message):
    (tmp_path / "bad.toml").write_text(content)
    with pytest.raises(ConfigError) as error:
        plan_batch(tmp_path / "bad.toml", tmp_path / "out", TINY)
    assert message in str(error.value)


def test_two_exemplars_with_one_name_are_refused_before_any_work(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_texture(tmp_path / folder / "stone.png", 1)
    (tmp_path / "jobs.json").write_text(json.dumps({"exemplars": ["a", "b"]}))
    with pytest.raises(ConfigError, match="different file names"):
        make_plan(read_spec(tmp_path / "jobs.json"), tmp_path / "out", TINY)


def test_cli_batch_exit_codes(photos, corrupt, tmp_path, capsys):
    out = tmp_path / "out"
    only_good = tmp_path / "good"
    only_good.mkdir()
    write_texture(only_good / "one.png", 3)
    assert main(["batch", str(only_good), "-o", str(out), *FAST]) == 0
    assert main(["batch", str(only_good), "-o", str(out), *FAST, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("finished  one_32x32_seed0_")

    # A failed job: the others are written, the run says which job failed and exits 1.
    assert main(["batch", str(photos), "-o", str(tmp_path / "mixed"), *FAST]) == 1
    err = capsys.readouterr().err
    assert "broken_32x32_seed0_" in err and "1 of 3 jobs failed" in err and "Traceback" not in err
    assert len(list((tmp_path / "mixed").glob("*.png"))) == 2

    # Bad input: one line, exit 2, nothing run.
    for args in (["batch", str(tmp_path / "nowhere"), "-o", str(out)],
                 ["batch", str(photos), "-o", str(out), "--ray-address", "auto"],
                 ["batch", str(photos), "-o", str(out), "--variations", "0"],
                 ["batch", str(photos), "-o", str(out), "--size", "3"]):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("texstudio") and len(err.splitlines()) == 1, err


def test_the_pool_executor_gives_the_same_images_as_in_process(photos, tmp_path):
    plan = plan_batch(photos, tmp_path / "pool", TINY)
    summary, _ = run(plan, executor="pool")
    assert summary.counts["done"] == 2, summary.rows
    reference = plan_batch(photos, tmp_path / "seq", TINY)
    run(reference)
    for job in plan.jobs:
        # Same seed on the CPU, same image, whichever process made it.
        assert np.array_equal(load_image(tmp_path / "pool" / job.image_name),
                              load_image(tmp_path / "seq" / job.image_name))


def test_batch_code_imports_neither_qt_nor_ray():
    code = (
        "import sys, texstudio.commands.batch, texstudio.batch.runner, texstudio.batch.pool, "
        "texstudio.batch.ray_executor, texstudio.batch.sequential\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'ray')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def local_ray():
    """A local Ray instance started by the test (the `ray` extra); skipped where Ray is missing."""
    ray = pytest.importorskip("ray")
    # One CPU: the jobs queue in Ray, as they would on a busy cluster.
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_batch_runs_as_ray_tasks_and_resumes(local_ray, photos, corrupt, tmp_path):
    out = tmp_path / "out"
    plan = plan_batch(photos, out, TINY)
    summary, _ = run(plan, executor="ray")
    assert [r["status"] for r in summary.rows] == ["done", "failed", "done"], summary.rows
    assert local_ray.is_initialized()  # the instance the test started is the test's to stop
    for job, row in zip(plan.jobs, summary.rows):
        if row["status"] == "done":
            sidecar = json.loads(job.sidecar_path(out).read_text())
            assert sidecar["batch"]["job_id"] == job.id and row["host"] and row["patch_distance"] is not None
    # The driver wrote what the workers computed: same seed, same image as in-process.
    reference = plan_batch(photos, tmp_path / "seq", TINY)
    run(reference)
    for job in (plan.jobs[0], plan.jobs[2]):
        assert np.array_equal(load_image(out / job.image_name), load_image(tmp_path / "seq" / job.image_name))

    summary, _ = run(plan_batch(photos, out, TINY), executor="ray")
    assert [r["status"] for r in summary.rows] == ["skipped", "failed", "skipped"]


def test_the_pool_has_one_worker_per_cuda_gpu_or_one_on_cpu(photos, tmp_path, monkeypatch):
    import torch

    from texstudio.batch.pool import pool_devices

    jobs = list(plan_batch(photos, tmp_path, TINY.replace(device="auto")).jobs)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert pool_devices(jobs) == [0, 1, 2]
    assert pool_devices(list(plan_batch(photos, tmp_path, TINY).jobs)) == [None]  # device cpu
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pool_devices(jobs) == [None]
