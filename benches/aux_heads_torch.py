"""Parameter counts of the auxiliary heads, from PyTorch (optional, outside the suite).

GoogLeNet's two heads as Szegedy et al. 2014, Sec. 5 describe them (5x5/3 average
pool, 1x1 conv 128 + ReLU, fc 1024 + ReLU, dropout 0.7, fc 1000) on inception 4a
(512x14x14) and 4d (528x14x14), and torchvision's Inception-v3 with and without
`aux_logits`. The figures pinned in tests/zoo.rs are these.
"""
import torch
import torchvision
from torch import nn


def googlenet_head(channels):
    return nn.Sequential(
        nn.AvgPool2d(5, 3), nn.Conv2d(channels, 128, 1), nn.ReLU(), nn.Flatten(),
        nn.Linear(128 * 4 * 4, 1024), nn.ReLU(), nn.Dropout(0.7), nn.Linear(1024, 1000))


def count(m):
    return sum(p.numel() for p in m.parameters())


for name, c in (("loss1 (4a)", 512), ("loss2 (4d)", 528)):
    head = googlenet_head(c)
    assert head(torch.zeros(1, c, 14, 14)).shape == (1, 1000)
    print(f"googlenet {name}: {count(head):,}")
heads = count(googlenet_head(512)) + count(googlenet_head(528))
print(f"googlenet heads: {heads:,}; with the net's 6,998,552: {6_998_552 + heads:,}")
v3 = torchvision.models.inception_v3(aux_logits=True, init_weights=False)
aux = sum(p.numel() for n, p in v3.named_parameters() if n.startswith("AuxLogits."))
print(f"inception_v3: {count(v3):,} with AuxLogits, {count(v3) - aux:,} without")
