"""Fine-tune dog-emotion members on a lent GPU: the app's body crops packed small enough to travel, then trained
there with augmentation on the GPU itself.

A call of the `device` tool carries at most 64 MiB with the tracked files (37.5 MiB since 2026-12-04) and the
backbone's wheels (17 MB), and the 24,000 train and val body crops at 224 px are about 270 MB as JPEG. So `pack`
stores each crop of training.dogs' recorded split (training/dog_split.json: the shipped members' split; the test
photos never travel) downscaled to --size px as WebP, in parts for training.device_pack's unpacking checks (one
call each; the first one smaller, as it travels with the wheels):

    python -m training.dog_device pack --data DOG_EMOTION_REPO/images --cache .cache/dogs --out .gpu-dogs
    python -m training.dog_device train --packed .gpu-dogs --out OUT/full0.pt --first-tuned-block 0 --seed 11

`train` (on the GPU machine; scripts/device_dogs.sh runs several side by side) decodes the crops once into GPU
memory, and each step draws a random resized crop of each photo (torchvision's roi_align, up to the network's
224 px), mirrors half and re-colours each (brightness, contrast, saturation), then trains EfficientNet-Lite0 from
--first-tuned-block on (inference.dog_net.TunedNet) with class-balanced, label-smoothed cross-entropy, AdamW and a
one-cycle schedule set by the clock to end at --fit-seconds. Val (the packed val crops, upscaled whole) picks the
epoch. The member file is what training.dogs writes for a tuned member, so training.dog_ensemble measures it here
on the app's own 224 px crops of val and test.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.ops import roi_align

from inference.dog_net import TunedNet
from inference.labels import DOG_EMOTIONS
from inference.specs import IMAGENET_MEAN, IMAGENET_STD, PET_INPUT_SIZE
from training.device_pack import packed_stream, write_parts
from training.dog_split import DogSplit, add_split_arguments
from training.learning import LearningSettings
from training.metrics import summary

PACKED_SPLITS = (DogSplit.TRAIN, DogSplit.VAL)


def webp_bytes(crop: np.ndarray, size: int, quality: int) -> bytes:
    """One uint8 RGB crop, downscaled to size x size, as WebP."""
    buffer = io.BytesIO()
    Image.fromarray(crop).resize((size, size), Image.LANCZOS).save(buffer, "WEBP", quality=quality, method=6)
    return buffer.getvalue()


def packed_split(crops: np.ndarray, labels: np.ndarray, size: int, quality: int) -> dict[str, np.ndarray]:
    """The crops as one byte array of WebP files, their end offsets, and their labels."""
    files = [webp_bytes(crop, size, quality) for crop in crops]
    return {"bytes": np.frombuffer(b"".join(files), dtype=np.uint8), "ends": np.cumsum([len(f) for f in files]),
            "labels": labels.astype(np.int64)}


def pack(data: Path, cache: Path, split_file: Path, out: Path, size: int, quality: int, part_mib: float,
         first_part_mib: float) -> list[Path]:
    """training.dogs' train and val body crops (every training photo, the val photos in which the app finds a
    dog), packed into parts; returns the part folders."""
    from training.dogs import CropKind, cached_crops, dog_data  # here only: the detector stack stays off the device

    dogs = dog_data(data, cache, split_file=split_file)
    crops, found = cached_crops(dogs.paths, cache, CropKind.BODY)
    read = dogs.read(found)
    return write_pack({split: (crops[read[split]], dogs.labels[read[split]]) for split in PACKED_SPLITS}, out, size,
                      quality, part_mib, first_part_mib)


def write_pack(splits: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, size: int, quality: int,
               part_mib: float, first_part_mib: float) -> list[Path]:
    """Each split's uint8 RGB crops (N, H, W, 3) and labels, packed into parts; returns the part folders."""
    arrays = {}
    for split, (crops, labels) in splits.items():
        for name, values in packed_split(crops, labels, size, quality).items():
            arrays[f"{split}_{name}"] = values
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_parts(buffer.getvalue(), out, part_mib, {"size": size, "classes": list(DOG_EMOTIONS)},
                       first_part_mib)


def decode(webp: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(webp)) as image:
        return np.asarray(image.convert("RGB"))


def unpack(packed: Path, workers: int = 4) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict]:
    """Each packed split's decoded crops (N, size, size, 3) and labels, and the manifest."""
    stream, manifest = packed_stream(packed)
    splits = {}
    with np.load(io.BytesIO(stream)) as arrays, get_context("spawn").Pool(workers) as pool:  # not forked: a
        # fork of a process with threads (a test run's servers, torch's) can inherit a lock held, and wait for ever
        for split in PACKED_SPLITS:
            data, ends = arrays[f"{split}_bytes"].tobytes(), arrays[f"{split}_ends"]
            files = [data[start:end] for start, end in zip(np.concatenate([[0], ends[:-1]]), ends)]
            splits[split] = np.stack(pool.map(decode, files, chunksize=256)), arrays[f"{split}_labels"]
    return splits, manifest


