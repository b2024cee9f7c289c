"""Weights registry, search order, verified downloads and safe loading; never the real network.

Downloads come from a server on 127.0.0.1 started per test, or from local files; entries
are tiny fakes so nothing near 548 MB is fetched or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from tests.local_http import LocalServer, closed_port_url
from texstudio import paths
from texstudio.cli import main
from texstudio.engine.backbones import VGG19, build_backbone
from texstudio.engine.cancel import StopToken
from texstudio.engine.download import DownloadCancelled, DownloadError, OfflineError, download
from texstudio.engine.errors import BackboneError
from texstudio.engine.weights import (
    CORRUPT,
    MISSING,
    PRESENT,
    VGG19_IMAGENET,
    WeightsEntry,
    WeightsError,
    download_weights,
    find_weights_file,
    load_registry,
    load_state_dict,
    vgg19_weights_notice,
    weights_search_path,
    weights_status,
)

PAYLOAD = bytes(range(256)) * 1200  # 300 KiB: several chunks, so progress has steps


@pytest.fixture(autouse=True)
def isolated_weights(tmp_path, monkeypatch):
    """The repo's weights/ is replaced too, and no proxy may catch requests to 127.0.0.1."""
    monkeypatch.setenv("TEXSTUDIO_WEIGHTS_DIR", str(tmp_path / "repo-weights"))
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(variable, "*")


def make_entry(data: bytes = PAYLOAD, url: str = "", **changes) -> WeightsEntry:
    fields = dict(name="tiny", file="tiny-0001.pth", url=url, size=len(data),
                  sha256=hashlib.sha256(data).hexdigest(), sha256_prefix=None,
                  licence="CC0", description="a test file")
    fields.update(changes)
    return WeightsEntry(**fields)


def use_manifest(tmp_path, monkeypatch, *entries: WeightsEntry) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"weights": [vars(entry) for entry in entries]}))
    monkeypatch.setenv("TEXSTUDIO_WEIGHTS_MANIFEST", str(path))
    return path


def run_to_end(steps):
    """Drain a progress generator; return (progress list, return value)."""
    seen = []
    while True:
        try:
            seen.append(next(steps))
        except StopIteration as end:
            return seen, end.value


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- registry and search order ----------------------------------------------------

def test_the_shipped_manifest_registers_imagenet_vgg19():
    entry = load_registry().get("vgg19")
    assert entry.file == VGG19_IMAGENET
    assert entry.url == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert entry.size == 574_673_361
    # torchvision names the file after the digest's first 8 hex digits.
    assert len(entry.sha256) == 64 and entry.sha256.startswith("dcbb9e9d")
    assert "BSD" in entry.licence and entry.backbone == "vgg19"


def test_search_order_is_repo_then_user_data_then_torch_cache():
    folders = weights_search_path()
    assert folders == [paths.repo_weights_dir(), paths.user_weights_dir(), paths.torch_hub_checkpoints_dir()]
    assert find_weights_file("tiny-0001.pth") is None
    for folder in reversed(folders):  # each newly filled folder ranks above the ones filled before
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tiny-0001.pth").write_bytes(PAYLOAD)
        assert find_weights_file("tiny-0001.pth") == folder / "tiny-0001.pth"
    assert str(paths.torch_hub_checkpoints_dir()).startswith(os.environ["TORCH_HOME"])


def test_states_missing_present_corrupt_and_the_hash_cache(tmp_path):
    entry = make_entry()
    assert weights_status(entry).state == MISSING
    target = paths.user_weights_dir() / entry.file
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD)
    quick = weights_status(entry)
    assert (quick.state, quick.path, quick.hashed) == (PRESENT, target, False)
    assert weights_status(entry, verify=True).hashed
    assert weights_status(entry).hashed  # remembered: no second hash of a big file

    same_size = bytearray(PAYLOAD)
    same_size[-1] ^= 0xFF
    target.write_bytes(bytes(same_size))
    os.utime(target, ns=(1, 1))  # a changed file must not inherit the old verdict
    assert weights_status(entry).hashed is False
    bad = weights_status(entry, verify=True)
    assert bad.state == CORRUPT and "does not match" in bad.detail

    target.write_bytes(PAYLOAD[:1000])  # truncated: caught by size alone, no hashing
    short = weights_status(entry)
    assert short.state == CORRUPT and "1000 bytes" in short.detail


