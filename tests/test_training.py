"""Training code: metrics, augmentation, a tiny real run that resumes exactly, and ensembles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.classifiers import EmotionClassifier, gray_batch
from inference.emotion_net import load_weights
from inference.explain import face_parts, grad_cam_map
from inference.labels import HUMAN_EMOTIONS
from inference.dog_net import load_head, pet_emotion_net
from training import device_pack, dog_device, ensemble, evaluate, expw, face_sets, kdef, train
from training.augment import augment_batch, random_blur, random_resolution, random_tone
from training.data import folder_and_count, load_split
from training.metrics import auroc_one_vs_rest, confusion_matrix, per_class_scores, summary


def test_metrics_on_a_known_example():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([[.8, .1, .1], [.4, .5, .1], [.1, .8, .1], [.2, .7, .1], [.1, .1, .8], [.5, .2, .3]])
    matrix = confusion_matrix(labels, probabilities.argmax(1), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    scores = per_class_scores(matrix)
    np.testing.assert_allclose(scores["precision"], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(scores["recall"], [0.5, 1.0, 0.5])
    assert summary(labels, probabilities)["accuracy"] == pytest.approx(4 / 6)
    auroc = auroc_one_vs_rest(labels, probabilities)
    assert auroc[2] == pytest.approx(1.0)  # class 2's scores: .8 and .3 vs at most .1 elsewhere
    assert auroc[0] == pytest.approx(0.875)


def test_augmentation_keeps_shape_and_range_and_changes_images():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(16, 1, 48, 48)
    augmented = augment_batch(images, generator)
    assert augmented.shape == images.shape
    assert 0 <= augmented.min() and augmented.max() <= 1
    assert not torch.allclose(augmented, images)


def test_domain_shift_blurs_shrinks_and_tones_each_image_on_its_own():
    """Lower resolution, blur and tone (training/augment.py), each drawn per image: all applied change every image
    and keep the range; none applied changes nothing; a flat image stays flat under blur; the same seed repeats."""
    images = torch.rand(32, 1, 48, 48)
    for shift in (random_resolution, random_blur, random_tone):
        changed = shift(images, torch.Generator().manual_seed(0), probability=1.0)
        assert changed.shape == images.shape and 0 <= changed.min() and changed.max() <= 1
        assert ((changed - images).abs().flatten(1).amax(1) > 0.01).all(), shift.__name__
        torch.testing.assert_close(shift(images, torch.Generator().manual_seed(0), probability=0.0), images)
        torch.testing.assert_close(changed, shift(images, torch.Generator().manual_seed(0), probability=1.0))
    flat = torch.full((4, 1, 48, 48), 0.4)
    torch.testing.assert_close(random_blur(flat, torch.Generator().manual_seed(1), probability=1.0), flat)
    smooth = random_blur(images, torch.Generator().manual_seed(2), probability=1.0)
    assert smooth.diff(dim=-1).abs().mean() < 0.6 * images.diff(dim=-1).abs().mean()  # neighbours closer: a blur
    assert augment_batch(images, torch.Generator().manual_seed(3), domain_shift=True).shape == images.shape


def fake_split(root, count_per_class: int, seed: int) -> None:
    """Class-dependent patterns so that even a tiny net can learn something."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(HUMAN_EMOTIONS):
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(count_per_class):
            pixels = rng.integers(0, 60, (48, 48)).astype(np.uint8)
            pixels[:, label * 6:(label + 1) * 6] = 255
            Image.fromarray(pixels).save(folder / f"{index}.png")


