#!/usr/bin/python3
"""Test of tools/convert_weights.py; ctest runs it as convert_weights_py.

Builds torchvision resnet18 with random weights (no download) and random BatchNorm statistics, saves its
state_dict with torch.save, and converts it in a subprocess where importing torch fails. Checks every tensor bitwise,
views/offsets/strides and float16/bfloat16/float64 sources, and the errors for bad input.

With --out DIR it also leaves DIR/teacher.h5 (the converted file) and DIR/expected.h5 for the C++ loader test:
  input   (1, 3, 64, 64) float32
  layer1  (1, 64, 16, 16), layer2 (1, 128, 8, 8), layer3 (1, 256, 4, 4) float32: torch's eval-mode features
Exit status: 0 passed, 1 failed, 77 skipped (torch, torchvision or h5py missing).
"""

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
import zipfile

SKIP = 77
try:
    import h5py
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(f"SKIPPED: {e} (needs Debian python3-torch, python3-torchvision, python3-h5py; run with /usr/bin/python3)")
    sys.exit(SKIP)

CONVERTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "convert_weights.py")
# Runs the script given as the first argument with torch made unimportable: a None entry in sys.modules makes
# every "import torch" raise ImportError.
NO_TORCH = ("import runpy, sys\n"
            "sys.modules['torch'] = None\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")
ATTRIBUTES = {"bn_eps", "bn_folded", "input_normalization", "layout", "model", "note", "source"}
TRUNK = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.")


