"""`python -m nanoflux ...`: the `nanoflux` command, for an environment whose scripts are not on PATH."""

from nanoflux.cli import main

main()