def test_bad_manifests_and_unknown_names_are_clear_errors(tmp_path):
    good = vars(make_entry())
    cases = {
        "not json": "{",
        "no list": json.dumps({"weights": 3}),
        "folder in file": json.dumps({"weights": [{**good, "file": "../evil.pth"}]}),
        "no checksum": json.dumps({"weights": [{**good, "sha256": None}]}),
    }
    for text in cases.values():
        path = tmp_path / "manifest.json"
        path.write_text(text)
        with pytest.raises(WeightsError):
            load_registry(path)
    with pytest.raises(WeightsError, match="unknown weights 'vgg91'; known: vgg19"):
        load_registry().get("vgg91")


# --- downloads --------------------------------------------------------------------

def test_download_from_a_local_server_reports_progress_and_places_a_verified_file():
    with LocalServer() as server:
        entry = make_entry(url=server.add("/tiny-0001.pth", PAYLOAD))
        progress, placed = run_to_end(download_weights(entry, StopToken()))
    assert placed == paths.user_weights_dir() / entry.file
    assert placed.read_bytes() == PAYLOAD
    assert leftovers(placed.parent) == [entry.file]  # no temporary file left behind
    assert progress[0] == (0, len(PAYLOAD)) and progress[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(progress) > 3 and [d for d, _ in progress] == sorted(d for d, _ in progress)
    status = weights_status(entry)
    assert status.state == PRESENT and status.hashed  # the verified digest was remembered


def test_a_prefix_only_entry_is_verified_by_prefix(tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    source = tmp_path / "copy.pth"
    source.write_bytes(PAYLOAD)
    entry = make_entry(sha256=None, sha256_prefix=digest[:8])
    _, placed = run_to_end(download_weights(entry, StopToken(), source=source))
    assert placed.read_bytes() == PAYLOAD
    wrong = make_entry(sha256=None, sha256_prefix="00000000" if not digest.startswith("0") else "11111111")
    (paths.user_weights_dir() / entry.file).unlink()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        run_to_end(download_weights(wrong, StopToken(), source=source))
    assert leftovers(paths.user_weights_dir()) == []


@pytest.mark.parametrize("case", ["truncated", "wrong-checksum", "too-long", "http-404"])
def test_bad_transfers_are_rejected_and_nothing_is_placed(case):
    altered = bytearray(PAYLOAD)
    altered[len(altered) // 2] ^= 0x01
    expect = {"truncated": "truncated: got 70000 of", "wrong-checksum": "checksum mismatch",
              "too-long": "expected 307200", "http-404": "HTTP 404"}[case]
    with LocalServer() as server:
        if case == "truncated":
            url = server.add("/f", PAYLOAD, send_bytes=70_000)
        elif case == "wrong-checksum":
            url = server.add("/f", bytes(altered))
        elif case == "too-long":
            url = server.add("/f", PAYLOAD + b"extra")
        else:
            url = server.url("/missing")
        entry = make_entry(url=url)
        with pytest.raises(DownloadError, match=expect):
            run_to_end(download_weights(entry, StopToken()))
    assert leftovers(paths.user_weights_dir()) == []
    assert weights_status(entry).state == MISSING


def test_a_failed_download_leaves_an_existing_file_untouched(tmp_path):
    entry = make_entry()
    dest = paths.user_weights_dir() / entry.file
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD)
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(bytes(reversed(PAYLOAD)))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        run_to_end(download_weights(entry, StopToken(), source=wrong))
    assert dest.read_bytes() == PAYLOAD and leftovers(dest.parent) == [entry.file]


def test_from_a_local_file_is_verified_like_a_download(tmp_path):
    entry = make_entry(url=closed_port_url())  # the URL is never used when a source is given
    good = tmp_path / "fetched-elsewhere.pth"
    good.write_bytes(PAYLOAD)
    _, placed = run_to_end(download_weights(entry, StopToken(), source=good))
    assert placed.read_bytes() == PAYLOAD and good.exists()
    with pytest.raises(DownloadError, match="does not exist"):
        run_to_end(download_weights(entry, StopToken(), source=tmp_path / "nope.pth"))


def test_cancel_stops_at_the_next_chunk_and_places_nothing():
    stop = StopToken()
    with LocalServer() as server:
        entry = make_entry(url=server.add("/f", PAYLOAD))
        steps = download_weights(entry, stop)
        with pytest.raises(DownloadCancelled, match="nothing was placed"):
            for done, _ in steps:
                if done > 0:
                    stop.set()
    assert leftovers(paths.user_weights_dir()) == []


def test_a_generator_closed_midway_leaves_nothing(tmp_path):
    # What Ctrl-C in the CLI does: the consumer stops and closes the generator.
    source = tmp_path / "big.bin"
    source.write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "big.bin"
    steps = download(source, dest, hashlib.sha256(PAYLOAD).hexdigest(), StopToken())
    next(steps), next(steps), next(steps)
    steps.close()
    assert leftovers(dest.parent) == []


def test_offline_is_a_clear_message_and_places_nothing():
    entry = make_entry(url=closed_port_url())
    with pytest.raises(OfflineError, match=r"cannot reach 127\.0\.0\.1:\d+ .*are you offline\?"):
        run_to_end(download_weights(entry, StopToken()))
    assert leftovers(paths.user_weights_dir()) == []


def test_a_download_without_any_checksum_is_refused(tmp_path):
    source = tmp_path / "x.bin"
    source.write_bytes(b"data")
    with pytest.raises(DownloadError, match="no checksum"):
        run_to_end(download(source, tmp_path / "dest" / "x.bin", None, StopToken()))
    assert not (tmp_path / "dest").exists()


# --- safe loading -----------------------------------------------------------------

class _Payload:
    """Unpickling this would create the marker file: the test proves it never happens."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_a_pickle_payload_is_refused_and_never_runs(tmp_path):
    # torch.load(weights_only=False) on `zipped` would create the marker; plain pickle.load on `raw` too.
    marker = tmp_path / "payload-ran"
    raw = tmp_path / "raw.pth"
    with open(raw, "wb") as handle:
        pickle.dump({"features.0.weight": _Payload(marker)}, handle)
    zipped = tmp_path / "zipped.pth"
    torch.save({"features.0.weight": _Payload(marker)}, zipped)
    for path in (raw, zipped):
        with pytest.raises(BackboneError, match="not a usable weights file"):
            load_state_dict(path)
    # Also where the app would find it on its own: in the user folder under the ImageNet name.
    target = paths.user_weights_dir() / VGG19_IMAGENET
    target.parent.mkdir(parents=True)
    target.write_bytes(zipped.read_bytes())
    with pytest.raises(BackboneError):
        VGG19()
    assert weights_status(load_registry().get("vgg19")).state == CORRUPT  # by size, without unpickling
    assert main(["weights", "download", "vgg19", "--from", str(zipped), "--quiet"]) == 2
    assert not marker.exists()


def test_safetensors_load_and_a_wrong_architecture_is_rejected(tmp_path):
    from safetensors.torch import save_file

    good = {f"features.{i}.weight": torch.zeros(4) for i in range(2)}
    save_file(good, str(tmp_path / "a.safetensors"))
    assert set(load_state_dict(tmp_path / "a.safetensors")) == set(good)
    with pytest.raises(BackboneError, match="not a VGG19 weights file"):
        build_backbone(str(tmp_path / "a.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(BackboneError, match="not a usable weights file"):
        load_state_dict(tmp_path / "junk.safetensors")


# --- the offline default and its notice -------------------------------------------

def test_without_imagenet_weights_vgg19_falls_back_with_a_notice():
    notice = vgg19_weights_notice()
    assert notice and "texstudio weights download vgg19" in notice
    assert VGG19(seed=3).weights_source.startswith("random")
    target = paths.torch_hub_checkpoints_dir() / VGG19_IMAGENET
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")  # presence is all the notice looks at
    assert vgg19_weights_notice() is None


def test_synth_prints_the_notice_once_unless_quiet(texture_file, tmp_path, capsys):
    fast = ["--size", "32", "--steps", "2", "--backbone", "vgg19", "--layers", "relu1_1", "--device", "cpu"]
    assert main(["synth", str(texture_file), "-o", str(tmp_path / "a.png"), *fast]) == 0
    err = capsys.readouterr().err
    assert err.count("ImageNet VGG19 weights") == 1
    assert main(["synth", str(texture_file), "-o", str(tmp_path / "b.png"), *fast, "--quiet"]) == 0
    assert "ImageNet" not in capsys.readouterr().err


def test_nothing_touches_the_network_at_start_up_or_when_listing(tmp_path):
    # A fresh interpreter where any socket connection fails loudly: importing everything,
    # building the default backbone and listing weights must not try one.
    script = textwrap.dedent("""
        import socket
        def refuse(*args, **kwargs):
            raise SystemExit("network touched")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from texstudio.cli import main
        from texstudio.engine.backbones import build_backbone
        import texstudio.engine.download, texstudio.engine.weights
        assert build_backbone("vgg19").weights_source.startswith("random")
        raise SystemExit(main(["weights", "list"]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "vgg19" in done.stdout and "missing" in done.stdout


# --- the command line ---------------------------------------------------------------

def test_cli_list_shows_state_path_size_and_licence(tmp_path, monkeypatch, capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "vgg19" in out and "missing" in out and "548.1 MiB" in out and "BSD-3-Clause" in out
    assert "searched, in order:" in out and str(paths.user_weights_dir()) in out

    present, broken = make_entry(), make_entry(name="broken", file="broken.pth")
    use_manifest(tmp_path, monkeypatch, present, broken)
    paths.user_weights_dir().mkdir(parents=True)
    (paths.user_weights_dir() / present.file).write_bytes(PAYLOAD)
    (paths.user_weights_dir() / broken.file).write_bytes(bytes(reversed(PAYLOAD)))
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "present (size ok, not hashed)" in out
    assert main(["weights", "list", "--verify", "--quiet"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:] if line.strip()}
    assert " present " in lines["tiny"] and str(paths.user_weights_dir() / present.file) in lines["tiny"]
    assert "corrupt (SHA-256" in lines["broken"]


def test_cli_download_from_a_file_with_the_wrong_checksum_fails_in_one_line(tmp_path, capsys):
    wrong = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, wrong)
    assert main(["weights", "download", "vgg19", "--from", str(wrong)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("texstudio: ") and "not the registered file" in err[0]
    assert leftovers(paths.user_weights_dir()) == [] and find_weights_file(VGG19_IMAGENET) is None


def test_cli_download_checksum_mismatch_of_the_right_size(tmp_path, monkeypatch, capsys):
    entry = make_entry()
    use_manifest(tmp_path, monkeypatch, entry)
    wrong = tmp_path / "same-size.pth"
    wrong.write_bytes(bytes(reversed(PAYLOAD)))
    assert main(["weights", "download", "tiny", "--from", str(wrong), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checksum mismatch" in err[0] and "nothing was placed" in err[0]
    assert leftovers(paths.user_weights_dir()) == []


def test_cli_download_from_a_server_then_already_present(tmp_path, monkeypatch, capsys):
    with LocalServer() as server:
        use_manifest(tmp_path, monkeypatch, make_entry(url=server.add("/tiny-0001.pth", PAYLOAD)))
        assert main(["weights", "download", "tiny"]) == 0
        err = capsys.readouterr().err
        assert "placed" in err and "SHA-256 verified" in err
        assert main(["weights", "download", "tiny"]) == 0
        assert "already present" in capsys.readouterr().err
        assert server.requests == ["/tiny-0001.pth"]
    assert (paths.user_weights_dir() / "tiny-0001.pth").read_bytes() == PAYLOAD


def test_cli_download_offline_suggests_from(tmp_path, monkeypatch, capsys):
    use_manifest(tmp_path, monkeypatch, make_entry(url=closed_port_url()))
    assert main(["weights", "download", "tiny", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "are you offline?" in err[0] and "--from FILE" in err[0]
    assert main(["weights", "download", "nonesuch"]) == 2
    assert "unknown weights 'nonesuch'" in capsys.readouterr().err
