"""The callbridge command-line interface."""