def test_tiny_training_run_resumes_exactly_and_evaluates(tmp_path, capsys):
    fake_split(tmp_path / "data" / "train", 20, seed=1)
    fake_split(tmp_path / "data" / "val", 4, seed=2)
    common = ["--data", str(tmp_path / "data"), "--widths", "4,4,8,8", "--batch-size", "32", "--epochs", "2",
              "--cache", str(tmp_path / "cache")]
    train.main(common + ["--out", str(tmp_path / "straight.pt"), "--state", str(tmp_path / "a.pt")])
    train.main(common + ["--out", str(tmp_path / "resumed.pt"), "--state", str(tmp_path / "b.pt"),
                         "--max-epochs-this-run", "1"])
    train.main(common + ["--out", str(tmp_path / "resumed.pt"), "--state", str(tmp_path / "b.pt"), "--resume"])
    straight = torch.load(tmp_path / "a.pt", weights_only=False)
    resumed = torch.load(tmp_path / "b.pt", weights_only=False)
    assert straight["history"][-1]["loss"] == resumed["history"][-1]["loss"]
    for name, tensor in straight["model"].items():
        torch.testing.assert_close(tensor, resumed["model"][name])
    model, classes, metadata = load_weights(str(tmp_path / "straight.pt"))
    assert classes == HUMAN_EMOTIONS and metadata["epoch"] in (1, 2)
    capsys.readouterr()
    evaluate.main(["--data", str(tmp_path / "data"), "--weights", str(tmp_path / "straight.pt"),
                   "--plot", str(tmp_path / "cm.png"), "--json", str(tmp_path / "m.json")])
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "confusion matrix" in printed
    assert (tmp_path / "cm.png").stat().st_size > 1000
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert np.asarray(metrics["confusion"]).sum() == 28


def test_extra_crops_train_beside_the_data_set_as_often_as_asked(tmp_path, capsys):
    """--extra FOLDER:REPEAT adds class-folder crops (training.aligned_faces writes them) REPEAT times an epoch;
    --domain-shift trains through the shifted augmentation."""
    fake_split(tmp_path / "data" / "train", 10, seed=1)
    fake_split(tmp_path / "data" / "val", 2, seed=2)
    fake_split(tmp_path / "extra", 3, seed=3)
    train.main(["--data", str(tmp_path / "data"), "--widths", "4,4,8,8", "--batch-size", "16", "--epochs", "1",
                "--cache", str(tmp_path / "cache"), "--extra", f"{tmp_path / 'extra'}:4", "--domain-shift",
                "--out", str(tmp_path / "m.pt"), "--state", str(tmp_path / "s.pt")])
    printed = capsys.readouterr().out
    assert f"extra: 21 crops from {tmp_path / 'extra'}, 84 an epoch" in printed and "train 154 val 14" in printed
    images, labels = train.with_extra((np.zeros((2, 48, 48), np.uint8), np.zeros(2, np.int64)),
                                      [str(tmp_path / "extra")], HUMAN_EMOTIONS)
    assert len(images) == 2 + 21 and np.bincount(labels).tolist() == [2 + 3] + [3] * 6
    assert folder_and_count("C:/crops:3", 1) == ("C:/crops", 3) and folder_and_count("a:b", 1) == ("a:b", 1)
    for name in HUMAN_EMOTIONS[1:]:  # one class with 9 crops, the others with 1
        for extra_file in sorted((tmp_path / "extra" / name).glob("*.png"))[1:]:
            extra_file.rename(tmp_path / "extra" / "angry" / f"{name}-{extra_file.name}")
    _, labels = train.with_extra((np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64)),
                                 [f"{tmp_path / 'extra'}:2"], HUMAN_EMOTIONS, balance=True)
    assert np.bincount(labels).tolist() == [2 * 15] + [2 * 4] * 6  # sqrt(15) = 3.9 times as often, each


