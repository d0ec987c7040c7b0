"""Fine-tuning of the dog-emotion network (training/dogs.py --tune-from N): EfficientNet-Lite0's blocks from N on,
its head convolution and a new linear layer (inference.dog_net.TunedNet) learn from the app's crops.

EfficientNet-Lite0's blocks 0-11 run once per crop and its mirror image; their output (192 x 7 x 7, float16) is
cached, so an epoch runs only blocks 12-15 (the frozen ones among them without gradients) and the
head. Training: class-balanced cross-entropy with label smoothing, dropout before the linear layer, AdamW with
a one-cycle schedule, a random mirror per photo and epoch, a checkpoint per epoch (an interrupted run
resumes), and the epoch with the best val macro-F1 is kept. With `augment`, training reads pixels instead: each
photo's crop, randomly resized, re-coloured and mirrored each epoch, through blocks 0-11 (frozen, in eval mode)
and on; val is read from the cached activations as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from tqdm import tqdm

from inference.backbone import PooledFeatures
from inference.calibration import softmax
from inference.dog_emotion import imagenet_batch
from inference.dog_net import TunedNet
from inference.specs import PET_INPUT_SIZE
from training.dog_split import DogSplit
from training.learning import LearningSettings
from training.metrics import summary


CACHED_BLOCKS = 12  # blocks 0-11: the 14 x 14 stages and the first 7 x 7 block
TUNABLE_BLOCKS = range(CACHED_BLOCKS, 16)
AUGMENT = v2.Compose([v2.RandomResizedCrop(PET_INPUT_SIZE, scale=(0.5, 1.0), antialias=True), v2.RandomHorizontalFlip(),
                      v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03)])


@dataclass(frozen=True)
class TuningSettings(LearningSettings):
    """How the tuned part learns on the CPU, from cached activations."""

    epochs: int = 8
    augment: bool = False  # pixel augmentation (slow: the frozen blocks run on every batch)


def crop_and_mirror_outputs(network_part: Callable[[torch.Tensor], torch.Tensor], crops: np.ndarray, cache: Path,
                            kind: str, batch: int = 32) -> np.ndarray:
    """`network_part`'s output (a function of an ImageNet-normalised batch) for each crop and its mirror image,
    (N, 2, ...) float16, cached as <kind>-<key of the crops' bytes>.npy."""
    digest = hashlib.sha1(crops.tobytes()).hexdigest()[:16]
    path = cache / f"{kind}-{digest}.npy"
    if path.exists():
        return np.load(path)
    parts = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(crops), batch), desc=kind, mininterval=30):
            part = crops[start:start + batch]
            both = imagenet_batch(np.concatenate([part, np.ascontiguousarray(part[:, :, ::-1])]))
            output = network_part(torch.from_numpy(both)).half().numpy()
            parts.append(np.stack([output[:len(part)], output[len(part):]], 1))
    outputs = np.concatenate(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, outputs)
    return outputs


def frozen_activations(net: TunedNet, crops: np.ndarray, cache: Path) -> np.ndarray:
    """The output of blocks 0-11 for each crop and its mirror image, (N, 2, 192, 7, 7) float16, cached."""
    return crop_and_mirror_outputs(lambda images: net.frozen_part(images, CACHED_BLOCKS), crops, cache,
                                   f"activations-blocks{CACHED_BLOCKS}")


def pooled_features(crops: np.ndarray, cache: Path) -> np.ndarray:
    """The frozen EfficientNet-Lite0's pooled features of each crop and its mirror image, (N, 2, 1280) float16,
    cached."""
    return crop_and_mirror_outputs(PooledFeatures().eval(), crops, cache, "pooled")


def tuned_logits(net: TunedNet, activations: np.ndarray, batch: int = 256) -> np.ndarray:
    """Logits of the crops as they are (not mirrored), in eval mode: what the app computes."""
    net.eval()
    with torch.inference_mode():
        return np.concatenate([_logits(net, torch.from_numpy(activations[i:i + batch, 0]).float()).numpy()
                               for i in range(0, len(activations), batch)])


def _logits(net: TunedNet, activations: torch.Tensor) -> torch.Tensor:
    """Logits from cached activations: the frozen blocks after block 11, then the tuned part."""
    return net.classify(net.map_from(activations, start=CACHED_BLOCKS))


