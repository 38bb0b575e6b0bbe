"""Optional check (netc never needs Python): torchvision/timm weights load into netc as
they are, and `netc predict --output` equals PyTorch's output on the same input.

    pip install torch torchvision timm safetensors numpy
    python benches/pytorch_weights.py [NET ...]     # from the repository root, after cargo build --release

For each net: a model with random weights and random batch-norm statistics (so that the
statistics matter), saved with `safetensors.torch.save_file(model.state_dict(), ...)`, one
random input saved with numpy.save, PyTorch's output in eval mode, then
`netc predict NET --weights W x.npy --output y.npy`, and the largest difference relative to
the largest output, and whether the argmax agrees.
"""
import subprocess, sys, tempfile, os
import numpy as np
import torch
import torchvision.models as tvm
import timm
from safetensors.torch import save_file

MODELS = {
    "resnet18": (lambda: tvm.resnet18(), 224),
    "resnet50": (lambda: tvm.resnet50(), 224),
    "vgg16": (lambda: tvm.vgg16(), 224),
    "alexnet-torchvision": (lambda: tvm.alexnet(), 224),
    "inception-v3": (lambda: tvm.inception_v3(aux_logits=False, init_weights=False), 299),
    "inception-v4": (lambda: timm.create_model("inception_v4"), 299),
    "inception-resnet-v2": (lambda: timm.create_model("inception_resnet_v2"), 299),
}

def main():
    names = sys.argv[1:] or list(MODELS)
    torch.manual_seed(0)
    for net in names:
        make, size = MODELS[net]
        model = make().eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        with tempfile.TemporaryDirectory() as d:
            w, x, y = (os.path.join(d, f) for f in ("w.safetensors", "x.npy", "y.npy"))
            save_file(model.state_dict(), w)
            inp = torch.randn(2, 3, size, size)
            np.save(x, inp.numpy())
            with torch.no_grad():
                ref = model(inp).numpy()
            r = subprocess.run(["target/release/netc", "predict", f"nets/{net}.net", "--weights", w, x, "--output", y],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{net}: netc failed ({r.returncode}): {r.stderr.strip()}")
                continue
            out = np.load(y)
            rel = float(np.abs(out - ref).max() / np.abs(ref).max())
            same = bool((out.argmax(1) == ref.argmax(1)).all())
            notes = " ".join(l for l in r.stderr.splitlines() if l.startswith("note"))
            print(f"{net}: max |netc - torch| / max |torch| = {rel:.2e}, argmax {'equal' if same else 'DIFFERS'}; {notes}")

main()