def test_data_packed_in_parts_for_the_gpu_machine_unpack_to_what_training_reads(tmp_path, capsys):
    """training.device_pack: FER2013 and the extra crops in parts small enough for one device call each; unpacked
    (on the GPU machine), load_split finds FER2013 without its image files and the crops come back as written."""
    fake_split(tmp_path / "fer" / "train", 6, seed=1)
    fake_split(tmp_path / "fer" / "val", 2, seed=2)
    fake_split(tmp_path / "crops", 1, seed=3)
    device_pack.main(["pack", "--data", str(tmp_path / "fer"), "--extra", f"{tmp_path / 'crops'}:3",
                      "--out", str(tmp_path / "gpu"), "--part-mib", "0.005"])
    parts = sorted((tmp_path / "gpu").glob("part-*"))
    pieces = list((tmp_path / "gpu").rglob("data.*"))
    assert len(parts) == len(pieces) > 1 and all(piece.stat().st_size <= 0.005 * 2**20 for piece in pieces)
    there = tmp_path / "there" / "fer2013"  # a --data path with no files, as on the device
    specs = device_pack.unpack(tmp_path / "gpu", there, tmp_path / "cache")
    for split in ("train", "val"):
        for packed, original in zip(load_split(there / split, HUMAN_EMOTIONS, cache_dir=tmp_path / "cache"),
                                    load_split(tmp_path / "fer" / split, HUMAN_EMOTIONS)):
            np.testing.assert_array_equal(packed, original)
    folder, repeat = folder_and_count(specs[0], 1)
    assert len(specs) == 1 and repeat == 3
    for packed, original in zip(load_split(folder, HUMAN_EMOTIONS), load_split(tmp_path / "crops", HUMAN_EMOTIONS)):
        np.testing.assert_array_equal(packed, original)
    last = tmp_path / "gpu" / f"part-{len(parts)}" / f"data.{len(parts)}"
    last.write_bytes(b"not the part")
    with pytest.raises(SystemExit, match="pack again"):
        device_pack.unpack(tmp_path / "gpu", there, tmp_path / "cache")
    last.unlink()  # a part that has not travelled yet
    with pytest.raises(SystemExit, match="parts missing"):
        device_pack.unpack(tmp_path / "gpu", there, tmp_path / "cache")


def test_fitting_the_schedule_to_a_time_budget_trains_exactly_like_the_epochs_it_chose(tmp_path, capsys):
    """--fit-seconds times the machine without touching the model, then trains as --epochs N would."""
    fake_split(tmp_path / "data" / "train", 10, seed=1)
    fake_split(tmp_path / "data" / "val", 2, seed=2)
    common = ["--data", str(tmp_path / "data"), "--widths", "4,4,8,8", "--batch-size", "16",
              "--cache", str(tmp_path / "cache")]
    train.main(common + ["--fit-seconds", "1", "--out", str(tmp_path / "fit.pt"), "--state", str(tmp_path / "a")])
    assert "epochs fit in 1.0 s" in capsys.readouterr().out
    fitted = torch.load(tmp_path / "a", weights_only=False)
    epochs = fitted["args"]["epochs"]
    assert epochs >= 1 and len(fitted["history"]) == epochs
    train.main(common + ["--epochs", str(epochs), "--out", str(tmp_path / "n.pt"), "--state", str(tmp_path / "b")])
    plain = torch.load(tmp_path / "b", weights_only=False)
    for name, tensor in fitted["model"].items():
        torch.testing.assert_close(tensor, plain["model"][name])


def test_distilling_from_an_ensemble_pulls_the_student_towards_the_teachers_outputs(tmp_path):
    """--teacher blends in the KL divergence to the teacher's outputs; --init-member starts from one member."""
    fake_split(tmp_path / "data" / "train", 10, seed=1)
    fake_split(tmp_path / "data" / "val", 2, seed=2)
    common = ["--data", str(tmp_path / "data"), "--widths", "4,4,8,8", "--batch-size", "16",
              "--cache", str(tmp_path / "c")]
    for seed in ("1", "2"):
        train.main(common + ["--epochs", "6", "--lr", "0.1", "--seed", seed, "--out", str(tmp_path / f"t{seed}.pt"),
                             "--state", str(tmp_path / f"s{seed}")])
    ensemble.main(["--data", str(tmp_path / "data"), "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "e.pt"),
                   str(tmp_path / "t1.pt"), str(tmp_path / "t2.pt")])
    second_member = train.initial_weights(str(tmp_path / "e.pt"), 1)
    for name, tensor in load_weights(str(tmp_path / "t2.pt"))[0].state_dict().items():
        torch.testing.assert_close(second_member[name], tensor)

    for name, weight in (("distilled", "1"), ("plain", "0")):
        train.main(common + ["--epochs", "12", "--lr", "0.1", "--teacher", str(tmp_path / "e.pt"),
                             "--distill-weight", weight, "--distill-temperature", "1",
                             "--out", str(tmp_path / f"{name}.pt"), "--state", str(tmp_path / f"{name}.state")])
    train_images = load_split(tmp_path / "data" / "train", HUMAN_EMOTIONS, cache_dir=tmp_path / "c")[0]
    inputs = torch.from_numpy(gray_batch(train_images))

    def divergence_from_teacher(student: str) -> float:
        with torch.inference_mode():
            teacher = load_weights(str(tmp_path / "e.pt"))[0](inputs).log_softmax(1)
            return torch.nn.functional.kl_div(load_weights(str(tmp_path / student))[0](inputs).log_softmax(1),
                                              teacher, log_target=True, reduction="batchmean").item()

    assert divergence_from_teacher("distilled.pt") < divergence_from_teacher("plain.pt") / 2


