"""Batched data augmentation on tensors (no per-image Python loop).

Random horizontal flip, a small random affine (rotation, scale, shift) via one
grid_sample call for the whole batch, and random erasing of one rectangle.
With `domain_shift`, also what separates users' photos from FER2013's crops:
lower resolution, blur, gamma and contrast, sensor noise. The random draws come
from a CPU generator (reproducible on any device); the pixels are transformed
wherever the batch lives (CPU or GPU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror about half of the batch left-right."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    images = images.clone()
    images[flip] = images[flip].flip(-1)
    return images


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    max_degrees: float = 15.0,
    max_shift: float = 0.1,
    scale_range: tuple[float, float] = (0.9, 1.1),
) -> torch.Tensor:
    """Rotate by up to max_degrees, shift by up to max_shift of the side, and scale."""
    count = images.shape[0]
    angle = (torch.rand(count, generator=generator) * 2 - 1) * math.radians(max_degrees)
    scale = torch.empty(count).uniform_(*scale_range, generator=generator)
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * max_shift * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_erase(
    images: torch.Tensor, generator: torch.Generator, probability: float = 0.5, max_area: float = 0.2
) -> torch.Tensor:
    """Zero one random rectangle (up to max_area of the image) in about `probability` of the images."""
    count, _, height, width = images.shape
    apply = torch.rand(count, generator=generator) < probability
    area = torch.empty(count).uniform_(0.02, max_area, generator=generator) * height * width
    aspect = torch.exp(torch.empty(count).uniform_(math.log(0.3), math.log(3.3), generator=generator))
    box_h = (area * aspect).sqrt().clamp(1, height).long()
    box_w = (area / aspect).sqrt().clamp(1, width).long()
    top = (torch.rand(count, generator=generator) * (height - box_h + 1)).long()
    left = (torch.rand(count, generator=generator) * (width - box_w + 1)).long()
    top, left, box_h, box_w, apply = (value.to(images.device) for value in (top, left, box_h, box_w, apply))
    rows = torch.arange(height, device=images.device).view(1, height, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, width)
    inside = (
        (rows >= top.view(-1, 1, 1)) & (rows < (top + box_h).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1)) & (cols < (left + box_w).view(-1, 1, 1))
        & apply.view(-1, 1, 1)
    )
    return images.masked_fill(inside.unsqueeze(1), 0.0)


def chosen(count: int, probability: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """A (count, 1, 1, 1) mask that is True for about `probability` of the batch."""
    return (torch.rand(count, generator=generator) < probability).view(-1, 1, 1, 1).to(device)


def random_resolution(images: torch.Tensor, generator: torch.Generator, probability: float = 0.3,
                      sides: tuple[int, ...] = (20, 24, 32, 40)) -> torch.Tensor:
    """Shrink about `probability` of the batch to one of `sides` (area-averaged) and back (bilinear): a small
    face in a phone photo or a film still."""
    count, _, height, width = images.shape
    side = torch.randint(len(sides), (count,), generator=generator)
    apply = torch.rand(count, generator=generator) < probability
    images = images.clone()
    for index, target in enumerate(sides):
        rows = (apply & (side == index)).nonzero().flatten().to(images.device)
        if len(rows):
            small = F.interpolate(images[rows], size=(target, target), mode="area")
            images[rows] = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)
    return images


def random_blur(images: torch.Tensor, generator: torch.Generator, probability: float = 0.25,
                sigma_range: tuple[float, float] = (0.3, 1.0)) -> torch.Tensor:
    """A Gaussian blur of its own width for about `probability` of the batch (out of focus, motion)."""
    count = images.shape[0]
    sigma = torch.empty(count).uniform_(*sigma_range, generator=generator)
    offsets = torch.arange(-3, 4, dtype=torch.float32)
    kernel = torch.exp(-offsets.view(1, -1) ** 2 / (2 * sigma.view(-1, 1) ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).to(images.device)
    padded = F.pad(images.transpose(0, 1), (3, 3, 3, 3), mode="replicate")  # (1, N, H+6, W+6)
    blurred = F.conv2d(padded, kernel.view(count, 1, 1, 7), groups=count)
    blurred = F.conv2d(blurred, kernel.view(count, 1, 7, 1), groups=count).transpose(0, 1)
    return torch.where(chosen(count, probability, generator, images.device), blurred, images)


def random_tone(images: torch.Tensor, generator: torch.Generator, probability: float = 0.5,
                gamma_range: tuple[float, float] = (0.6, 1.6), contrast_range: tuple[float, float] = (0.6, 1.3),
                max_noise: float = 0.04) -> torch.Tensor:
    """Gamma, contrast about the mean and Gaussian noise for about `probability` of the batch (lighting,
    exposure, a camera's grain)."""
    count = images.shape[0]
    gamma = torch.empty(count, 1, 1, 1).uniform_(*gamma_range, generator=generator).to(images.device)
    contrast = torch.empty(count, 1, 1, 1).uniform_(*contrast_range, generator=generator).to(images.device)
    noise = (torch.randn(images.shape, generator=generator) * torch.rand(count, 1, 1, 1, generator=generator)
             * max_noise).to(images.device)
    toned = images.clamp(1e-4, 1) ** gamma
    mean = toned.mean((1, 2, 3), keepdim=True)
    toned = ((toned - mean) * contrast + mean + noise).clamp(0, 1)
    return torch.where(chosen(count, probability, generator, images.device), toned, images)


def augment_batch(images: torch.Tensor, generator: torch.Generator, domain_shift: bool = False) -> torch.Tensor:
    """The full training augmentation for a float batch (N, 1, H, W) in [0, 1]; `domain_shift` adds lower
    resolution, blur and tone before the erasing."""
    images = random_flip(images, generator)
    images = random_affine(images, generator)
    if domain_shift:
        images = random_tone(random_blur(random_resolution(images, generator), generator), generator)
    return random_erase(images, generator)
