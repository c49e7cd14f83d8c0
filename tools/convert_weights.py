#!/usr/bin/python3
"""Convert torchvision's ResNet-18 checkpoint (resnet18-f37072fd.pth) to the teacher HDF5 layout, without PyTorch.

Needs only numpy, h5py and the standard library. The output holds the 75 trunk tensors (conv1, bn1, layer1..layer3;
no layer4, fc or num_batches_tracked), one float32 dataset per tensor at the root named by its state_dict key, conv
weights OIHW, BatchNorm NOT folded (root attribute bn_folded = 0): the real weight, bias, running_mean and
running_var, for eval-mode BatchNorm with eps 1e-5.

A .pth written by torch >= 1.6 is a zip archive: <prefix>/data.pkl is a pickle whose persistent ids name the raw
little-endian storages <prefix>/data/<key>; each tensor is rebuilt by torch._utils._rebuild_tensor_v2 from
(storage, offset, size, stride). The pickle is read by a restricted unpickler that knows only those few torch names
and refuses every other global, so no code from the file ever runs.
"""

import argparse
import collections
import hashlib
import os
import pickle
import sys
import tempfile
import zipfile

import h5py
import numpy as np

# torch storage class name -> element type. Integer storages are known so that a state_dict holding them
# (num_batches_tracked) unpickles; only floating tensors can be converted.
STORAGE_DTYPES = {
    "FloatStorage": "f4", "HalfStorage": "f2", "DoubleStorage": "f8", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "b1",
}
SKIPPED_PREFIXES = ("layer4.", "fc.")


class ConvertError(Exception):
    pass


def trunk_shapes():
    """The 75 expected tensors of torchvision resnet18's trunk, in state_dict order, with their shapes."""
    shapes = collections.OrderedDict()

    def conv_bn(conv, bn, out_c, in_c, k):
        shapes[conv] = (out_c, in_c, k, k)
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{bn}.{suffix}"] = (out_c,)

    conv_bn("conv1.weight", "bn1", 64, 3, 7)
    in_c = 64
    for layer, out_c in ((1, 64), (2, 128), (3, 256)):
        for block in (0, 1):
            p = f"layer{layer}.{block}"
            conv_bn(f"{p}.conv1.weight", f"{p}.bn1", out_c, in_c if block == 0 else out_c, 3)
            conv_bn(f"{p}.conv2.weight", f"{p}.bn2", out_c, out_c, 3)
            if block == 0 and in_c != out_c:
                conv_bn(f"{p}.downsample.0.weight", f"{p}.downsample.1", out_c, in_c, 1)
        in_c = out_c
    return shapes


class StorageType:
    def __init__(self, name):
        self.name = name


class StorageRef:
    def __init__(self, storage_type, key, numel):
        self.dtype, self.key, self.numel = STORAGE_DTYPES[storage_type.name], key, numel


class TensorRef:
    """A tensor not yet read: its storage and the view (offset, size, stride, in elements) into it."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, StorageRef) or not isinstance(storage_offset, int) or \
            not all(isinstance(v, int) for v in tuple(size) + tuple(stride)) or len(size) != len(stride):
        raise pickle.UnpicklingError("malformed tensor record")
    return TensorRef(storage, storage_offset, size, stride)


class RestrictedUnpickler(pickle.Unpickler):
    """Maps the handful of globals a state_dict pickle uses to local stand-ins; anything else is refused."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load global '{module}.{name}' (not part of a state_dict)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], StorageType)
                and isinstance(pid[2], str) and isinstance(pid[4], int)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return StorageRef(pid[1], pid[2], pid[4])