def test_the_pretrained_efficientnet_fine_tunes_and_serves_like_emotionnet(tmp_path):
    """--arch efficientnet-lite0 trains from the ImageNet weights; its file loads and classifies crops."""
    fake_split(tmp_path / "data" / "train", 8, seed=1)
    fake_split(tmp_path / "data" / "val", 2, seed=2)
    train.main(["--data", str(tmp_path / "data"), "--arch", "efficientnet-lite0", "--size", "32", "--batch-size",
                "16", "--epochs", "1", "--lr", "0.01", "--cache", str(tmp_path / "cache"),
                "--out", str(tmp_path / "efficient.pt"), "--state", str(tmp_path / "state.pt")])
    model, classes, metadata = load_weights(str(tmp_path / "efficient.pt"))
    assert type(model).__name__ == "EfficientFaceNet" and model.size == 32 and metadata["epoch"] == 1
    classifier = EmotionClassifier(tmp_path / "efficient.pt", "cpu", "torch")
    probabilities = classifier.predict(np.random.default_rng(0).integers(0, 255, (3, 48, 48), dtype=np.uint8))
    assert probabilities.shape == (3, 7) and np.allclose(probabilities.sum(1), 1)


def test_an_ensemble_of_trained_networks_averages_their_log_probabilities_and_serves_like_one(tmp_path, capsys):
    """training.ensemble writes one weights file; the app's classifier, Grad-CAM and the evaluation serve it."""
    fake_split(tmp_path / "data" / "train", 8, seed=1)
    fake_split(tmp_path / "data" / "val", 3, seed=2)
    common = ["--data", str(tmp_path / "data"), "--batch-size", "16", "--epochs", "1", "--cache", str(tmp_path / "c")]
    train.main(common + ["--widths", "4,4,8,8", "--out", str(tmp_path / "vgg.pt"), "--state", str(tmp_path / "s1")])
    train.main(common + ["--arch", "efficientnet-lite0", "--size", "32", "--lr", "0.01",
                         "--out", str(tmp_path / "eff.pt"), "--state", str(tmp_path / "s2")])
    capsys.readouterr()
    ensemble.main(["--data", str(tmp_path / "data"), "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "e.pt"),
                   str(tmp_path / "vgg.pt"), str(tmp_path / "eff.pt")])
    assert "ensemble of 2: val accuracy" in capsys.readouterr().out

    network, classes, metadata = load_weights(str(tmp_path / "e.pt"))
    assert type(network).__name__ == "EmotionEnsemble" and classes == HUMAN_EMOTIONS
    assert [member["file"] for member in metadata["members"]] == ["vgg.pt", "eff.pt"]
    crops = np.random.default_rng(0).integers(0, 255, (3, 48, 48), dtype=np.uint8)
    inputs = torch.from_numpy(gray_batch(crops))
    with torch.inference_mode():
        members = [load_weights(str(tmp_path / name))[0](inputs).log_softmax(1) for name in ("vgg.pt", "eff.pt")]
        torch.testing.assert_close(network(inputs), (members[0] + members[1]) / 2, atol=1e-3, rtol=1e-3)

    classifier = EmotionClassifier(tmp_path / "e.pt", "cpu", "torch")
    assert classifier.name == "e: vgg+efficientnet-lite0"
    assert np.allclose(classifier.predict(crops).sum(1), 1)
    networks = face_parts(network)
    assert len(networks) == 2
    saliency = grad_cam_map(networks, crops[0], target=3)
    assert saliency.shape == (48, 48) and saliency.max() == pytest.approx(1.0)


