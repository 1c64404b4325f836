"""The end-to-end demo (issue 8)."""
