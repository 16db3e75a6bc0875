"""`python -m glimmr_dagster.sandbox`: run the bundled PRA sandbox."""

import sys

from .cli import main

sys.exit(main())
