"""Training, calibration, evaluation and export CLIs, without Flask: `python -m training.NAME`."""