def run_without_torch(*args):
    return subprocess.run([sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True)


def convert(src, dst):
    result = run_without_torch(CONVERTER, src, dst)
    if result.returncode != 0:
        raise AssertionError(f"converter failed on {src}:\n{result.stderr}")
    return result


def random_model():
    """resnet18 with random weights and BatchNorm parameters/statistics far from the identity, in eval mode."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def trunk_state(model):
    return {k: v for k, v in model.state_dict().items() if k.startswith(TRUNK) and "num_batches" not in k}


def assert_bitwise(name, got, expected):
    expected = expected.detach().float().contiguous().numpy()
    assert got.dtype == np.float32, f"{name}: dtype {got.dtype}"
    assert got.shape == expected.shape, f"{name}: shape {got.shape}, expected {expected.shape}"
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), f"{name}: values differ"


def expect_error(tmp, src, *fragments):
    """The converter fails on src with a one-line message containing every fragment and leaves nothing behind."""
    out_dir = os.path.join(tmp, "bad_out")
    os.makedirs(out_dir, exist_ok=True)
    dst = os.path.join(out_dir, "out.h5")
    result = run_without_torch(CONVERTER, src, dst)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, f"{src}: converter succeeded, expected an error"
    assert len(lines) == 1, f"{src}: expected a one-line error, got:\n{result.stderr}"
    for fragment in fragments:
        assert fragment in lines[0], f"{src}: error lacks '{fragment}': {lines[0]}"
    assert os.listdir(out_dir) == [], f"{src}: the failed conversion left {os.listdir(out_dir)}"
    print(f"    {lines[0]}")


def check_torch_is_blocked(tmp):
    probe = os.path.join(tmp, "import_torch.py")
    with open(probe, "w") as f:
        f.write("import torch\n")
    result = run_without_torch(probe)
    assert result.returncode != 0 and "import of torch halted" in result.stderr, \
        f"the torch blocker does not block torch:\n{result.stderr}"


def check_exact_conversion(tmp, model):
    src, dst = os.path.join(tmp, "resnet18.pth"), os.path.join(tmp, "converted.h5")
    torch.save(model.state_dict(), src)
    result = convert(src, dst)
    assert "converted 75 tensors" in result.stdout, result.stdout
    expected = trunk_state(model)
    with h5py.File(dst, "r") as f:
        assert sorted(f.keys()) == sorted(expected), f"datasets differ: {sorted(set(f.keys()) ^ set(expected))}"
        for name, tensor in expected.items():
            assert_bitwise(name, f[name][()], tensor)
        assert set(f.attrs) == ATTRIBUTES, f"attributes {sorted(f.attrs)}"
        assert f.attrs["bn_folded"] == 0 and f.attrs["bn_eps"] == 1e-5
        shared = os.path.join(os.path.dirname(CONVERTER), "..", "..", "shared", "weights", "resnet18_imagenet.h5")
        if os.path.exists(shared):
            with h5py.File(shared, "r") as s:
                assert set(s.attrs) == ATTRIBUTES, f"the shared teacher has attributes {sorted(s.attrs)}"


def check_views_and_types(tmp, model):
    state = trunk_state(model)
    # A permuted view at an offset into a larger storage: torch.save keeps the storage, offset and strides.
    big = torch.randn(5 + 7 * 7 * 3 * 64)
    state["conv1.weight"] = big[5:].view(7, 7, 3, 64).permute(3, 2, 0, 1)
    # Two tensors sharing one storage.
    shared = torch.randn(2 * 64 * 64 * 9)
    state["layer1.0.conv1.weight"] = shared[: 64 * 64 * 9].view(64, 64, 3, 3)
    state["layer1.0.conv2.weight"] = shared[64 * 64 * 9:].view(64, 64, 3, 3)
    state["bn1.weight"] = state["bn1.weight"].double() + 1e-9  # rounds on conversion
    state["bn1.bias"] = state["bn1.bias"].half()
    state["layer1.0.bn1.weight"] = state["layer1.0.bn1.weight"].bfloat16()
    assert not state["conv1.weight"].is_contiguous() and state["conv1.weight"].storage_offset() == 5
    src, dst = os.path.join(tmp, "views.pth"), os.path.join(tmp, "views.h5")
    torch.save(state, src)
    convert(src, dst)
    with h5py.File(dst, "r") as f:
        for name, tensor in state.items():
            assert_bitwise(name, f[name][()], tensor)


def check_bad_inputs(tmp, model):
    not_zip = os.path.join(tmp, "notes.pth")
    with open(not_zip, "w") as f:
        f.write("this is not a checkpoint\n")
    expect_error(tmp, not_zip, not_zip, "not a zip archive")

    state = trunk_state(model)
    del state["layer2.0.downsample.1.running_var"]
    missing = os.path.join(tmp, "missing.pth")
    torch.save(state, missing)
    expect_error(tmp, missing, missing, "missing tensor 'layer2.0.downsample.1.running_var'")

    state = trunk_state(model)
    state["layer3.1.bn2.weight"] = torch.ones(255)
    misshaped = os.path.join(tmp, "misshaped.pth")
    torch.save(state, misshaped)
    expect_error(tmp, misshaped, "tensor 'layer3.1.bn2.weight' has shape (255,), expected (256,)")

    legacy = os.path.join(tmp, "legacy.pth")
    torch.save(trunk_state(model), legacy, _use_new_zipfile_serialization=False)
    expect_error(tmp, legacy, legacy, "legacy", "re-save it with a recent torch")

    # A pickle that would create a file if it were executed: the restricted unpickler must refuse its global.
    marker = os.path.join(tmp, "pwned")

    class Payload:
        def __reduce__(self):
            return (open, (marker, "w"))

    evil = os.path.join(tmp, "evil.pth")
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"conv1.weight": Payload()}, protocol=2))
    expect_error(tmp, evil, "refusing to load global")
    assert not os.path.exists(marker), "the malicious pickle ran"

    nowhere = run_without_torch(CONVERTER, os.path.join(tmp, "resnet18.pth"), "/nonexistent/dir/out.h5")
    assert nowhere.returncode != 0 and "/nonexistent/dir" in nowhere.stderr, nowhere.stderr


def check_features_and_write(tmp, out_dir, model):
    """Loads the converted file back into torchvision (same features), then writes the C++ test's files."""
    with h5py.File(os.path.join(tmp, "converted.h5"), "r") as f:
        loaded = {k: torch.from_numpy(f[k][()]) for k in f}
    fresh = torchvision.models.resnet18(weights=None)
    result = fresh.load_state_dict(loaded, strict=False)
    assert not result.unexpected_keys and all(not k.startswith(TRUNK) or "num_batches" in k
                                              for k in result.missing_keys), result
    fresh.eval()

    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)

    def features(m):
        with torch.no_grad():
            h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
            l1 = m.layer1(h)
            l2 = m.layer2(l1)
            return [l1, l2, m.layer3(l2)]

    reference = features(model)
    for level, (a, b) in enumerate(zip(reference, features(fresh))):
        assert torch.equal(a, b), f"layer{level + 1} differs after the round trip"
    if out_dir is None:
        return
    os.makedirs(out_dir, exist_ok=True)
    teacher = os.path.join(out_dir, "teacher.h5")
    convert(os.path.join(tmp, "resnet18.pth"), teacher)
    expected = os.path.join(out_dir, "expected.h5")
    with h5py.File(expected + ".tmp", "w") as f:
        f["input"] = x.numpy()
        for level, t in enumerate(reference):
            f[f"layer{level + 1}"] = t.numpy()
    os.replace(expected + ".tmp", expected)
    print(f"    wrote {teacher} and {expected}")


def main():
    parser = argparse.ArgumentParser(description="Test tools/convert_weights.py (needs torch only here).")
    parser.add_argument("--out", help="folder for teacher.h5 and expected.h5 (the C++ loader test's input)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = random_model()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="stfpm_convert_") as tmp:
        checks = [("torch cannot be imported by the converter", lambda: check_torch_is_blocked(tmp)),
                  ("every tensor converts bitwise, attributes as in the shared teacher",
                   lambda: check_exact_conversion(tmp, model)),
                  ("views, offsets, strides, shared storages, float64/float16/bfloat16",
                   lambda: check_views_and_types(tmp, model)),
                  ("bad input gives a clear one-line error and no output", lambda: check_bad_inputs(tmp, model)),
                  ("converted weights give torch's features; C++ test files",
                   lambda: check_features_and_write(tmp, args.out, model))]
        for title, check in checks:
            try:
                check()
                print(f"ok: {title}")
            except Exception:
                failures += 1
                print(f"FAIL: {title}\n{traceback.format_exc()}")
    print(f"{len(checks) - failures} of {len(checks)} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
