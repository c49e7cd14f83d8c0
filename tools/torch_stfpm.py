"""The PyTorch reference recipe of STFPM (DESIGN.md section 2), shared by the peer benchmark and the reference
training script. PyTorch is needed here only: the project's own program never imports it.

The model is torchvision's resnet18 cut after layer3 (teacher: ImageNet weights from our HDF5 file, eval, frozen;
student: torchvision's random initialization, train mode), the loss is the sum over layers of
alpha * sum_{b,c,h,w} (t^ - s^)^2 / (2 h w), and the anomaly map the product of the upsampled per-layer
0.5 * ||t^ - s^||^2, as in the reference implementation.
"""

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision


class Trunk(torch.nn.Module):
    """conv1, bn1, relu, maxpool, layer1..layer3 of a torchvision resnet18; returns the three feature maps."""

    def __init__(self):
        super().__init__()
        net = torchvision.models.resnet18()
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        f1 = self.layer1(x)
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        return [f1, f2, f3]


def load_teacher(path):
    """A frozen eval-mode trunk with every tensor from our HDF5 teacher file (folded or not)."""
    trunk = Trunk()
    state = trunk.state_dict()
    with h5py.File(path, "r") as f:
        for name in state:
            if name.endswith("num_batches_tracked"):
                continue
            state[name] = torch.from_numpy(np.asarray(f[name], dtype=np.float32))
    trunk.load_state_dict(state)
    trunk.eval()
    for p in trunk.parameters():
        p.requires_grad_(False)
    return trunk


def stfpm_loss(teacher_feats, student_feats, alphas=(1.0, 1.0, 1.0)):
    total = 0.0
    for t, s, a in zip(teacher_feats, student_feats, alphas):
        _, _, h, w = s.shape
        total = total + a * (0.5 / (h * w)) * ((F.normalize(t, dim=1) - F.normalize(s, dim=1)) ** 2).sum()
    return total


def anomaly_maps(teacher_feats, student_feats, out_size):
    """(combined map (N, H, W), [per-level maps]) as numpy arrays."""
    levels = []
    for t, s in zip(teacher_feats, student_feats):
        d = 0.5 * ((F.normalize(t, dim=1) - F.normalize(s, dim=1)) ** 2).sum(dim=1, keepdim=True)
        levels.append(F.interpolate(d, size=out_size, mode="bilinear", align_corners=False)[:, 0])
    combined = levels[0]
    for m in levels[1:]:
        combined = combined * m
    return combined.cpu().numpy(), [m.cpu().numpy() for m in levels]


def make_optimizer(student, lr=0.4, momentum=0.9, weight_decay=1e-4):
    return torch.optim.SGD(student.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def train_step(teacher, student, optimizer, x):
    optimizer.zero_grad()
    with torch.no_grad():
        t = teacher(x)
    s = student(x)
    loss = stfpm_loss(t, s)
    loss.backward()
    optimizer.step()
    return loss.item()
