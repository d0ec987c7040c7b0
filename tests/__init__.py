"""The test suite: `scripts/test.sh` runs it all (README, "Two commands")."""
