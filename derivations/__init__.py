"""The lecture derivations, transcribed literally (see README.md)."""
