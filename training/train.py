"""Train the emotion classifier on an image-folder data set (FER2013 layout).

    python -m training.train --data ../shared/datasets/fer2013 --out inference/weights/emotion_fer2013.pt

Fixed seed, batched augmentation (flip, affine, erasing; --domain-shift adds
lower resolution, blur, gamma, contrast and noise), label-smoothed
cross-entropy (optionally class-weighted), SGD with a one-cycle schedule,
bfloat16 autocast on CPUs that support it, best weights by val macro-F1.
The full training state is written after every epoch to --state, and
`--resume` continues from it exactly where it stopped. --extra FOLDER[:REPEAT]
adds crops in class folders (python -m training.aligned_faces cuts them from
labelled photos as the app does), each seen REPEAT times an epoch.

With --teacher, the loss also matches a trained network's outputs (knowledge
distillation, Hinton et al. 2015): the teacher sees the same augmented batch,
and the KL divergence of the temperature-softened outputs (times T squared) is
blended with the cross-entropy by --distill-weight. --init with --init-member
starts from one member of an ensemble file.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from inference.backends import TorchRunner
from inference.calibration import softmax
from inference.classifiers import gray_batch, mirror_averaged
from inference.emotion_net import (TRAINED_ARCHITECTURES, Architecture, build_network, load_weights, normalize,
                                   save_weights)
from inference.labels import HUMAN_EMOTIONS
from training.augment import augment_batch
from training.data import folder_and_count, load_split
from training.metrics import summary

PROBE_WARMUP_STEPS, PROBE_TIMED_STEPS = 10, 40


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with train/ and val/ class sub-folders")
    parser.add_argument("--out", required=True, help="where to write the best inference weights (.pt)")
    parser.add_argument("--state", default=str(Path.home() / ".cache/moodlens/train-state.pt"),
                        help="resumable training state file")
    parser.add_argument("--resume", action="store_true", help="continue from --state")
    parser.add_argument("--init", help="start from these inference weights (fine-tune / warm restart)")
    parser.add_argument("--init-member", type=int, help="--init is an ensemble: start from its member K (from 0)")
    parser.add_argument("--teacher", help="inference weights (a network or an ensemble) to distil from")
    parser.add_argument("--distill-weight", type=float, default=0.9,
                        help="with --teacher: the distillation term's share of the loss (the rest: cross-entropy)")
    parser.add_argument("--distill-temperature", type=float, default=4.0, help="with --teacher: softening temperature")
    parser.add_argument("--cache", default=".cache/data", help="folder for decoded data-set arrays")
    parser.add_argument("--extra", action="append", default=[], metavar="FOLDER[:REPEAT]",
                        help="more training crops in class sub-folders (python -m training.aligned_faces writes "
                             "them), each seen REPEAT times an epoch (default 1); repeatable")
    parser.add_argument("--extra-balance", action="store_true",
                        help="repeat the --extra crops of rarer classes more (sqrt of the imbalance, at most 4x)")
    parser.add_argument("--domain-shift", action="store_true",
                        help="augment with lower resolution, blur, gamma, contrast and noise (training/augment.py)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--class-weight", choices=("none", "sqrt"), default="none")
    parser.add_argument("--arch", choices=[arch.value for arch in TRAINED_ARCHITECTURES],
                        default=Architecture.VGG.value,
                        help="vgg: EmotionNet from scratch; efficientnet-lite0: fine-tune the ImageNet network")
    parser.add_argument("--widths", default="64,128,256,512", help="vgg: channels of the four conv stages")
    parser.add_argument("--size", type=int, default=64, help="efficientnet-lite0: the crops' upscaled size")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--max-epochs-this-run", type=int, default=0, help="stop after this many epochs (0: all)")
    parser.add_argument("--fit-seconds", type=float, default=0,
                        help="set --epochs to what fits in this many seconds, timed on this machine (a lent GPU); "
                             "the epochs chosen are printed and saved with the weights, so --epochs reproduces it")
    return parser.parse_args(argv)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def class_weights(labels: np.ndarray, mode: str, num_classes: int) -> torch.Tensor | None:
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    weights = 1.0 / np.sqrt(counts)
    return torch.tensor(weights / weights.mean() , dtype=torch.float32)


def to_float_batch(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W) -> float (N, 1, H, W) in [0, 1]."""
    return torch.from_numpy(images).to(device).unsqueeze(1).float().div_(255)


