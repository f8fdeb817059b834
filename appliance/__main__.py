"""`python -m appliance` is the `lightbox` command."""

import sys

from appliance.cli import main

sys.exit(main())