def _balance(labels: np.ndarray, classes: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=classes)
    return torch.tensor(counts.sum() / (classes * np.maximum(counts, 1)), dtype=torch.float32)


def augmented_activations(net: TunedNet, crops: np.ndarray) -> torch.Tensor:
    """Blocks 0-11's output for a randomly resized, re-coloured and mirrored copy of each uint8 RGB crop."""
    images = torch.from_numpy(crops).permute(0, 3, 1, 2)
    augmented = torch.stack([AUGMENT(image) for image in images]).permute(0, 2, 3, 1).numpy()
    with torch.no_grad():
        return net.frozen_part(torch.from_numpy(imagenet_batch(augmented)), CACHED_BLOCKS)


def _train_epoch(net: TunedNet, optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LRScheduler,
                 train: np.ndarray, labels: np.ndarray, settings: TuningSettings, random: np.random.Generator) -> float:
    """One epoch over `train`: cached activations (N, 2, ...) of each crop and its mirror image, or with
    `settings.augment` the crops themselves (N, 224, 224, 3)."""
    net.train()
    targets, balance = torch.from_numpy(labels).long(), _balance(labels, net.head.out_features)
    loss = torch.zeros(())
    batches = np.array_split(random.permutation(len(labels)), -(-len(labels) // settings.batch))
    for batch in tqdm(batches, desc="epoch", mininterval=60, disable=not settings.augment):
        mirrors = random.integers(0, 2, len(batch))
        inputs = (augmented_activations(net, train[batch]) if settings.augment
                  else torch.from_numpy(train[batch, mirrors]).float())
        logits = _logits(net, inputs)
        loss = F.cross_entropy(logits, targets[batch], weight=balance, label_smoothing=settings.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return loss.item()


def fine_tune(net: TunedNet, activations: dict[str, np.ndarray], targets: dict[str, np.ndarray],
              settings: TuningSettings, checkpoint: Path, train_crops: np.ndarray | None = None) -> TunedNet:
    """Train the tuned part on the cached activations of the train split (with `settings.augment`: on
    `train_crops`), choose the epoch by macro-F1 on val; resumes from `checkpoint` (one per run, rewritten after
    each epoch)."""
    tuned = [parameter for name, parameter in net.named_parameters() if not net.frozen(name)]
    for name, parameter in net.named_parameters():
        parameter.requires_grad = not net.frozen(name)
    optimizer = torch.optim.AdamW(tuned, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    steps = settings.epochs * -(-len(targets[DogSplit.TRAIN]) // settings.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.learning_rate, total_steps=steps,
                                                   pct_start=0.15)
    state = {"epoch": 0, "best": (-1.0, 0, None)}
    torch.manual_seed(settings.seed)
    net.head.reset_parameters()  # the same start whatever ran before (a resumed run loads its own below)
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        print(f"resumed after epoch {state['epoch']}")
    for epoch in range(state["epoch"] + 1, settings.epochs + 1):
        random = np.random.default_rng(settings.seed + epoch)
        torch.manual_seed(settings.seed + epoch)  # dropout: a resumed run draws what an uninterrupted one draws
        train = train_crops if settings.augment else activations[DogSplit.TRAIN]
        loss = _train_epoch(net, optimizer, schedule, train, targets[DogSplit.TRAIN], settings, random)
        score = summary(targets[DogSplit.VAL], softmax(tuned_logits(net, activations[DogSplit.VAL])))["macro_f1"]
        print(f"epoch {epoch}: last batch loss {loss:.3f}, val macro-F1 {score:.4f}", flush=True)
        best = (score, epoch, net.tuned_state()) if score > state["best"][0] else state["best"]
        state = {"epoch": epoch, "best": best, "net": net.state_dict(), "optimizer": optimizer.state_dict(),
                 "schedule": schedule.state_dict()}
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, checkpoint)
    score, epoch, tuned_state = state["best"]
    print(f"kept epoch {epoch} (val macro-F1 {score:.4f})")
    net.load_state_dict({name: value.float() for name, value in tuned_state.items()}, strict=False)
    return net.eval()