def test_the_dog_ensemble_keeps_the_combination_of_members_that_scores_best_on_val(capsys, tmp_path):
    from training.dog_ensemble import best_combination

    labels = np.array([0, 1, 2, 3] * 5)
    right = np.log(np.eye(4)[labels] * 0.7 + 0.075)  # confident and right

    def wrong_on(rows):  # right except on `rows`, where it confidently says the next class
        output = right.copy()
        output[rows] = np.roll(output[rows], 1, axis=1)
        return output
    members = [{"val": wrong_on(slice(0, 8))}, {"val": wrong_on(slice(8, 16))}, {"val": wrong_on(slice(0, 12))}]
    members[1]["val"][:8] *= 3  # the second member is sure where the first errs, and unsure where it errs itself:
    members[1]["val"][8:16] *= 0.5  # together they are right on every photo, which no other combination is
    files = [tmp_path / name for name in ("a", "b", "c")]
    for file, megabytes in zip(files, (0.3, 0.5, 0.1)):
        file.write_bytes(bytes(int(megabytes * 1e6)))
    assert best_combination(members, labels, files) == (0, 1)
    printed = capsys.readouterr().out
    assert printed.count("val macro-F1") == 7 and "a + b + c" in printed
    assert best_combination(members, labels, files, max_mb=0.7) != (0, 1)  # a + b is 0.8 MB: too large
    assert "a + b " not in capsys.readouterr().out
    with pytest.raises(SystemExit, match="max-mb"):
        best_combination(members, labels, files, max_mb=0.05)


def test_aligned_training_crops_are_the_crops_the_app_reads(tmp_path, astronaut_jpeg, capsys):
    """training.aligned_faces writes each photo's largest face as the classifier reads it in an upload (the same
    probabilities), in FER2013's layout; a photo without a face and one that does not decode are counted, not
    fatal."""
    from inference.pipeline import get_pipeline
    from training import aligned_faces

    photos = tmp_path / "faces" / "fit"
    for name, content in (("happy/astronaut.jpg", astronaut_jpeg), ("sad/blank.png", b""),
                          ("sad/broken.jpg", astronaut_jpeg[:200])):
        (photos / name).parent.mkdir(parents=True, exist_ok=True)
        (photos / name).write_bytes(content)
    aligned_faces.main(["--set", str(photos), "--out", str(tmp_path / "crops")])
    assert f"{photos}: 1 crops written, 2 photos without a face or unreadable" in capsys.readouterr().out
    crop = np.asarray(Image.open(tmp_path / "crops" / "happy" / "faces-fit-astronaut.png"))
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    pipeline = get_pipeline()
    shown = pipeline.analyze_bytes(astronaut_jpeg).detections[0].emotions
    read = pipeline.classifier.read(crop[None]).probabilities[0]
    assert np.allclose([shown[label] for label in pipeline.classifier.classes], read, atol=1e-5)


def test_face_sets_cut_calib_into_fit_and_hold_by_identity(tmp_path, capsys):
    for name, emotion in (("Ann_1.jpg", "happy"), ("Ann_2.jpg", "sad"), ("Bob_1.jpg", "happy"), ("Cy_1.jpg", "sad")):
        (tmp_path / "film" / "calib" / emotion).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "film" / "calib" / emotion / name)
    face_sets.main(["--halves", str(tmp_path / "film")])
    halves = {path.relative_to(tmp_path / "film").as_posix() for path in (tmp_path / "film").glob("[fh]*/*/*")}
    assert halves == {"fit/happy/Ann_1.jpg", "fit/sad/Ann_2.jpg", "hold/happy/Bob_1.jpg", "fit/sad/Cy_1.jpg"}
    assert "film/fit: angry 0, disgust 0, fear 0, happy 1, sad 2" in capsys.readouterr().out