class Checkpoint:
    """The tensors of a zip-format .pth, read lazily."""

    def __init__(self, path):
        self.path = path
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                head = f.read(2)
            if head[:1] == b"\x80":  # a pickle: torch.save's legacy format (before torch 1.6)
                raise ConvertError("legacy (non-zip) PyTorch file; re-save it with a recent torch: "
                                   "torch.save(torch.load(OLD), NEW)")
            raise ConvertError("not a PyTorch checkpoint (not a zip archive)")
        self.zip = zipfile.ZipFile(path)
        pickles = [n for n in self.zip.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ConvertError("zip archive without exactly one <prefix>/data.pkl; not a torch.save file")
        self.prefix = pickles[0][:-len("data.pkl")]
        byteorder_name = self.prefix + "byteorder"
        big = byteorder_name in self.zip.namelist() and self.zip.read(byteorder_name).strip() == b"big"
        self.endian = ">" if big else "<"
        try:
            obj = RestrictedUnpickler(self.zip.open(pickles[0])).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
            raise ConvertError(f"cannot read {pickles[0]}: {e}") from None
        if not isinstance(obj, dict) or not all(isinstance(v, TensorRef) for v in obj.values()):
            raise ConvertError(f"holds a {type(obj).__name__}, not a state_dict (a mapping of names to tensors)")
        self.tensors = obj
        self._storages = {}

    def _storage(self, ref):
        if ref.key not in self._storages:
            name = f"{self.prefix}data/{ref.key}"
            try:
                raw = self.zip.read(name)
            except KeyError:
                raise ConvertError(f"storage {name} is missing from the archive") from None
            if ref.dtype == "bf16":  # the upper half of a float32, which numpy does not have as a type
                halves = np.frombuffer(raw, dtype=self.endian + "u2").astype(np.uint32)
                array = (halves << np.uint32(16)).view(np.float32)
            else:
                itemsize = np.dtype(ref.dtype).itemsize
                array = np.frombuffer(raw, dtype=self.endian + ref.dtype, count=len(raw) // itemsize)
            if array.size < ref.numel:
                raise ConvertError(f"storage {name} holds {array.size} elements, expected {ref.numel}")
            self._storages[ref.key] = array
        return self._storages[ref.key]

    def read(self, name):
        """Tensor `name` as a C-contiguous float32 array (offset and strides honoured)."""
        ref = self.tensors[name]
        storage = self._storage(ref.storage)
        if storage.dtype.kind != "f":
            raise ConvertError(f"tensor '{name}' has integer type {storage.dtype}, expected floating point")
        if any(s < 0 for s in ref.size + ref.stride) or ref.offset < 0:
            raise ConvertError(f"tensor '{name}' has a negative size, stride or offset")
        if 0 not in ref.size:
            last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
            if last >= storage.size:
                raise ConvertError(f"tensor '{name}' reaches element {last} of a storage of {storage.size}")
        base = storage[ref.offset:] if 0 not in ref.size else storage[:0]
        view = np.lib.stride_tricks.as_strided(base, shape=ref.size,
                                               strides=[s * storage.itemsize for s in ref.stride], writeable=False)
        return np.ascontiguousarray(view, dtype=np.float32)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text(s):
    """A fixed-length ASCII string attribute with its terminating NUL inside the stored size, which HDF5 C readers
    asking for an ASCII C string read back whole (h5py's default, variable-length UTF-8, they cannot convert)."""
    return np.array(s.encode("ascii"), dtype=f"S{len(s) + 1}")


def convert(src, dst):
    checkpoint = Checkpoint(src)
    expected = trunk_shapes()
    missing = [n for n in expected if n not in checkpoint.tensors]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ConvertError(f"missing tensor '{missing[0]}'{more} (expected torchvision resnet18's state_dict keys)")
    for name, shape in expected.items():
        got = checkpoint.tensors[name].size
        if got != shape:
            raise ConvertError(f"tensor '{name}' has shape {got}, expected {shape}")
    skipped = [n for n in checkpoint.tensors if n not in expected]
    unexpected = [n for n in skipped if not n.startswith(SKIPPED_PREFIXES) and not n.endswith("num_batches_tracked")]
    tensors = collections.OrderedDict((name, checkpoint.read(name)) for name in expected)
    source_types = sorted({checkpoint.tensors[n].storage.dtype for n in expected})

    out_dir = os.path.dirname(os.path.abspath(dst))
    try:
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(dst) + ".", suffix=".tmp", dir=out_dir)
    except OSError as e:
        raise ConvertError(f"cannot write to {out_dir}: {e.strerror}") from None
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["bn_eps"] = np.float64(1e-5)
            f.attrs["bn_folded"] = np.int64(0)
            f.attrs["input_normalization"] = text("RGB in [0,1], mean=(0.485,0.456,0.406), std=(0.229,0.224,0.225)")
            f.attrs["layout"] = text("PyTorch: conv OIHW float32")
            f.attrs["model"] = text(f"torchvision resnet18 ({os.path.basename(src)}), conv1..layer3 only")
            f.attrs["note"] = text("BatchNorm not folded: torchvision's weight, bias, running_mean and running_var, "
                                   "for eval-mode BatchNorm with eps 1e-5. Converted by tools/convert_weights.py.")
            f.attrs["source"] = text(f"{os.path.basename(src)} sha256 {file_sha256(src)}")
            for name, array in tensors.items():
                f.create_dataset(name, data=array)
        umask = os.umask(0)  # mkstemp creates the file private; give it the mode a plain open() would
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dst)
    except BaseException:
        os.remove(tmp)
        raise
    params = sum(a.size for a in tensors.values())
    print(f"converted {len(tensors)} tensors ({params:,} values, source types {', '.join(source_types)}) "
          f"from {src} to {dst}")
    print(f"skipped {len(skipped)} tensors (layer4, fc, num_batches_tracked"
          + (f", and unexpected: {', '.join(unexpected[:5])}" if unexpected else "") + ")")


def main():
    parser = argparse.ArgumentParser(
        description="Convert torchvision's resnet18 .pth (e.g. resnet18-f37072fd.pth, or any "
                    "torch.save(model.state_dict()) of a torchvision resnet18) to the STFPM teacher HDF5 file: "
                    "75 float32 trunk tensors (conv1, bn1, layer1..layer3), BatchNorm unfolded. "
                    "PyTorch is not needed.",
        epilog="example: /usr/bin/python3 tools/convert_weights.py resnet18-f37072fd.pth weights/resnet18_imagenet.h5")
    parser.add_argument("input", help="the .pth file (zip format, torch >= 1.6)")
    parser.add_argument("output", help="the HDF5 file to write (written to a temporary file, then renamed)")
    args = parser.parse_args()
    try:
        convert(args.input, args.output)
    except ConvertError as e:
        sys.exit(f"convert_weights.py: error: {args.input}: {e}")
    except zipfile.BadZipFile as e:
        sys.exit(f"convert_weights.py: error: {args.input}: damaged zip archive ({e})")
    except OSError as e:
        sys.exit(f"convert_weights.py: error: {e.filename or args.input}: {e.strerror}")


if __name__ == "__main__":
    main()
