"""Writes the parameter and buffer names and shapes of the reference implementations of
the zoo nets, one `name dim×dim…` line per state_dict entry in state_dict order.

Run (outside the project; netc never needs Python):
    pip install torch torchvision timm
    python tests/data/reference-names/generate.py tests/data/reference-names
"""
import sys
import torchvision.models as tvm
import timm

OUT = sys.argv[1] if len(sys.argv) > 1 else "."

MODELS = {
    "resnet18": lambda: tvm.resnet18(),
    "resnet34": lambda: tvm.resnet34(),
    "resnet50": lambda: tvm.resnet50(),
    "resnet101": lambda: tvm.resnet101(),
    "resnet152": lambda: tvm.resnet152(),
    "vgg16": lambda: tvm.vgg16(),
    "vgg19": lambda: tvm.vgg19(),
    "alexnet-torchvision": lambda: tvm.alexnet(),
    # Without the auxiliary classifier, as nets/inception-v3.net (23,834,568 params).
    "inception-v3": lambda: tvm.inception_v3(aux_logits=False, init_weights=False),
    # With it (`AuxLogits.*`, 27,161,264 params): what netc's training program holds.
    "inception-v3-aux": lambda: tvm.inception_v3(aux_logits=True, init_weights=False),
    "inception-v4": lambda: timm.create_model("inception_v4", pretrained=False),
    "inception-resnet-v2": lambda: timm.create_model("inception_resnet_v2", pretrained=False),
}

for net, make in MODELS.items():
    sd = make().state_dict()
    with open(f"{OUT}/{net}.txt", "w") as f:
        for name, t in sd.items():
            shape = "×".join(str(d) for d in t.shape) or "scalar"
            f.write(f"{name} {shape}\n")
    print(net, len(sd))