@dataclass(frozen=True)
class GpuTuning(LearningSettings):
    """How a member learns on the GPU: larger batches at a higher rate, for a time rather than for epochs, on
    augmented pixels."""

    learning_rate: float = 1e-3
    batch: int = 128
    seed: int = 11
    first_tuned_block: int = 0
    fit_seconds: float = 300.0
    max_epochs: int = 40
    min_area: float = 0.35  # random resized crops keep 35-100% of the photo's area
    jitter: float = 0.3  # brightness, contrast and saturation factors in 1 +- jitter


def random_boxes(count: int, side: int, min_area: float, generator: torch.Generator) -> torch.Tensor:
    """(count, 4) x0, y0, x1, y1 boxes inside a side x side image: area min_area..1, aspect 3/4..4/3."""
    area = torch.empty(count).uniform_(min_area, 1.0, generator=generator)
    aspect = torch.exp(torch.empty(count).uniform_(np.log(3 / 4), np.log(4 / 3), generator=generator))
    width = (side * torch.sqrt(area * aspect)).clamp(max=side)
    height = (side * torch.sqrt(area / aspect)).clamp(max=side)
    left = torch.rand(count, generator=generator) * (side - width)
    top = torch.rand(count, generator=generator) * (side - height)
    return torch.stack([left, top, left + width, top + height], 1)


def augmented_batch(images: torch.Tensor, settings: GpuTuning, generator: torch.Generator) -> torch.Tensor:
    """uint8 (B, 3, S, S) crops -> float (B, 3, 224, 224) in 0..1: a random resized crop of each (roi_align),
    half of them mirrored, each re-coloured."""
    count, side = len(images), images.shape[-1]
    boxes = random_boxes(count, side, settings.min_area, generator).to(images.device)
    rois = torch.cat([torch.arange(count, device=images.device, dtype=boxes.dtype)[:, None], boxes], 1)
    batch = roi_align(images.float() / 255, rois, PET_INPUT_SIZE, spatial_scale=1.0, sampling_ratio=2, aligned=True)
    mirrored = (torch.rand(count, generator=generator) < 0.5).to(images.device)
    batch = torch.where(mirrored[:, None, None, None], batch.flip(3), batch)
    factors = (1 + (torch.rand(3, count, 1, 1, 1, generator=generator) * 2 - 1) * settings.jitter).to(images.device)
    batch = batch * factors[0]
    batch = (batch - batch.mean((1, 2, 3), keepdim=True)) * factors[1] + batch.mean((1, 2, 3), keepdim=True)
    grey = (batch * torch.tensor([0.299, 0.587, 0.114], device=images.device)[:, None, None]).sum(1, keepdim=True)
    return ((batch - grey) * factors[2] + grey).clamp(0, 1)


def normalised(batch: torch.Tensor) -> torch.Tensor:
    """0..1 RGB batch -> ImageNet-normalised, as inference.dog_emotion.imagenet_batch."""
    mean = torch.tensor(IMAGENET_MEAN, device=batch.device)[:, None, None]
    std = torch.tensor(IMAGENET_STD, device=batch.device)[:, None, None]
    return (batch - mean) / std