def test_expw_is_laid_out_by_photo_without_near_copies_or_conflicting_labels(tmp_path, astronaut, capsys):
    repo = tmp_path / "ExpW_dataset"
    (repo / "Images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(astronaut).save(repo / "Images" / "a.jpg")
    Image.fromarray(astronaut).save(repo / "Images" / "a_copy.jpg")  # the same face, labelled alike
    Image.fromarray(astronaut[:, ::-1]).save(repo / "Images" / "b.jpg")  # labelled twice, differently
    Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(repo / "Images" / "noise.jpg")
    (repo / "label.lst").write_text("a.jpg 0 60 180 268 175 50.0 3\na_copy.jpg 0 60 180 268 175 50.0 3\n"
                                    "b.jpg 0 60 244 332 175 50.0 4\nb.jpg 1 60 244 332 175 50.0 0\n"
                                    "noise.jpg 0 50 50 150 150 9.0 6\nmissing.jpg 0 1 1 9 9 1.0 2\n")
    expw.main(["--repo", str(repo), "--out", str(tmp_path / "expw")])
    written = sorted(path.relative_to(tmp_path / "expw").as_posix() for path in (tmp_path / "expw").glob("*/*/*"))
    assert sorted(path.split("/", 1)[1] for path in written) == ["happy/a_0.png", "neutral/noise_0.png"]
    assert all(path.startswith(expw.split_of(path.split("/")[-1].rsplit("_", 1)[0] + ".jpg").value) for path in written)
    with Image.open(next(tmp_path.glob("expw/*/happy/a_0.png"))) as face:
        assert face.size == (176, 230)  # the 88 x 115 box with half of it on each side
    assert "5 faces; dropped 2 near-copies with conflicting labels and 1 repeated copies" in capsys.readouterr().out


def test_kdef_keeps_the_straight_and_half_profile_photos_and_leaves_the_black_placeholders_out(tmp_path, astronaut):
    repo = tmp_path / "KDEF" / "data"
    repo.mkdir(parents=True)
    for name in ("AF01ANS.JPG", "AF01HAHL.JPG", "bm35sahr.jpg", "AF01ANFL.JPG", "AF01SUFR.JPG", "notes.JPG"):
        Image.fromarray(astronaut).save(repo / name)
    Image.fromarray(np.zeros((76, 56, 3), np.uint8)).save(repo / "AF11NEHL.JPG")  # the release's placeholder
    counts = kdef.write_kdef(repo, tmp_path / "kdef")
    written = sorted(path.relative_to(tmp_path / "kdef").as_posix() for path in (tmp_path / "kdef").rglob("*.JPG"))
    assert written == ["test/angry/AF01ANS.JPG", "test/happy/AF01HAHL.JPG", "test/sad/BM35SAHR.JPG"]
    assert counts["placeholders left out"] == 1


def test_dog_crops_travel_small_and_a_member_trains_on_them_as_training_dogs_stores_one(tmp_path, astronaut, capsys):
    """training.dog_device: the crops are packed as small WebP files in parts (the first one smaller), unpacked to
    their labels and size; a member trains on them with augmentation made on the device and loads as the app's
    dog network."""
    random = np.random.default_rng(0)
    photo = np.asarray(Image.fromarray(astronaut).resize((224, 224)))
    crops = np.stack([np.roll(photo, int(shift), axis=1) for shift in random.integers(0, 200, 12)])
    splits = {"train": (crops[:8], np.arange(8) % 4), "val": (crops[8:], np.arange(4))}
    parts = dog_device.write_pack(splits, tmp_path / "gpu", 48, 70, part_mib=0.005, first_part_mib=0.002)
    sizes = [next(folder.glob("data.*")).stat().st_size for folder in parts]
    assert len(parts) > 2 and sizes[0] <= 0.002 * 2**20 and max(sizes) <= 0.005 * 2**20
    unpacked, manifest = dog_device.unpack(tmp_path / "gpu", workers=1)
    assert manifest["size"] == 48
    for split, (crops_there, labels_there) in unpacked.items():
        assert crops_there.shape == (len(splits[split][0]), 48, 48, 3)
        assert labels_there.tolist() == splits[split][1].tolist()
        small = np.stack([np.asarray(Image.fromarray(crop).resize((48, 48), Image.LANCZOS))
                          for crop in splits[split][0]])
        assert np.abs(crops_there.astype(int) - small).mean() < 12  # lossy, but the same photos

    images = torch.from_numpy(unpacked["train"][0]).permute(0, 3, 1, 2)
    settings = dog_device.GpuTuning(min_area=0.35)
    augmented = dog_device.augmented_batch(images, settings, torch.Generator().manual_seed(0))
    whole = dog_device.whole_crops(images)
    assert augmented.shape == whole.shape == (8, 3, 224, 224)
    assert 0 <= augmented.min() and augmented.max() <= 1 and (augmented - whole).abs().mean() > 0.05

    rates = [dog_device.learning_rate_at(progress, 1.0) for progress in (0, 0.15, 0.5, 1.0)]
    assert rates[0] == pytest.approx(0.04) and rates[1] == 1.0 and 0 < rates[2] < 1 and rates[3] == pytest.approx(0)
    out = tmp_path / "member.pt"
    dog_device.main(["train", "--packed", str(tmp_path / "gpu"), "--out", str(out), "--first-tuned-block", "14",
                     "--batch", "4", "--max-epochs", "1"])
    assert "kept epoch 1" in capsys.readouterr().out
    stored = load_head(out)
    assert stored["first_tuned_block"] == 14 and json.loads(stored["trained"])["epochs"][0]["epoch"] == 1
    net = pet_emotion_net(stored)
    with torch.inference_mode():
        probabilities = net(dog_device.normalised(whole[:2])).softmax(1)
    assert probabilities.shape == (2, 4) and torch.allclose(probabilities.sum(1), torch.ones(2))


def test_the_dog_split_is_recorded_by_name_and_read_back_whatever_the_crops(tmp_path):
    """training.dogs --new-split writes the val and test photos' names; reading them back gives the same split
    (train: every other kept photo), and a named photo that is not among the kept ones stops the run."""
    from training.dog_split import recorded_split, write_split

    paths = [Path(f"/data/{label}/{number}.jpg") for label in ("angry", "sad") for number in range(10)]
    splits = {"train": np.arange(2, 18), "val": np.array([0, 19]), "test": np.array([1, 18])}
    write_split(paths, splits, tmp_path / "split.json", seed=7)
    recorded = json.loads((tmp_path / "split.json").read_text())
    assert recorded["val"] == ["angry/0.jpg", "sad/9.jpg"] and recorded["seed"] == 7
    read = recorded_split(list(reversed(paths)), tmp_path / "split.json")  # another order: the same photos
    assert sorted(str(list(reversed(paths))[i]) for i in read["test"]) == ["/data/angry/1.jpg", "/data/sad/8.jpg"]
    assert len(read["train"]) == 16 and not set(read["train"]) & (set(read["val"]) | set(read["test"]))
    with pytest.raises(SystemExit, match="not among the kept photos"):
        recorded_split(paths[1:], tmp_path / "split.json")


def test_a_dog_ensemble_with_a_member_tuned_from_the_first_block_reads_each_member_as_it_reads_alone():
    """PetEnsemble shares only the blocks every member keeps frozen: with a member tuned from block 0 that is the
    stem alone, and each member then runs its own blocks 0-15 (block 0 is a block, not "the default")."""
    from inference.dog_net import PetEnsemble, TunedNet

    torch.manual_seed(0)
    members = [TunedNet({"classes": ["angry", "happy", "relaxed", "sad"], "first_tuned_block": block})
               for block in (0, 8, 12)]
    with torch.no_grad():
        members[0].backbone._blocks[3]._project_conv.weight.mul_(1.5)  # tuned in member 0 only
    images = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        alone = torch.stack([member(images).log_softmax(1) for member in members])
        together = PetEnsemble(members).member_log_probabilities(images)
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
