"""The figures the "About the models" page quotes, read from the files that hold them: the model cards
(inference/weights/README.md, written with each training or benchmark run) and the calibration files beside the
weights. A new model with a new card changes the page; a card the reader no longer understands raises
ValueError (tests/test_pages.py reads the shipped one)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from inference.calibration import calibration_path
from inference.specs import DOG_HEAD_WEIGHTS, HUMAN_WEIGHTS, WEIGHTS_DIR

MODEL_CARDS = WEIGHTS_DIR / "README.md"


@dataclass(frozen=True)
class ModelFigures:
    """Shares are fractions (0.72), counts are numbers of photos."""

    face_train_photos: int
    face_val_photos: int
    face_accuracy: float
    face_recall: dict[str, float]  # per expression, on the validation faces
    face_calibration_error: tuple[float, float]  # smallest and largest ECE after calibration, over its sets
    face_unsure: dict[str, float]  # share of faces called "unsure" on photos unlike FER2013: news, film, web (ExpW)
    face_confident_accuracy: tuple[float, float]  # lowest and highest accuracy of the rest, over those sets
    dog_train_photos: int
    dog_test_photos: int
    dog_accuracy: float
    dog_calibration_error: float  # test ECE after calibration
    pet_photos: int
    pet_recall: float  # the app's detector with its species check
    pet_precision: float
    pet_false_alarms: int  # boxes drawn on photos without animals ("0 false alarms in 7" on the card)
    pet_animal_free_photos: int
    explained_faces: int
    occlusion_beats_random: float  # share of faces where the occlusion map beats a random ranking
    identity_named_photos: int  # photos of each person named in the simulated histories
    identity_precision: float  # share of "Looks like ..." suggestions that were right
    identity_coverage: float  # share of the named people's other faces that got a suggestion


def _section(card: str, weights_name: str) -> str:
    """The card's section whose heading starts with `weights_name` (up to the next "## " heading)."""
    match = re.search(rf"^## {re.escape(weights_name)}.*?(?=^## |\Z)", card, re.M | re.S)
    if match is None:
        raise ValueError(f"The model cards have no section for {weights_name}.")
    return match.group(0)


def _found(pattern: str, text: str, what: str) -> re.Match:
    match = re.search(pattern, text, re.S)
    if match is None:
        raise ValueError(f"The model cards do not say {what}.")
    return match


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _cells(line: str) -> list[str]:
    return [cell.strip(" *") for cell in line.strip().strip("|").split("|")]


def _table(text: str, header: str) -> dict[str, dict[str, str]]:
    """The first Markdown table whose header row starts with `header`: each row's cells by column name, keyed
    by its first cell."""
    lines = text[_found(re.escape(header), text, f"the table '{header}'").start():].splitlines()
    names = _cells(lines[0])
    rows = {}
    for line in lines[2:]:  # below the header and the --- row
        if not line.startswith("|"):
            break
        cells = _cells(line)
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def _calibration(weights: Path) -> dict:
    return json.loads(calibration_path(weights).read_text(encoding="utf-8"))


def _face_figures(card: str) -> dict:
    section = _section(card, HUMAN_WEIGHTS.name)
    data = _found(r"`train/` \(([\d,]+) images\).*?`val/` \(([\d,]+)", section, "the face data's size")
    classes = _table(section, "| class | precision | recall |")
    errors = [figures["ece_after"] for figures in _calibration(HUMAN_WEIGHTS)["per_set"].values()]
    unsure = _found(r"(\d+)% of news faces are called unsure\s+\(accuracy of the rest ([\d.]+)\), (\d+)% of film's "
                    r"\(([\d.]+)\) and (\d+)% of ExpW's \(([\d.]+)\)", section, "how often faces are called unsure")
    confident = [float(unsure.group(group)) for group in (2, 4, 6)]
    return {
        "face_train_photos": _count(data.group(1)), "face_val_photos": _count(data.group(2)),
        "face_accuracy": float(_found(r"Committed weights.*?\*\*accuracy ([\d.]+)", section,
                                      "the face model's accuracy").group(1)),
        "face_recall": {label: float(row["recall"]) for label, row in classes.items()},
        "face_calibration_error": (min(errors), max(errors)),
        "face_unsure": {source: int(unsure.group(group)) / 100
                        for source, group in (("news", 1), ("film", 3), ("web", 5))},
        "face_confident_accuracy": (min(confident), max(confident)),
    }


def _dog_figures(card: str) -> dict:
    section = _section(card, DOG_HEAD_WEIGHTS.name)
    split = _found(r"([\d,]+) train, [\d,]+ val,\s+([\d,]+) test", section, "the dog data's split")
    test = _found(r"\*\*Test split\*\* \(([\d,]+) photos(?:[^)]*?scored on the ([\d,]+))?.*?accuracy ([\d.]+)",
                  section, "the dog model's accuracy")
    if _count(test.group(1)) != _count(split.group(2)):
        raise ValueError("The dog model card's test split and its test figures disagree.")
    return {"dog_train_photos": _count(split.group(1)), "dog_test_photos": _count(test.group(2) or test.group(1)),
            "dog_accuracy": float(test.group(3)),
            "dog_calibration_error": float(_calibration(DOG_HEAD_WEIGHTS)["test_ece_after"])}


def _pet_detector_figures(card: str) -> dict:
    section = _section(card, "ssd_mobilenet_v2_coco/")
    app_row = _table(section, "| pets found by |").get("the SSD + species check (the app)")
    if app_row is None:
        raise ValueError("The pet detector's card has no row for the app.")
    false_alarms = _found(r"([\d,]+) false alarms? in ([\d,]+)", app_row["animal-free photos"],
                          "the pet detector's false alarms")
    return {"pet_photos": _count(_found(r"On the ([\d,]+)-photo", section, "the pet sample's size").group(1)),
            "pet_recall": float(app_row["recall (cats, dogs)"].split()[0]),
            "pet_precision": float(app_row["precision"]), "pet_false_alarms": _count(false_alarms.group(1)),
            "pet_animal_free_photos": _count(false_alarms.group(2))}


def _explanation_figures(card: str) -> dict:
    section = _section(card, "Explanations")
    occlusion = _table(section, "| method | deletion AUC |")["occlusion"]["beats a random ranking on"]
    return {"explained_faces": int(_found(r"--images (\d+)", section, "how many faces were explained").group(1)),
            "occlusion_beats_random": float(occlusion.split("%")[0]) / 100}


def _identity_figures(card: str) -> dict:
    section = _section(card, "Face signatures")
    suggestions = _found(r"first (\d+) photos named.*?suggestions are right ([\d.]+)% of the time.*?for ([\d.]+)% of "
                         r"the\s+followed", section, "how often face suggestions are right")
    return {"identity_named_photos": int(suggestions.group(1)),
            "identity_precision": float(suggestions.group(2)) / 100,
            "identity_coverage": float(suggestions.group(3)) / 100}


def model_figures() -> ModelFigures:
    """The figures as the model cards and calibration files say them now (read on each call: they are small);
    ValueError if the card's wording changed beyond what this reader understands."""
    card = MODEL_CARDS.read_text(encoding="utf-8")
    return ModelFigures(**_face_figures(card), **_dog_figures(card), **_pet_detector_figures(card),
                        **_explanation_figures(card), **_identity_figures(card))
