"""`python -m alphaquant`: the same command line as the `alphaquant` script."""

from alphaquant.cli import main

if __name__ == "__main__":
    main()
