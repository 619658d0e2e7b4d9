"""`python -m workbench.jobs run JOB_ID`: the process of a background job (see `_runner`)."""

import sys

from workbench.jobs._runner import main

sys.exit(main())