def whole_crops(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, S, S) -> float (B, 3, 224, 224) in 0..1, each crop whole."""
    return F.interpolate(images.float() / 255, size=PET_INPUT_SIZE, mode="bilinear", align_corners=False)


def val_logits(net: TunedNet, images: torch.Tensor, batch: int = 512) -> np.ndarray:
    net.eval()
    with torch.inference_mode(), torch.autocast(images.device.type, torch.bfloat16):
        logits = [net(normalised(whole_crops(images[start:start + batch]))).float()
                  for start in range(0, len(images), batch)]
    return torch.cat(logits).cpu().numpy()


def _step(net: TunedNet, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor,
          balance: torch.Tensor, settings: GpuTuning) -> float:
    with torch.autocast(inputs.device.type, torch.bfloat16):
        logits = net(normalised(inputs))
    loss = F.cross_entropy(logits.float(), targets, weight=balance, label_smoothing=settings.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def learning_rate_at(progress: float, peak: float, warm_up: float = 0.15) -> float:
    """One cycle over the time given (progress 0..1): a linear rise from peak / 25 to `peak` over the first
    `warm_up`, then a cosine down to zero. Set by the clock, not by steps: members sharing the GPU each end on time,
    however fast each step turns out."""
    if progress < warm_up:
        return peak * (0.04 + 0.96 * progress / warm_up)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warm_up) / (1 - warm_up))))


def train_member(splits: dict[str, tuple[np.ndarray, np.ndarray]], settings: GpuTuning,
                 device: torch.device) -> tuple[TunedNet, dict]:
    """A TunedNet trained on the packed train crops for settings.fit_seconds (or max_epochs, if sooner), the epoch
    kept by val macro-F1; and its log."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    images = {name: torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous().to(device)
              for name, (crops, _) in splits.items()}
    train_labels = torch.from_numpy(splits[DogSplit.TRAIN][1]).to(device)
    counts = torch.bincount(train_labels, minlength=len(DOG_EMOTIONS)).float()
    balance = counts.sum() / (len(DOG_EMOTIONS) * counts.clamp(min=1))
    net = TunedNet({"classes": list(DOG_EMOTIONS), "first_tuned_block": settings.first_tuned_block}).to(device)
    net = net.to(memory_format=torch.channels_last)
    tuned = [parameter for name, parameter in net.named_parameters() if not net.frozen(name)]
    for name, parameter in net.named_parameters():
        parameter.requires_grad = not net.frozen(name)
    optimizer = torch.optim.AdamW(tuned, lr=learning_rate_at(0, settings.learning_rate),
                                  weight_decay=settings.weight_decay)
    best, log, started, progress, loss = (-1.0, 0, None), [], time.monotonic(), 0.0, float("nan")
    for epoch in range(1, settings.max_epochs + 1):
        net.train()
        order = torch.randperm(len(train_labels), generator=generator).to(device)
        for batch in order.split(settings.batch):
            progress = (time.monotonic() - started) / settings.fit_seconds
            if progress >= 1:
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(progress, settings.learning_rate)
            loss = _step(net, optimizer, augmented_batch(images[DogSplit.TRAIN][batch], settings, generator),
                         train_labels[batch], balance, settings)
        score = summary(splits[DogSplit.VAL][1], val_logits(net, images[DogSplit.VAL]))["macro_f1"]
        log.append({"epoch": epoch, "loss": loss, "val_macro_f1": score, "seconds": time.monotonic() - started})
        print(json.dumps(log[-1]), flush=True)
        if score > best[0]:
            best = (score, epoch, {name: value.detach().cpu().clone() for name, value in net.tuned_state().items()})
        if progress >= 1:
            break
    score, epoch, state = best
    net.load_state_dict({name: value.float() for name, value in state.items()}, strict=False)
    return net.eval(), {"kept_epoch": epoch, "val_macro_f1": score, "epochs": log}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="here: write the parts")
    packing.add_argument("--data", type=Path, required=True, help="the folder training.dogs reads")
    packing.add_argument("--cache", type=Path, default=Path(".cache/dogs"), help="training.dogs' cache")
    add_split_arguments(packing)
    packing.add_argument("--out", type=Path, default=Path(".gpu-dogs"), help="where the part-N folders go")
    packing.add_argument("--size", type=int, default=128, help="the crops' side in the pack, px")
    packing.add_argument("--quality", type=int, default=60, help="WebP quality")
    packing.add_argument("--part-mib", type=float, default=26.0, help="the largest part after the first, in MiB")
    packing.add_argument("--first-part-mib", type=float, default=9.5,
                         help="the first part, in MiB: it travels with the backbone's wheels")
    training = commands.add_parser("train", help="on the GPU machine: train one member")
    training.add_argument("--packed", type=Path, default=Path(".gpu-dogs"))
    training.add_argument("--out", type=Path, required=True, help="the member's weights file (.pt)")
    for field in ("first_tuned_block", "learning_rate", "batch", "seed", "fit_seconds", "max_epochs"):
        default = getattr(GpuTuning, field)
        training.add_argument(f"--{field.replace('_', '-')}", type=type(default), default=default)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "pack":
        for folder in pack(args.data, args.cache, args.split_file, args.out, args.size, args.quality, args.part_mib,
                           args.first_part_mib):
            print(f"{folder}: {sum(path.stat().st_size for path in folder.iterdir()) / 2**20:.1f} MiB")
        return
    settings = GpuTuning(first_tuned_block=args.first_tuned_block, learning_rate=args.learning_rate,
                         batch=args.batch, seed=args.seed, fit_seconds=args.fit_seconds, max_epochs=args.max_epochs)
    splits, _ = unpack(args.packed)  # before CUDA starts
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    print({split: len(labels) for split, (_, labels) in splits.items()}, flush=True)
    net, log = train_member(splits, settings, device)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"classes": list(DOG_EMOTIONS), "first_tuned_block": settings.first_tuned_block,
                "state": net.cpu().tuned_state(), "epochs": log["kept_epoch"], "learning_rate": settings.learning_rate,
                "trained": json.dumps({"settings": settings.__dict__, **log})}, args.out)
    print(f"kept epoch {log['kept_epoch']} (val macro-F1 {log['val_macro_f1']:.4f}); written to {args.out}")


if __name__ == "__main__":
    main()