def evaluate_split(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, device: torch.device,
                   use_bf16: bool, batch_size: int = 512) -> dict[str, float]:
    """Val scores with flip TTA, through the same pre-processing and averaging as the app's classifier."""
    runner = TorchRunner(model, device.type)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
        logits = np.concatenate([mirror_averaged(runner, gray_batch(images[start:start + batch_size]))
                                 for start in range(0, len(images), batch_size)])
    return summary(labels, softmax(logits))


class TrainingLoss:
    """Label-smoothed (optionally class-weighted) cross-entropy, blended with distillation when a teacher is
    given: the teacher runs on the same augmented batch, in eval mode and without gradients."""

    def __init__(self, args: argparse.Namespace, class_weight: torch.Tensor | None,
                 teacher: torch.nn.Module | None = None):
        self.label_smoothing, self.class_weight, self.teacher = args.label_smoothing, class_weight, teacher
        self.distill_weight, self.temperature = args.distill_weight, args.distill_temperature

    def __call__(self, logits: torch.Tensor, batch: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        hard = F.cross_entropy(logits.float(), target, weight=self.class_weight, label_smoothing=self.label_smoothing)
        if self.teacher is None:
            return hard
        with torch.no_grad():
            teacher_logits = self.teacher(batch).float()
        soft = F.kl_div((logits.float() / self.temperature).log_softmax(1),
                        (teacher_logits / self.temperature).log_softmax(1), log_target=True, reduction="batchmean")
        return self.distill_weight * soft * self.temperature ** 2 + (1 - self.distill_weight) * hard


@dataclass
class Run:
    """What every training step needs besides the batch: the network, its loss, where it runs, the options."""

    model: torch.nn.Module
    loss_fn: TrainingLoss
    device: torch.device
    use_bf16: bool
    args: argparse.Namespace


def train_step(run: Run, optimizer: torch.optim.Optimizer, images: np.ndarray, labels: np.ndarray,
               generator: torch.Generator) -> float:
    """One optimiser step on one batch (augmented on the device); the batch's loss."""
    batch = augment_batch(to_float_batch(images, run.device), generator, run.args.domain_shift)
    batch = normalize(batch).contiguous(memory_format=torch.channels_last)
    target = torch.from_numpy(labels).to(run.device)
    with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.use_bf16):
        loss = run.loss_fn(run.model(batch), batch, target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_one_epoch(run: Run, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                    train: tuple[np.ndarray, np.ndarray], generator: torch.Generator) -> float:
    """One pass over the training crops in a random order; the mean batch loss."""
    images, labels = train
    run.model.train()
    order = torch.randperm(len(images), generator=generator).numpy()
    batch_size = run.args.batch_size
    batches = range(0, len(order) - batch_size + 1, batch_size)
    total_loss = 0.0
    progress = tqdm(batches, desc="train", leave=False, mininterval=5)
    for start in progress:
        index = order[start:start + batch_size]
        loss = train_step(run, optimizer, images[index], labels[index], generator)
        scheduler.step()
        total_loss += loss
        progress.set_postfix(loss=f"{loss:.3f}", refresh=False)
    return total_loss / max(1, len(batches))


def epochs_that_fit(run: Run, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray]) -> int:
    """How many epochs fit in --fit-seconds: time training steps (at learning rate 0, so the weights stay) and
    one val pass, then restore the model as it was (batch-norm statistics included)."""
    images, labels = train
    batch_size = run.args.batch_size
    saved = copy.deepcopy(run.model.state_dict())
    probe_optimizer = torch.optim.SGD(run.model.parameters(), lr=0.0)
    probe_generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():  # dropout's draws here must not shift the real run's
        run.model.train()
        for step in range(PROBE_WARMUP_STEPS + PROBE_TIMED_STEPS):
            if step == PROBE_WARMUP_STEPS:
                began = time.perf_counter()
            index = np.arange(step * batch_size, (step + 1) * batch_size) % len(images)
            train_step(run, probe_optimizer, images[index], labels[index], probe_generator)
        step_seconds = (time.perf_counter() - began) / PROBE_TIMED_STEPS
        began = time.perf_counter()
        evaluate_split(run.model, *val, run.device, run.use_bf16)
        epoch_seconds = step_seconds * (len(images) // batch_size) + time.perf_counter() - began
    run.model.load_state_dict(saved)
    epochs = max(1, int(run.args.fit_seconds / epoch_seconds))
    print(f"about {epoch_seconds:.1f} s per epoch: {epochs} epochs fit in {run.args.fit_seconds} s", flush=True)
    return epochs


def with_extra(train: tuple[np.ndarray, np.ndarray], extra: list[str], classes: tuple[str, ...],
               balance: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The training crops and labels with each --extra FOLDER[:REPEAT]'s crops added REPEAT times; with `balance`
    a class with fewer crops is repeated more: REPEAT x sqrt(largest class / its count), at most 4 x REPEAT."""
    images, labels = [train[0]], [train[1]]
    for spec in extra:
        folder, repeat = folder_and_count(spec, 1)
        more_images, more_labels = load_split(folder, classes)  # not cached: training.aligned_faces may rewrite it
        counts = np.bincount(more_labels, minlength=len(classes))
        factor = np.minimum(np.sqrt(counts.max() / np.maximum(counts, 1)), 4) if balance else np.ones(len(classes))
        times = np.round(repeat * factor).astype(int)[more_labels]
        images.append(np.repeat(more_images, times, axis=0))
        labels.append(np.repeat(more_labels, times))
        print(f"extra: {len(more_labels)} crops from {folder}, {len(labels[-1])} an epoch", flush=True)
    return np.concatenate(images), np.concatenate(labels)


def initial_weights(path: str, member: int | None) -> dict[str, torch.Tensor]:
    """The state dict to start from: a weights file's network, or member K of an ensemble file."""
    network = load_weights(path)[0]
    return (network if member is None else network.members[member]).state_dict()


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and "avx512_bf16" in Path("/proc/cpuinfo").read_text()


def new_run(args: argparse.Namespace, train_labels: np.ndarray, classes: tuple[str, ...]) -> Run:
    """The network (from --init, or new), its loss (class weights, a --teacher to distil from) and the device."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = device.type == "cuda"
    model = build_network({"arch": args.arch, "widths": [int(w) for w in args.widths.split(",")], "size": args.size},
                          len(classes))
    if args.init:
        model.load_state_dict(initial_weights(args.init, args.init_member))
    model = model.to(device).to(memory_format=torch.channels_last)
    loss_weights = class_weights(train_labels, args.class_weight, len(classes))
    teacher = load_weights(args.teacher, device)[0].to(memory_format=torch.channels_last) if args.teacher else None
    loss_fn = TrainingLoss(args, None if loss_weights is None else loss_weights.to(device), teacher)
    return Run(model, loss_fn, device, bf16_supported(device), args)


def resume_state(path: Path, run: Run, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, generator: torch.Generator) -> tuple[int, dict, list]:
    """Load a checkpoint into the run, optimiser, schedule and random state; its epoch, best record and history."""
    state = torch.load(path, map_location=run.device, weights_only=False)
    run.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    print(f"resumed at epoch {state['epoch']}, best so far {state['best']}", flush=True)
    return state["epoch"], state["best"], state["history"]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    generator = seed_everything(args.seed)
    classes = HUMAN_EMOTIONS
    data_dir = Path(args.data)
    train = with_extra(load_split(data_dir / "train", classes, cache_dir=args.cache), args.extra, classes,
                       args.extra_balance)
    val = load_split(data_dir / "val", classes, cache_dir=args.cache)
    run = new_run(args, train[1], classes)
    print(f"train {len(train[0])} val {len(val[0])} device {run.device} bf16 {run.use_bf16}", flush=True)
    if args.fit_seconds and not args.resume:
        args.epochs = epochs_that_fit(run, train, val)
    optimizer = torch.optim.SGD(run.model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                    steps_per_epoch=len(train[0]) // args.batch_size, pct_start=0.2)
    state_path = Path(args.state)
    start_epoch, best, history = (resume_state(state_path, run, optimizer, scheduler, generator) if args.resume
                                  else (0, {"macro_f1": -1.0}, []))
    last_epoch = (args.epochs if not args.max_epochs_this_run
                  else min(args.epochs, start_epoch + args.max_epochs_this_run))
    for epoch in range(start_epoch, last_epoch):
        began = time.time()
        loss = train_one_epoch(run, optimizer, scheduler, train, generator)
        scores = evaluate_split(run.model, *val, run.device, run.use_bf16)
        record = {"epoch": epoch + 1, "loss": round(loss, 4), **{k: round(v, 4) for k, v in scores.items()},
                  "seconds": round(time.time() - began, 1)}
        history.append(record)
        print(json.dumps(record), flush=True)
        if scores["macro_f1"] > best["macro_f1"]:
            best = record
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            save_weights(run.model, args.out, classes, {
                "data": str(data_dir), "epoch": epoch + 1, "val": scores, "args": vars(args),
                "trained_on": date.today().isoformat(),
            })
        state_path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": run.model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(), "epoch": epoch + 1, "best": best,
                    "history": history, "args": vars(args)}, state_path)
    print(f"best: {json.dumps(best)}", flush=True)


if __name__ == "__main__":
    main()
