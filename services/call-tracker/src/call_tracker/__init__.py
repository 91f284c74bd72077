"""call-tracker: calls out of raw AMI events."""
