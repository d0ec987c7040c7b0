"""The analysis pipeline, without Flask: decoding, detectors, alignment, classifiers, calibration, video."""
