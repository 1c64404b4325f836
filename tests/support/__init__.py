"""Test helpers shared by the test tiers (real-component launchers and clients)."""
