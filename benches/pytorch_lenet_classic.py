# Optional comparison (netc itself never needs Python): PyTorch training steps of
# nets/lenet-classic.net, batch 64, SGD with momentum, synthetic data, 2 threads, median step.
# python3 benches/pytorch_lenet_classic.py eager|compile|compile-model
import sys, time, statistics, torch, torch.nn as nn
torch.manual_seed(1); torch.set_num_threads(2)
mode = sys.argv[1] if len(sys.argv) > 1 else 'eager'
net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                    nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
params = list(net.parameters())
opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
lossf = nn.CrossEntropyLoss()
x = torch.rand(64, 1, 32, 32) * 2 - 1; y = torch.randint(0, 10, (64,))
def step():
    opt.zero_grad(set_to_none=True); l = lossf(net(x), y); l.backward(); opt.step(); return l
if mode == 'compile-model':
    net = torch.compile(net)
if mode == 'compile':
    step = torch.compile(step)
for _ in range(50): step()
times = []
end = time.time() + 4
while time.time() < end:
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
m = statistics.median(times)
print(f"pytorch {torch.__version__} {mode}: step {m*1e3:.3f} ms median of {len(times)}, {64/m:.0f} images/s")
