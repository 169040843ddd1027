"""The composite blocks a network spec can use, as plain PyTorch modules.

Each class is self-contained (only `torch` and `nn`), so the code export can copy its source into
the file a user downloads. Gates are separate `nn.Sigmoid` modules so that hooks can read the
attention weights by their `named_modules()` name (`se1.gate`, `cbam1.spatial_gate`).
"""

import torch
from torch import nn


class GlobalPool(nn.Module):
    """Global average or max pooling to one number per channel: (N, C, H, W) -> (N, C)."""

    def __init__(self, mode: str = "avg"):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        return x.mean(dim=(2, 3)) if self.mode == "avg" else x.amax(dim=(2, 3))


class ResidualBlock(nn.Module):
    """Two 3x3 convs with batchnorm plus a shortcut (He et al., 2016)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:  # 1x1 projection to match shapes
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu2 = nn.ReLU()

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + self.shortcut(x))


def _conv_relu(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU())


class InceptionBlock(nn.Module):
    """Parallel 1x1, 3x3, 5x5 and pool branches, concatenated on channels (Szegedy et al.)."""

    def __init__(
        self,
        in_channels: int,
        out_1x1: int,
        reduce_3x3: int,
        out_3x3: int,
        reduce_5x5: int,
        out_5x5: int,
        pool_proj: int,
    ):
        super().__init__()
        self.branch1 = _conv_relu(in_channels, out_1x1, 1)
        self.branch3 = self._reduced(in_channels, reduce_3x3, out_3x3, 3)
        self.branch5 = self._reduced(in_channels, reduce_5x5, out_5x5, 5)
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), *_conv_relu(in_channels, pool_proj, 1)
        )

    @staticmethod
    def _reduced(c_in: int, reduce: int, c_out: int, k: int) -> nn.Sequential:
        if not reduce:
            return _conv_relu(c_in, c_out, k)
        return nn.Sequential(*_conv_relu(c_in, reduce, 1), *_conv_relu(reduce, c_out, k))

    def forward(self, x):
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([b(x) for b in branches], dim=1)


class SqueezeExcite(nn.Module):
    """Squeeze (global average) and excite (bottleneck MLP + sigmoid) each channel."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, channels)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        w = self.gate(self.fc2(self.relu(self.fc1(x.mean(dim=(2, 3))))))  # (N, C)
        return x * w[:, :, None, None]


class CBAM(nn.Module):
    """Convolutional Block Attention Module: channel gate, then spatial gate (Woo et al.)."""

    def __init__(self, channels: int, reduction: int = 4, spatial_kernel: int = 7):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels)
        )
        self.channel_gate = nn.Sigmoid()
        self.spatial = nn.Conv2d(2, 1, spatial_kernel, padding=spatial_kernel // 2)
        self.spatial_gate = nn.Sigmoid()

    def forward(self, x):
        avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))  # (N, C) each
        x = x * self.channel_gate(self.mlp(avg) + self.mlp(mx))[:, :, None, None]
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * self.spatial_gate(self.spatial(pooled))  # (N, 1, H, W) map
