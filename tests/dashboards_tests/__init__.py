"""Tests of the `dashboards` package (the folder is not named `dashboards`, so it cannot shadow it)."""
