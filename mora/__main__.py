"""`python -m mora` runs the command line."""

from mora.main import main

main()
