import sys

from riskml.cli import main

sys.exit(main())
