# Optional comparison (netc itself never needs Python): the PyTorch side of the benchmark
# cases in benches/side_by_side.sh, each the same net, batch, mode and thread count as
# `netc bench`. Training steps are forward + backward + SGD with momentum 0.9 on synthetic
# data (netc bench --train does the same); inference runs under torch.inference_mode().
#
#   python3 benches/pytorch_cases.py CASE [seconds]
#   CASE: lenet-train | resnet20-train | resnet18-train | resnet50-infer | vgg16-infer | inception3-infer
#
# Prints one line: "CASE median_ms steps", the median step time over `seconds` of timed
# runs after a warm-up. Needs torch and torchvision (pip install torch torchvision).
import os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

THREADS = int(os.environ.get("THREADS", "2"))


def resnet20_cifar():
    """ResNet-20 with option A shortcuts, as nets/resnet20-cifar.net (akamaster's layout)."""

    class Basic(nn.Module):
        def __init__(self, cin, w, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, w, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(w)
            self.conv2 = nn.Conv2d(w, w, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(w)
            self.pad = (w - cin) // 2 if stride != 1 or cin != w else None

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            s = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
            return F.relu(y + s)

    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for w in (16, 32, 64):
        for i in range(3):
            layers.append(Basic(cin, w, 2 if (i == 0 and w != 16) else 1))
            cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def lenet_classic():
    """nets/lenet-classic.net with plain tanh (PyTorch has no scaled tanh or RBF layer)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


# case: (model, input C×H×W, batch, classes, training)
CASES = {
    "lenet-train": (lenet_classic, (1, 32, 32), 64, 10, True),
    "resnet20-train": (resnet20_cifar, (3, 32, 32), 128, 10, True),
    "resnet18-train": (lambda: torchvision.models.resnet18(), (3, 224, 224), 8, 1000, True),
    "resnet50-infer": (lambda: torchvision.models.resnet50(), (3, 224, 224), 1, 1000, False),
    "vgg16-infer": (lambda: torchvision.models.vgg16(), (3, 224, 224), 1, 1000, False),
    "inception3-infer": (
        lambda: torchvision.models.inception_v3(aux_logits=False, init_weights=False),
        (3, 299, 299), 1, 1000, False),
}


def main():
    case = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    make, chw, batch, classes, training = CASES[case]
    torch.manual_seed(1)
    torch.set_num_threads(THREADS)
    net = make()
    x = torch.rand(batch, *chw) * 2 - 1
    if training:
        net.train()
        y = torch.randint(0, classes, (batch,))
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            opt.step()
    else:
        net.eval()

        def step():
            with torch.inference_mode():
                net(x)

    warm_end = time.time() + min(2.0, seconds)
    step()
    while time.time() < warm_end:
        step()
    times = []
    end = time.time() + seconds
    while time.time() < end or len(times) < 3:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(f"{case} {statistics.median(times) * 1e3:.3f} {len(times)}")


if __name__ == "__main__":
    main()
