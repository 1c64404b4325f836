"""Tests of the `collector` package (the folder is not named `collector`, so it cannot shadow it)."""
